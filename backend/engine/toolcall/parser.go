package toolcall

import "strings"

const (
	thinkOpen   = "<think>"
	thinkClose  = "</think>"
	hermesOpen  = "<tool_call>"
	hermesClose = "</tool_call>"
	pythonTag   = "<|python_tag|>"
	mistralTag  = "[TOOL_CALLS]"
	phiOpen     = "<|tool_call|>"
	phiClose    = "<|/tool_call|>"
	functools   = "functools[" // Phi-4-mini's other way, as vLLM reads it
)

// Parser splits one answer as it streams. Not safe for concurrent use.
type Parser struct {
	syntax  Syntax
	think   bool     // the model may open a <think> block
	state   state    // where in the answer we are
	held    string   // text not yet certain
	started bool     // any non-space output seen (Llama 3 decides on its first character)
	trimLF  bool     // drop the newlines that follow </think>, whichever chunk they come in
	harmony *harmony // non-nil for Harmony, which has its own reader
}

type state int

const (
	inText     state = iota
	inThinking       // between <think> and </think>
	inCall           // inside one Hermes <tool_call> or Phi-4 <|tool_call|>
	inTail           // Llama 3 / Mistral / Phi-4 functools[: the rest of the answer is a call
)

// NewParser starts a parser for one answer. startInThinking is for chat
// templates whose generation prompt already opened the <think> block.
func NewParser(s Syntax, think, startInThinking bool) *Parser {
	p := &Parser{syntax: s, think: think}
	if s == Harmony {
		p.harmony = &harmony{}
	}
	if startInThinking {
		p.state = inThinking
	}
	return p
}

// Add takes the next piece of output and returns the parts now certain.
func (p *Parser) Add(text string) []Part {
	if p.harmony != nil {
		return p.harmony.add(text)
	}
	p.held += text
	var out []Part
	for {
		parts, progressed := p.step()
		out = append(out, parts...)
		if !progressed {
			return out
		}
	}
}

// Finish ends the answer: what is held is resolved, a call that does not
// parse (or never closed) comes back as text.
func (p *Parser) Finish() []Part {
	if p.harmony != nil {
		return p.harmony.finish()
	}
	held := p.held
	p.held = ""
	switch p.state {
	case inThinking:
		return nonEmpty(Part{Kind: Reasoning, Text: held})
	case inCall:
		if calls, ok := parseCalls(held); ok {
			return calls
		}
		return nonEmpty(Part{Kind: Text, Text: p.callOpen() + held})
	case inTail:
		body := strings.TrimSpace(held)
		for _, tag := range []string{pythonTag, mistralTag} {
			body = strings.TrimPrefix(body, tag)
		}
		if rest, ok := strings.CutPrefix(body, functools); ok {
			body = "[" + rest
		}
		if calls, ok := parseCalls(body); ok {
			return calls
		}
	}
	return nonEmpty(Part{Kind: Text, Text: held})
}

// step consumes what it can of held; progressed is false when it must wait
// for more output.
func (p *Parser) step() ([]Part, bool) {
	switch p.state {
	case inThinking:
		return p.until(thinkClose, Reasoning, inText)
	case inCall:
		closer := p.callClose()
		i := callEnd(p.held, closer)
		if i < 0 {
			return nil, false
		}
		body := p.held[:i]
		p.held, p.state = p.held[i+len(closer):], inText
		if calls, ok := parseCalls(body); ok {
			return calls, true
		}
		return []Part{{Kind: Text, Text: p.callOpen() + body + closer}}, true
	case inTail:
		return nil, false // the whole rest is read at Finish
	}
	return p.text()
}

// callEnd is where the call that held begins ends: the first closer
// outside a JSON string, or -1 while there is none yet. A call's JSON may
// hold the closer inside a string value ({"q": "a</tool_call>"} is valid,
// and the grammar that constrains calls allows it), which must not cut the
// call short.
func callEnd(held, closer string) int {
	for off := 0; ; {
		i := strings.Index(held[off:], closer)
		if i < 0 {
			return -1
		}
		i += off
		if !inJSONString(held[:i]) {
			return i
		}
		off = i + len(closer)
	}
}

// inJSONString reports whether s ends inside a JSON string: an odd number
// of unescaped quotes.
func inJSONString(s string) bool {
	in, esc := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case esc:
			esc = false
		case in && c == '\\':
			esc = true
		case c == '"':
			in = !in
		}
	}
	return in
}

// text handles plain output: it looks for the markers that change state and
// releases text that cannot be the start of one.
func (p *Parser) text() ([]Part, bool) {
	if p.trimLF {
		p.held = strings.TrimLeft(p.held, "\n")
		if p.held == "" {
			return nil, false
		}
		p.trimLF = false
	}
	if !p.started && (p.syntax == Llama3 || p.syntax == Mistral) {
		trimmed := strings.TrimLeft(p.held, " \n\t")
		if trimmed == "" {
			return nil, false
		}
		tag := pythonTag
		if p.syntax == Mistral {
			tag = mistralTag
		}
		if strings.HasPrefix(tag, trimmed) && trimmed != tag {
			return nil, false // maybe the tag, not yet whole
		}
		p.started = true
		if strings.HasPrefix(trimmed, tag) || (p.syntax == Llama3 && strings.HasPrefix(trimmed, "{")) {
			p.state = inTail
			return nil, false
		}
	}
	markers := p.markers()
	at, marker := earliest(p.held, markers)
	if marker == "" {
		keep := partialSuffix(p.held, markers)
		release := p.held[:len(p.held)-keep]
		p.held = p.held[len(release):]
		if release != "" {
			p.started = true
		}
		return nonEmpty(Part{Kind: Text, Text: release}), false
	}
	before := p.held[:at]
	p.held = p.held[at+len(marker):]
	switch marker {
	case thinkOpen:
		p.state = inThinking
	case hermesOpen, phiOpen:
		p.state = inCall
	default: // python tag, [TOOL_CALLS] or functools[ mid-answer: the rest is a call
		p.state, p.held = inTail, marker+p.held
	}
	return nonEmpty(Part{Kind: Text, Text: before}), true
}

func (p *Parser) markers() []string {
	var m []string
	if p.think {
		m = append(m, thinkOpen)
	}
	switch p.syntax {
	case Hermes:
		m = append(m, hermesOpen)
	case Llama3:
		m = append(m, pythonTag)
	case Mistral:
		m = append(m, mistralTag)
	case Phi4:
		m = append(m, phiOpen, functools)
	}
	return m
}

// callOpen and callClose are the tags around one call of the syntax.
func (p *Parser) callOpen() string {
	if p.syntax == Phi4 {
		return phiOpen
	}
	return hermesOpen
}

func (p *Parser) callClose() string {
	if p.syntax == Phi4 {
		return phiClose
	}
	return hermesClose
}

// until emits held as kind up to marker, then switches to next.
func (p *Parser) until(marker string, kind Kind, next state) ([]Part, bool) {
	i := strings.Index(p.held, marker)
	if i < 0 {
		keep := partialSuffix(p.held, []string{marker})
		release := p.held[:len(p.held)-keep]
		p.held = p.held[len(release):]
		return nonEmpty(Part{Kind: kind, Text: release}), false
	}
	part := Part{Kind: kind, Text: p.held[:i]}
	p.held, p.state, p.trimLF = p.held[i+len(marker):], next, true
	return nonEmpty(part), true
}

func nonEmpty(p Part) []Part {
	if p.Text == "" && p.Kind != Call {
		return nil
	}
	return []Part{p}
}

func earliest(s string, markers []string) (int, string) {
	at, found := -1, ""
	for _, m := range markers {
		if i := strings.Index(s, m); i >= 0 && (at < 0 || i < at) {
			at, found = i, m
		}
	}
	return at, found
}

// partialSuffix is the length of the longest suffix of s that begins one of
// the markers.
func partialSuffix(s string, markers []string) int {
	best := 0
	for _, m := range markers {
		for n := min(len(m)-1, len(s)); n > best; n-- {
			if strings.HasSuffix(s, m[:n]) {
				best = n
				break
			}
		}
	}
	return best
}
