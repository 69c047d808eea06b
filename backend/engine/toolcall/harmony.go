package toolcall

import "strings"

// OpenAI's harmony format (gpt-oss). Every message of the answer is
// <|start|>ROLE HEADER<|message|>BODY followed by <|end|>, <|return|> (the
// answer is over) or <|call|> (a tool call, the turn is over). The header
// names the channel and, for a tool call, the recipient:
//
//	<|channel|>analysis<|message|>reasoning<|end|>
//	<|start|>assistant<|channel|>final<|message|>answer<|return|>
//	<|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json<|message|>{"city":"Paris"}<|call|>
//
// (the recipient may also follow the channel: "<|channel|>commentary
// to=functions.get_weather"). The generation prompt ends with
// "<|start|>assistant", so the answer starts inside the first header.
const (
	hStart     = "<|start|>"
	hChannel   = "<|channel|>"
	hMessage   = "<|message|>"
	hEnd       = "<|end|>"
	hReturn    = "<|return|>"
	hCall      = "<|call|>"
	hConstrain = "<|constrain|>"
)

// headerLimit bounds a header: a longer one is not harmony markup, and what
// was held is given back as text.
const headerLimit = 256

// hState is where in a harmony answer the parser is.
type hState int

const (
	hHeader  hState = iota // between <|start|> (or the answer's start) and <|message|>
	hBody                  // a message's body
	hBetween               // after <|end|>: waiting for the next <|start|>
	hPlain                 // not harmony: the rest is text
)

// harmony splits a gpt-oss answer: the analysis channel is reasoning, the
// final channel (and commentary without a recipient, the model's preambles)
// is text, a message to functions.NAME is a call.
type harmony struct {
	state     hState
	held      string
	channel   string // of the current message
	recipient string // of the current message, "" for none
}

var bodyEnds = []string{hEnd, hReturn, hCall, hStart}

func (h *harmony) add(text string) []Part {
	h.held += text
	var out []Part
	for {
		parts, progressed := h.step()
		out = append(out, parts...)
		if !progressed {
			return out
		}
	}
}

func (h *harmony) step() ([]Part, bool) {
	switch h.state {
	case hHeader:
		return h.header()
	case hBody:
		return h.body()
	case hBetween:
		return h.between()
	}
	release := h.held
	h.held = ""
	return nonEmpty(Part{Kind: Text, Text: release}), false
}

// header waits for <|message|> and reads the channel and recipient.
func (h *harmony) header() ([]Part, bool) {
	i := strings.Index(h.held, hMessage)
	if i < 0 {
		if len(h.held) > headerLimit || !headerLike(h.held) {
			h.state = hPlain
			return nil, true
		}
		return nil, false
	}
	head := h.held[:i]
	if !headerLike(head) {
		h.state = hPlain
		return nil, true
	}
	h.channel, h.recipient = parseHeader(head)
	h.held, h.state = h.held[i+len(hMessage):], hBody
	return nil, true
}

// headerLike reports whether s can be (the start of) a message header:
// markers, the role, a recipient and a content type, on one line.
func headerLike(s string) bool {
	if strings.ContainsAny(s, "\n{") {
		return false
	}
	t := strings.TrimLeft(s, " ")
	for _, start := range []string{hChannel, hStart, hConstrain, "assistant", "to="} {
		if strings.HasPrefix(t, start) || strings.HasPrefix(start, t) {
			return true
		}
	}
	return false
}

// parseHeader reads "assistant to=functions.f<|channel|>commentary
// <|constrain|>json" (in any order) into its channel and recipient.
func parseHeader(head string) (channel, recipient string) {
	word := func(s string) string {
		s = strings.TrimLeft(s, " ")
		if j := strings.IndexAny(s, " <"); j >= 0 {
			s = s[:j]
		}
		return s
	}
	if i := strings.Index(head, hChannel); i >= 0 {
		channel = word(head[i+len(hChannel):])
	}
	if i := strings.Index(head, "to="); i >= 0 {
		recipient = word(head[i+len("to="):])
	}
	return channel, recipient
}

// body streams the message's text as its channel says, and reads a call
// whole.
func (h *harmony) body() ([]Part, bool) {
	at, marker := earliest(h.held, bodyEnds)
	if marker == "" {
		if h.recipient != "" {
			return nil, false // a call is parsed whole
		}
		keep := partialSuffix(h.held, bodyEnds)
		release := h.held[:len(h.held)-keep]
		h.held = h.held[len(release):]
		return nonEmpty(Part{Kind: h.kind(), Text: release}), false
	}
	parts := h.close(h.held[:at])
	h.held = h.held[at:]
	if marker != hStart {
		h.held = h.held[len(marker):]
	}
	h.state = hBetween
	return parts, true
}

// close ends the current message with the rest of its body.
func (h *harmony) close(body string) []Part {
	if h.recipient == "" {
		return nonEmpty(Part{Kind: h.kind(), Text: body})
	}
	name := strings.TrimPrefix(h.recipient, "functions.")
	if args, ok := objectArguments([]byte(body)); ok && name != "" {
		return []Part{{Kind: Call, Name: name, Arguments: args}}
	}
	return nonEmpty(Part{Kind: Text, Text: body}) // a call that does not parse is what the model wrote
}

func (h *harmony) kind() Kind {
	if h.channel == "analysis" {
		return Reasoning
	}
	return Text
}

// between skips to the next message's header.
func (h *harmony) between() ([]Part, bool) {
	t := strings.TrimLeft(h.held, " \n")
	switch {
	case t == "":
		return nil, false
	case strings.HasPrefix(t, hStart):
		h.held, h.state = t[len(hStart):], hHeader
	case strings.HasPrefix(t, hChannel):
		h.held, h.state = t, hHeader
	case strings.HasPrefix(hStart, t) || strings.HasPrefix(hChannel, t):
		return nil, false
	default:
		h.state = hPlain
	}
	h.channel, h.recipient = "", ""
	return nil, true
}

// finish ends the answer: a body in progress ends as if closed (generation
// stops on <|return|> and <|call|>, whose text the engine never sees); an
// unfinished header is markup and is dropped.
func (h *harmony) finish() []Part {
	held := h.held
	h.held = ""
	switch h.state {
	case hBody:
		return h.close(held)
	case hHeader, hBetween:
		if headerLike(held) || strings.TrimSpace(held) == "" {
			return nil
		}
	}
	return nonEmpty(Part{Kind: Text, Text: held})
}
