package engine

import (
	"bytes"
	"fmt"
	"math"

	"github.com/modelbar/modelbar/backend/engine/generate"
	"github.com/modelbar/modelbar/backend/engine/grammar"
	"github.com/modelbar/modelbar/backend/engine/tokenizer"
)

// Tool calls in each family's syntax, constrained while they are
// sampled: free text is left alone, and from the call's opening marker
// on, the call's JSON follows the grammar of the offered tools.

// hermesCalls constrains Hermes-style calls: after each <tool_call> (a
// tag written as text) the call's JSON, then </tool_call>. A forced call
// starts the answer, or, when the template opened a reasoning block,
// follows its </think> (newlines between).
func (l *loaded) hermesCalls(offered, forced []grammar.Tool, opened bool) (generate.Constraint, error) {
	g, err := grammar.ToolCall(offered, "", hermesClose)
	if err != nil {
		return nil, err
	}
	c := l.newCalls(g)
	c.open, c.tagEnds = []byte(hermesOpen), l.vocabs.holding(c.v, hermesOpen[len(hermesOpen)-1])
	// A <tool_call> inside a reasoning block is reasoning (the parser reads
	// no call there): the constraint follows the blocks as the parser does.
	c.think, c.thinking = l.thinks, opened
	if id := l.tokenID(hermesOpen); id >= 0 && c.v.Bytes(id) == nil {
		// <tool_call> is one special token here (some SmolLM3 tokenizers):
		// the grammar's vocabulary has no bytes for it, so it is watched
		// by id, and masked like the other families' markers when the
		// tokens left cannot finish a call.
		c.openID = id
	}
	if forced == nil {
		return c, nil
	}
	fg, err := grammar.ToolCall(forced, hermesOpen, hermesClose)
	if err != nil {
		return nil, err
	}
	if !opened {
		c.in = grammar.NewConstraint(fg, c.v, nil)
		return c, nil
	}
	c.gate = l.newGate(thinkClose, grammar.NewConstraint(fg.AfterNewlines(), c.v, nil))
	return c, nil
}

// llamaCalls constrains Llama 3's calls, {"name", "parameters"}, which
// are the rest of the answer: a forced call is the whole answer; an
// answer that may choose is a call when its first non-space text starts
// a JSON object, or from a <|python_tag|> token on (as the parser reads
// it), and stays free text otherwise.
func (l *loaded) llamaCalls(offered, forced []grammar.Tool, opened bool) (generate.Constraint, error) {
	if opened {
		return nil, nil // the reasoning comes first; the parser reads no call inside it
	}
	if forced != nil {
		g, err := grammar.Call(forced, "", "", "parameters")
		if err != nil {
			return nil, err
		}
		return grammar.NewConstraint(g, l.vocabs.get(l.tok), l.stops), nil
	}
	g, err := grammar.Call(offered, "", "", "parameters")
	if err != nil {
		return nil, err
	}
	c := l.newCalls(g)
	c.last, c.ends, c.bare = true, l.stops, true
	c.openID = l.tokenID(pythonTag)
	return c, nil
}

// markedCalls constrains calls opened by a special token: Mistral's
// [TOOL_CALLS] (a JSON array of calls, the rest of the answer: closing
// "" means the end of turn follows) and Phi-4-mini's <|tool_call|> (a
// JSON array, then the <|/tool_call|> token). The markers are found by
// token id: their text written out byte by byte is left free (the
// parser would still read it as a marker; a model writes the token). A
// forced call starts the answer with the opening token. Without the
// opening token in the vocabulary nothing is constrained.
func (l *loaded) markedCalls(offered, forced []grammar.Tool, opened bool, open, closing string) (generate.Constraint, error) {
	openID := l.tokenID(open)
	closeID := -1
	if closing != "" {
		closeID = l.tokenID(closing)
	}
	if opened || openID < 0 || (closing != "" && closeID < 0) {
		return nil, nil
	}
	g, err := grammar.Calls(offered, "arguments")
	if err != nil {
		return nil, err
	}
	c := l.newCalls(g)
	c.openID, c.closeID = openID, closeID
	if closing == "" {
		c.last, c.ends = true, l.stops
	}
	if forced != nil {
		fg, err := grammar.Calls(forced, "arguments")
		if err != nil {
			return nil, err
		}
		c.force, c.first = openID, fg
	}
	return c, nil
}

// tokenID is the id of a marker that is one token, -1 when it is not.
func (l *loaded) tokenID(s string) int {
	if id, ok := l.tok.TokenID(s); ok {
		return id
	}
	return -1
}

func (l *loaded) newCalls(g *grammar.Grammar) *callConstraint {
	return newCallConstraint(g, l.vocabs.get(l.tok), l.tok)
}

// newCallConstraint constrains calls of g in text that is otherwise free;
// the caller sets the family's markers.
func newCallConstraint(g *grammar.Grammar, v *grammar.Vocab, tok *tokenizer.Tokenizer) *callConstraint {
	return &callConstraint{g: g, v: v, tok: tok, openID: -1, closeID: -1, force: -1}
}

// callConstraint leaves text free and constrains each tool call in it:
// after the opening marker, the call's JSON, then the closing marker.
// Used by one generation at a time.
type callConstraint struct {
	g   *grammar.Grammar // a call after its opening marker
	v   *grammar.Vocab
	tok *tokenizer.Tokenizer

	open    []byte           // an opening tag written as text (Hermes' <tool_call>); nil: none
	think   bool             // open: the family reasons in <think> blocks, where the tag is no call
	openID  int              // an opening special token ([TOOL_CALLS], <|tool_call|>, <|python_tag|>); -1: none
	closeID int              // the special token that closes a call after its JSON (<|/tool_call|>); -1: none
	last    bool             // a call is the rest of the answer (Llama 3, Mistral): it ends it
	ends    []int            // last: the stop tokens allowed once the call is whole
	bare    bool             // a call may also be the answer's first non-space text, a JSON object (Llama 3)
	first   *grammar.Grammar // a forced call's grammar, after the forced opening token
	gate    *gate            // non-nil: a forced call waits for the reasoning block to close

	started  bool                // bare: the answer's first non-space byte is written
	thinking bool                // think: inside a <think> block now
	tail     []byte              // the last bytes of free text, to find the opening tag
	in       *grammar.Constraint // non-nil inside a call
	probe    *grammar.Constraint // bare: a call not begun, to try the answer's first tokens on
	closing  bool                // the call's JSON is whole: closeID must come next
	force    int                 // the token that must come next (a forced call's opening marker); -1: none
	need     int                 // the most tokens a call takes once opened (0: not yet known)
	tagEnds  []int32             // the tokens holding open's last byte (they may complete it)
	fresh    *grammar.Constraint // open: a call not begun, to try the bytes after a completed tag on
}

var _ generate.Constraint = (*callConstraint)(nil)

func (c *callConstraint) Mask(logits []float32, left int) error {
	switch {
	case c.force >= 0:
		only(logits, c.force)
	case c.closing:
		only(logits, c.closeID)
	case c.in != nil:
		if c.closeID >= 0 {
			left-- // the closing token comes after the JSON
		}
		return c.in.Mask(logits, max(left, 0))
	case c.gate != nil:
		c.gate.mask(logits, left)
	case c.bare && !c.started:
		c.maskFirst(logits, left)
		c.maskOpen(logits, left)
	case c.thinking: // reasoning is free, a tag in it included
	default:
		c.maskOpen(logits, left)
	}
	return nil
}

// maskOpen keeps the opening marker out when the tokens left could not
// finish the call it would open (its shortest JSON, and the closing
// token): the opening token, or a token that would complete the tag
// written as text. A token that completes the tag and runs on past it
// must also run on into a call (">\n{" may, ">(" may not): a call begun
// with bytes that are no call would be left free.
func (c *callConstraint) maskOpen(logits []float32, left int) {
	if c.openID < 0 && c.open == nil {
		return
	}
	if c.need == 0 {
		c.need = c.newCall(c.g).Dist()
		if c.closeID >= 0 {
			c.need++
		}
		if c.open != nil {
			c.fresh = c.newCall(c.g)
		}
	}
	short := left < c.need
	if short && c.openID >= 0 && c.openID < len(logits) {
		logits[c.openID] = negInf
	}
	for _, id := range c.tagEnds {
		if int(id) >= len(logits) {
			continue
		}
		rest, ok := completes(c.tail, c.v.Bytes(int(id)), c.open)
		if ok && (short || len(rest) > 0 && !c.fresh.Allows(rest, left-1)) {
			logits[id] = negInf
		}
	}
}

// maskFirst lets the answer's first non-space text be anything but a
// JSON object the call grammar refuses (or cannot finish in budget). It
// visits the whole vocabulary, but only until the answer has begun
// (usually one step), and allocates nothing.
func (c *callConstraint) maskFirst(logits []float32, left int) {
	if c.probe == nil {
		c.probe = c.newCall(c.g)
	}
	for id := range min(len(logits), c.v.Size()) {
		bs := c.v.Bytes(id)
		i := 0
		for i < len(bs) && (bs[i] == ' ' || bs[i] == '\n' || bs[i] == '\t') {
			i++
		}
		if i < len(bs) && bs[i] == '{' && !c.probe.Allows(bs[i:], left) {
			logits[id] = negInf
		}
	}
}

func (c *callConstraint) Accept(id int) error {
	switch {
	case c.force >= 0:
		if id != c.force {
			return fmt.Errorf("grammar: token %d is not the call's opening marker", id)
		}
		c.force = -1
		c.in = c.newCall(c.first)
		return nil
	case c.closing:
		if id != c.closeID {
			return fmt.Errorf("grammar: token %d is not the call's closing marker", id)
		}
		c.closing = false
		return nil
	case c.in != nil:
		if err := c.in.Accept(id); err != nil {
			return err
		}
		if c.in.Done() && !c.last {
			c.in, c.closing = nil, c.closeID >= 0
		}
		return nil
	case c.gate != nil:
		in, err := c.gate.accept(c.tokenBytes(id))
		if in != nil {
			c.in, c.gate = in, nil
		}
		return err
	}
	if id == c.openID && !c.thinking {
		c.in = c.newCall(c.g)
		return nil
	}
	bs := c.tokenBytes(id)
	if c.bare && !c.started {
		rest := bytes.TrimLeft(bs, " \n\t")
		if len(rest) == 0 {
			return nil
		}
		c.started = true
		if rest[0] == '{' {
			c.in, c.probe = c.probe, nil
			if c.in == nil {
				c.in = c.newCall(c.g)
			}
			if !c.in.Feed(rest) {
				return fmt.Errorf("grammar: token %d does not begin the call", id)
			}
			return nil
		}
	}
	if c.open != nil {
		c.findOpen(bs)
	}
	return nil
}

// findOpen looks for the opening tag in free text; the bytes of the
// token after it begin the call. Where the family reasons in <think>
// blocks it follows them as the parser does: a <think> before the tag
// opens a block, and inside one only </think> is looked for.
func (c *callConstraint) findOpen(bs []byte) {
	c.tail = append(c.tail, bs...)
	for {
		if c.thinking {
			i := bytes.Index(c.tail, thinkCloseBytes)
			if i < 0 {
				c.keepTail()
				return
			}
			c.thinking = false
			c.tail = append(c.tail[:0], c.tail[i+len(thinkCloseBytes):]...)
			continue
		}
		i := bytes.Index(c.tail, c.open)
		if c.think {
			if j := bytes.Index(c.tail, thinkOpenBytes); j >= 0 && (i < 0 || j < i) {
				c.thinking = true
				c.tail = append(c.tail[:0], c.tail[j+len(thinkOpenBytes):]...)
				continue
			}
		}
		if i < 0 {
			c.keepTail()
			return
		}
		rest := c.tail[i+len(c.open):]
		c.tail = c.tail[:0]
		c.in = c.newCall(c.g)
		if len(rest) > 0 && !c.in.Feed(rest) {
			c.in = nil // the token ran past the tag into something that is no call: leave it free
		}
		return
	}
}

var thinkOpenBytes, thinkCloseBytes = []byte("<think>"), []byte(thinkClose)

// keepTail keeps of the free text only what may be the start of a marker.
func (c *callConstraint) keepTail() {
	keep := len(c.open) - 1
	if c.think {
		keep = max(keep, len(thinkCloseBytes)-1)
	}
	if len(c.tail) > keep {
		c.tail = append(c.tail[:0], c.tail[len(c.tail)-keep:]...)
	}
}

func (c *callConstraint) newCall(g *grammar.Grammar) *grammar.Constraint {
	return grammar.NewConstraint(g, c.v, c.ends)
}

// tokenBytes are id's bytes; a special token's from the tokenizer (the
// grammar's vocabulary leaves them out).
func (c *callConstraint) tokenBytes(id int) []byte {
	if bs := c.v.Bytes(id); bs != nil {
		return bs
	}
	return c.tok.TokenBytes(id)
}

// Done: a call that is the rest of the answer is whole.
func (c *callConstraint) Done() bool { return c.in != nil && c.last && c.in.Done() }

// Complete: free text is; a call is not until it is closed.
func (c *callConstraint) Complete() bool {
	return c.force < 0 && !c.closing && c.gate == nil && (c.in == nil || (c.last && c.in.Complete()))
}

// only masks every token but id.
func only(logits []float32, id int) {
	for i := range logits {
		if i != id {
			logits[i] = negInf
		}
	}
}

var negInf = float32(math.Inf(-1))

// gate holds a forced call back until the reasoning block the template
// opened is closed: the reasoning is free text but may not end the turn,
// a token that closes the block may go on only into the call, and when
// the tokens left are just enough for the call, the closing token is
// forced. Without a single token for the mark there is no forcing, and
// a reasoning block that never closes leaves no room for the call.
type gate struct {
	mark    []byte              // "</think>"
	id      int                 // the token that is the whole mark; -1: none
	cands   []int32             // the tokens that can complete the mark: those holding its last byte
	stops   []int               // never while the call is owed
	call    *grammar.Constraint // the forced call, after the mark
	reserve int                 // the most tokens the call takes (its bytes)
	v       *grammar.Vocab
	tail    []byte // the last bytes of the reasoning, to find the mark
}

func (l *loaded) newGate(mark string, call *grammar.Constraint) *gate {
	return &gate{mark: []byte(mark), id: l.tokenID(mark), cands: l.vocabs.holding(l.vocabs.get(l.tok), mark[len(mark)-1]),
		stops: l.stops, call: call, reserve: call.Dist(), v: l.vocabs.get(l.tok)}
}

// mask visits only the candidates (a few thousand tokens of a large
// vocabulary) and allocates nothing.
func (g *gate) mask(logits []float32, left int) {
	if g.id >= 0 && left <= g.reserve {
		only(logits, g.id)
		return
	}
	for _, s := range g.stops {
		if s >= 0 && s < len(logits) {
			logits[s] = negInf
		}
	}
	for _, id := range g.cands {
		if int(id) >= len(logits) {
			continue
		}
		if rest, ok := completes(g.tail, g.v.Bytes(int(id)), g.mark); ok && !g.call.Allows(rest, left) {
			logits[id] = negInf
		}
	}
}

// accept takes a reasoning token's bytes; once they close the block it
// returns the call, fed with what the token wrote after the mark.
func (g *gate) accept(bs []byte) (*grammar.Constraint, error) {
	g.tail = append(g.tail, bs...)
	i := bytes.Index(g.tail, g.mark)
	if i < 0 {
		if keep := len(g.mark) - 1; len(g.tail) > keep {
			g.tail = append(g.tail[:0], g.tail[len(g.tail)-keep:]...)
		}
		return nil, nil
	}
	if !g.call.Feed(g.tail[i+len(g.mark):]) {
		return nil, fmt.Errorf("grammar: the text after %s does not begin the forced call", g.mark)
	}
	return g.call, nil
}

// completes reports whether bs, after tail (which does not hold mark),
// completes mark, and what it writes after it. It allocates nothing.
func completes(tail, bs, mark []byte) ([]byte, bool) {
	n := len(tail) + len(bs)
	for s := 0; s+len(mark) <= n; s++ {
		j := 0
		for ; j < len(mark); j++ {
			k := s + j
			b := byte(0)
			if k < len(tail) {
				b = tail[k]
			} else {
				b = bs[k-len(tail)]
			}
			if b != mark[j] {
				break
			}
		}
		if j == len(mark) {
			return bs[s+len(mark)-len(tail):], true
		}
	}
	return nil, false
}
