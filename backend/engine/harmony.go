package engine

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/modelbar/modelbar/backend/engine/generate"
	"github.com/modelbar/modelbar/backend/engine/grammar"
	"github.com/modelbar/modelbar/backend/engine/tokenizer"
)

// gpt-oss's harmony calls: a message whose header names the recipient,
// "to=functions.NAME", and whose body is the arguments:
//
//	<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city":"Paris"}<|call|>
//
// The markers are special tokens; the recipient is text. The constraint
// follows the answer as package toolcall's harmony reader does: headers
// are free until "to=", whose recipient must then be one of the offered
// tools; the rest of that header may not break it (no newline or '{',
// within the reader's length limit); after <|message|> the body follows
// the tool's schema, and <|call|> (an end of turn) is forced once it is
// whole. Other messages (analysis, final, preambles) are free.

// hPhase is where in a harmony answer the constraint is.
type hPhase int

const (
	hpHeader     hPhase = iota // a header before any "to="
	hpRecipient                // after "to=": writing functions.NAME
	hpCallHeader               // the rest of a call's header
	hpCall                     // a call's body: the arguments
	hpClose                    // the arguments are whole: <|call|>
	hpBody                     // a message's free body
	hpBetween                  // after <|end|>
	hpPlain                    // not harmony as the reader reads it: free to the end
	hpForced                   // a forced call's header: <|channel|>, then commentary to=functions.NAME
)

// harmonyHeaderLimit is the reader's (toolcall's headerLimit): a longer
// header is read as text.
const harmonyHeaderLimit = 256

type harmonyIDs struct{ start, end, message, channel, constrain, call int }

// harmonyCalls builds the constraint; nil when the vocabulary lacks a
// harmony marker.
func (l *loaded) harmonyCalls(offered, forced []grammar.Tool) (generate.Constraint, error) {
	var ids harmonyIDs
	for _, m := range []struct {
		s  string
		id *int
	}{{"<|start|>", &ids.start}, {"<|end|>", &ids.end}, {"<|message|>", &ids.message}, {"<|channel|>", &ids.channel}, {"<|constrain|>", &ids.constrain}, {"<|call|>", &ids.call}} {
		if *m.id = l.tokenID(m.s); *m.id < 0 {
			return nil, nil
		}
	}
	return newHarmony(&l.vocabs, l.tok, ids, offered, forced)
}

// newHarmony constrains the calls to offered, or, when forced is not
// nil, starts the answer with a call to one of forced.
func newHarmony(vs *vocabs, tok *tokenizer.Tokenizer, ids harmonyIDs, offered, forced []grammar.Tool) (*harmonyConstraint, error) {
	tools := offered
	if forced != nil {
		tools = forced
	}
	v := vs.get(tok)
	c := &harmonyConstraint{v: v, tok: tok, ids: ids, tool: -1,
		eqs: vs.holding(v, '='), newlines: vs.holding(v, '\n'), braces: vs.holding(v, '{')}
	longest, argsNeed := 0, 0
	for i, t := range tools {
		g, err := grammar.Arguments(t)
		if err != nil {
			return nil, fmt.Errorf("/tools/%d: %w", i, err)
		}
		c.args = append(c.args, g)
		c.names = append(c.names, []byte("functions."+t.Name))
		longest = max(longest, len("functions.")+len(t.Name))
		argsNeed = max(argsNeed, grammar.NewConstraint(g, v, nil).Dist())
	}
	// "to=" is written only when the tokens left can still finish the
	// call: the name, <|message|>, the shortest arguments and <|call|>.
	c.need, c.longest = longest+1+argsNeed+1, longest
	c.argsNeed = argsNeed
	if forced != nil {
		c.phase = hpForced
		for _, n := range c.names {
			c.forced = append(c.forced, append([]byte("commentary to="), n...))
		}
	}
	return c, nil
}

// harmonyConstraint constrains the calls of a harmony answer. Used by
// one generation at a time.
type harmonyConstraint struct {
	v   *grammar.Vocab
	tok *tokenizer.Tokenizer
	ids harmonyIDs

	args     []*grammar.Grammar // each tool's arguments
	names    [][]byte           // each tool's recipient, functions.NAME
	forced   [][]byte           // a forced call's header text after <|channel|>; nil: not forced
	eqs      []int32            // the tokens holding '=' (they may complete "to=")
	newlines []int32            // the tokens holding '\n', and
	braces   []int32            // those holding '{': either ends a header for the reader
	need     int                // tokens from "to=" to the end of the shortest call
	longest  int                // bytes of the longest recipient
	argsNeed int                // the most tokens the shortest arguments of a tool take

	phase   hPhase
	channel bool                // forced: <|channel|> is written
	head    []byte              // the current header's bytes
	hlen    int                 // at least the bytes of head as the reader sees it (see width)
	got     []byte              // the recipient, or the forced header, so far
	tool    int                 // the recipient's tool; -1: none yet
	in      *grammar.Constraint // the arguments being written
}

var _ generate.Constraint = (*harmonyConstraint)(nil)

func (c *harmonyConstraint) Mask(logits []float32, left int) error {
	switch c.phase {
	case hpHeader:
		c.maskTo(logits, left)
	case hpRecipient:
		c.maskLiteral(logits, c.names, true)
	case hpCallHeader:
		c.maskCallHeader(logits, left)
	case hpCall:
		return c.in.Mask(logits, max(left-1, 0))
	case hpClose:
		only(logits, c.ids.call)
	case hpForced:
		if !c.channel {
			only(logits, c.ids.channel)
			return nil
		}
		c.maskLiteral(logits, c.forced, false)
	}
	return nil
}

// maskTo keeps out the tokens that would complete "to=" in the header
// and go on with anything but an offered recipient, and, when too few
// tokens are left for the call it begins, all of them.
func (c *harmonyConstraint) maskTo(logits []float32, left int) {
	tail := c.head[max(0, len(c.head)-2):]
	for _, id := range c.eqs {
		if int(id) >= len(logits) {
			continue
		}
		bs := c.v.Bytes(int(id))
		if rest, ok := completes(tail, bs, []byte("to=")); ok && (left < c.need || !c.fits(width(bs)+c.longest) || !c.continues(c.names, nil, rest, true)) {
			logits[id] = negInf
		}
	}
}

// maskLiteral allows the text tokens that continue c.got within one of
// lits, and, once c.got is one of them, the special tokens that may end
// it: <|message|>, and in a free header <|channel|> and <|constrain|>,
// or a space and more header text (spaced). It visits the vocabulary
// (a few steps per call) and allocates nothing.
func (c *harmonyConstraint) maskLiteral(logits []float32, lits [][]byte, spaced bool) {
	whole := c.literal(lits, c.got) >= 0
	// The bytes that may come next: most tokens fail on their first.
	var next [256]bool
	for _, lit := range lits {
		if len(lit) > len(c.got) && bytes.HasPrefix(lit, c.got) {
			next[lit[len(c.got)]] = true
		}
	}
	next[' '] = next[' '] || (spaced && whole)
	for id := range logits {
		bs := c.v.Bytes(id)
		if bs == nil {
			if !whole || !(id == c.ids.message || (spaced && c.headerMarker(id))) {
				logits[id] = negInf
			}
			continue
		}
		if !next[bs[0]] || !c.continues(lits, c.got, bs, spaced) || !c.fits(width(bs)) {
			logits[id] = negInf
		}
	}
}

// continues reports whether got then bs stays within a literal: a
// prefix of one, or (spaced) one followed by a space and header text.
func (c *harmonyConstraint) continues(lits [][]byte, got, bs []byte, spaced bool) bool {
	n := len(got)
	for _, lit := range lits {
		if !bytes.HasPrefix(lit, got) {
			continue
		}
		rest := lit[n:]
		if len(bs) <= len(rest) {
			if bytes.HasPrefix(rest, bs) {
				return true
			}
			continue
		}
		if spaced && bytes.HasPrefix(bs, rest) && bs[len(rest)] == ' ' && headerText(bs[len(rest):]) {
			return true
		}
	}
	return false
}

// literal is the index of the literal s is, -1 for none.
func (c *harmonyConstraint) literal(lits [][]byte, s []byte) int {
	for i, lit := range lits {
		if bytes.Equal(lit, s) {
			return i
		}
	}
	return -1
}

// maskCallHeader keeps a call's header readable: no newline or '{', no
// marker but those of a header, within the length limit, and
// <|message|> when the budget is down to the arguments.
func (c *harmonyConstraint) maskCallHeader(logits []float32, left int) {
	if left <= c.argsNeed+1 {
		only(logits, c.ids.message)
		return
	}
	for id := range logits {
		bs := c.v.Bytes(id)
		switch {
		case id == c.ids.message, c.headerMarker(id):
		case bs == nil, c.hlen+3*len(bs) > harmonyHeaderLimit && !c.fits(width(bs)):
			logits[id] = negInf
		}
	}
	for _, breaks := range [2][]int32{c.newlines, c.braces} {
		for _, id := range breaks {
			if int(id) < len(logits) {
				logits[id] = negInf
			}
		}
	}
}

// headerMarker reports whether id is <|channel|> or <|constrain|> and
// fits in the header.
func (c *harmonyConstraint) headerMarker(id int) bool {
	return (id == c.ids.channel && c.fits(len("<|channel|>"))) || (id == c.ids.constrain && c.fits(len("<|constrain|>")))
}

// fits reports whether n more bytes keep the header within the reader's
// limit (<|message|> always may come: the reader then has the header).
func (c *harmonyConstraint) fits(n int) bool { return c.hlen+n <= harmonyHeaderLimit }

// width bounds the bytes the reader sees for bs: the decoder writes
// U+FFFD, 3 bytes, for a byte that is not part of valid UTF-8.
func width(bs []byte) int {
	if utf8.Valid(bs) {
		return len(bs)
	}
	return 3 * len(bs)
}

// addHead appends a header token's bytes.
func (c *harmonyConstraint) addHead(bs []byte) {
	c.head = append(c.head, bs...)
	c.hlen += width(bs)
}

// headerText reports whether bs may stand in a header as the reader
// reads it (it takes a newline or '{' for the end of harmony markup).
func headerText(bs []byte) bool { return bytes.IndexAny(bs, "\n{") < 0 }

func (c *harmonyConstraint) Accept(id int) error {
	switch c.phase {
	case hpCall:
		if err := c.in.Accept(id); err != nil {
			return err
		}
		if c.in.Done() {
			c.phase = hpClose
		}
		return nil
	case hpClose:
		return fmt.Errorf("grammar: token %d after a whole harmony call, not <|call|>", id)
	case hpForced:
		return c.acceptForced(id)
	case hpRecipient:
		return c.acceptRecipient(id)
	case hpCallHeader:
		if id == c.ids.message {
			return c.startCall()
		}
		c.addHead(c.tokenBytes(id))
		return nil
	}
	return c.acceptFree(id)
}

// acceptFree follows the free parts of the answer: headers, bodies and
// what is between messages.
func (c *harmonyConstraint) acceptFree(id int) error {
	switch {
	case c.phase == hpPlain:
	case id == c.ids.start && (c.phase == hpBody || c.phase == hpBetween):
		c.phase, c.head, c.hlen = hpHeader, c.head[:0], 0
	case c.phase == hpHeader && id == c.ids.message:
		c.phase = hpBody
	case c.phase == hpHeader:
		c.addHead(c.tokenBytes(id))
		return c.checkHeader()
	case c.phase == hpBody && id == c.ids.end:
		c.phase = hpBetween
	case c.phase == hpBetween && id == c.ids.channel:
		c.phase, c.head, c.hlen = hpHeader, c.head[:0], 0
		c.addHead([]byte("<|channel|>"))
	case c.phase == hpBetween:
		if len(bytes.Trim(c.tokenBytes(id), " \n")) > 0 {
			c.phase = hpPlain
		}
	}
	return nil
}

// checkHeader moves to the recipient once the header says "to=" (the
// reader takes the first), or to plain text when the reader would stop
// reading it as a header.
func (c *harmonyConstraint) checkHeader() error {
	if c.hlen > harmonyHeaderLimit || !headerLike(c.head) {
		c.phase = hpPlain
		return nil
	}
	i := bytes.Index(c.head, []byte("to="))
	if i < 0 {
		return nil
	}
	c.phase, c.got = hpRecipient, c.got[:0]
	return c.recipientText(c.head[i+len("to="):])
}

// headerLike is toolcall's test of a header in progress: on one line,
// no '{', starting with a marker, the role or a recipient.
func headerLike(s []byte) bool {
	if bytes.ContainsAny(s, "\n{") {
		return false
	}
	t := bytes.TrimLeft(s, " ")
	for _, start := range []string{"<|channel|>", "<|start|>", "<|constrain|>", "assistant", "to="} {
		if bytes.HasPrefix(t, []byte(start)) || bytes.HasPrefix([]byte(start), t) {
			return true
		}
	}
	return false
}

func (c *harmonyConstraint) acceptRecipient(id int) error {
	bs := c.v.Bytes(id)
	if bs == nil { // a header marker after the whole recipient (Mask allows no other)
		if c.tool = c.literal(c.names, c.got); c.tool < 0 {
			return fmt.Errorf("grammar: token %d ends an unfinished recipient", id)
		}
		if id == c.ids.message {
			return c.startCall()
		}
		c.addHead(c.tokenBytes(id))
		c.phase = hpCallHeader
		return nil
	}
	c.addHead(bs)
	return c.recipientText(bs)
}

// recipientText takes text of the recipient: up to a space, which ends
// it and goes on with the call's header.
func (c *harmonyConstraint) recipientText(bs []byte) error {
	if sp := bytes.IndexByte(bs, ' '); sp >= 0 {
		c.got = append(c.got, bs[:sp]...)
		if c.tool = c.literal(c.names, c.got); c.tool < 0 {
			return fmt.Errorf("grammar: the recipient %q is not an offered tool", c.got)
		}
		c.phase = hpCallHeader
		return nil
	}
	c.got = append(c.got, bs...)
	return nil
}

func (c *harmonyConstraint) acceptForced(id int) error {
	if !c.channel {
		if id != c.ids.channel {
			return fmt.Errorf("grammar: token %d is not a forced call's <|channel|>", id)
		}
		c.channel = true
		return nil
	}
	if id == c.ids.message {
		i := c.literal(c.forced, c.got)
		if i < 0 {
			return fmt.Errorf("grammar: <|message|> after an unfinished header %q", c.got)
		}
		c.tool = i
		return c.startCall()
	}
	c.got = append(c.got, c.v.Bytes(id)...)
	return nil
}

func (c *harmonyConstraint) startCall() error {
	if c.tool < 0 {
		return fmt.Errorf("grammar: a call's body without its tool")
	}
	c.phase, c.in = hpCall, grammar.NewConstraint(c.args[c.tool], c.v, nil)
	return nil
}

func (c *harmonyConstraint) tokenBytes(id int) []byte {
	if bs := c.v.Bytes(id); bs != nil {
		return bs
	}
	return c.tok.TokenBytes(id)
}

// Done: generation ends at <|call|>, a stop token.
func (c *harmonyConstraint) Done() bool { return false }

// Complete: outside a call.
func (c *harmonyConstraint) Complete() bool {
	switch c.phase {
	case hpRecipient, hpCallHeader, hpCall, hpClose, hpForced:
		return false
	}
	return true
}
