package grammar

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"
)

// Vocab is a tokenizer's vocabulary as byte tries, for masks. Build it
// once per model; it is immutable and safe for concurrent use.
type Vocab struct {
	size  int
	all   trie // every token
	other trie // the tokens that are not plain string text
	bytes [][]byte
	// chars is, for a token that is plain string text (whole UTF-8
	// characters, no quote, backslash or control character), its number
	// of characters; -1 for the others. Inside a string such a token
	// always continues it, so the mask takes them without walking.
	chars  []int32
	plain  []uint64 // bitset of the plain tokens
	nplain int
}

type trie struct {
	nodes []trieNode
	edges []edge
	ids   []int32 // tokens ending at a node: nodes[i].ids indexes here
}

type trieNode struct {
	edges, nedges int32 // its edges: edges[edges:edges+nedges], in byte order
	ids, nids     int32
}

type edge struct {
	b     byte
	child int32
}

// NewVocab builds the tries of tokens, where tokenBytes gives the bytes a
// token stands for in the middle of a text; a token for which it returns
// nil (special tokens, unknown ids) is never allowed by a mask.
func NewVocab(size int, tokenBytes func(id int) []byte) *Vocab {
	v := &Vocab{size: size, bytes: make([][]byte, size), chars: make([]int32, size), plain: make([]uint64, (size+63)/64)}
	var all, other []int
	for id := range size {
		v.chars[id] = -1
		bs := tokenBytes(id)
		if len(bs) == 0 {
			continue
		}
		v.bytes[id] = bs
		all = append(all, id)
		if n, ok := plainText(bs); ok {
			v.chars[id] = int32(n)
			v.plain[id/64] |= 1 << (id % 64)
			v.nplain++
		} else {
			other = append(other, id)
		}
	}
	v.all = buildTrie(v.bytes, all)
	v.other = buildTrie(v.bytes, other)
	return v
}

// plainText reports whether bs is text a JSON string holds as it is, and
// its number of characters.
func plainText(bs []byte) (int, bool) {
	if !utf8.Valid(bs) {
		return 0, false
	}
	n := 0
	for _, r := range string(bs) {
		if r == '"' || r == '\\' || r < 0x20 || r == utf8.RuneError {
			return 0, false
		}
		n++
	}
	return n, true
}

// buildTrie builds the trie of ids' tokens: sorted by their bytes, the
// tokens below a node are a contiguous run, whose runs by next byte are
// its children (no maps: a 150,000-token vocabulary builds in a fraction
// of a second).
func buildTrie(tokens [][]byte, ids []int) trie {
	sorted := make([]int32, len(ids))
	for i, id := range ids {
		sorted[i] = int32(id)
	}
	slices.SortStableFunc(sorted, func(a, b int32) int { return bytes.Compare(tokens[a], tokens[b]) })
	t := trie{nodes: []trieNode{{}}}
	t.fill(tokens, 0, sorted, 0)
	return t
}

// fill makes node's children from run (tokens that share their first
// depth bytes, sorted).
func (t *trie) fill(tokens [][]byte, node int32, run []int32, depth int) {
	i := 0
	for i < len(run) && len(tokens[run[i]]) == depth { // tokens ending here sort first
		i++
	}
	t.nodes[node].ids, t.nodes[node].nids = int32(len(t.ids)), int32(i)
	t.ids = append(t.ids, run[:i]...)
	run = run[i:]
	var groups [][]int32
	for len(run) > 0 {
		b := tokens[run[0]][depth]
		j := 1
		for j < len(run) && tokens[run[j]][depth] == b {
			j++
		}
		groups = append(groups, run[:j])
		run = run[j:]
	}
	first := int32(len(t.edges))
	t.nodes[node].edges, t.nodes[node].nedges = first, int32(len(groups))
	for _, g := range groups {
		t.edges = append(t.edges, edge{tokens[g[0]][depth], int32(len(t.nodes))})
		t.nodes = append(t.nodes, trieNode{})
	}
	for k, g := range groups {
		t.fill(tokens, t.edges[first+int32(k)].child, g, depth+1)
	}
}

// Size is the number of token ids.
func (v *Vocab) Size() int { return v.size }

// Constraint masks a generation's logits to the tokens the grammar
// allows. Not safe for concurrent use: one per generation.
type Constraint struct {
	m     *Matcher
	v     *Vocab
	stops []int    // allowed when the document is complete
	allow []uint64 // the step's allowed tokens, a bitset
	n     int      // how many
}

// NewConstraint starts constraining a generation to g over v; stops are
// the tokens that end it (allowed only once the document is complete).
func NewConstraint(g *Grammar, v *Vocab, stops []int) *Constraint {
	return &Constraint{m: g.NewMatcher(), v: v, stops: stops, allow: make([]uint64, len(v.plain))}
}

// Mask sets to -Inf the logits of the tokens that may not come next: those
// the grammar rejects, and those after which the document could no longer
// be finished in left more tokens. Stop tokens are allowed only when the
// document is complete (without stops, a complete document that nothing
// may continue leaves every logit at -Inf: the caller ends there). It
// allocates nothing. At a dead end, when the document is incomplete and no
// token may come next (a vocabulary without a byte the document needs, or
// a grammar bug), it returns ErrDeadEnd and leaves the logits as they are.
func (c *Constraint) Mask(logits []float32, left int) error {
	c.allowed(left)
	if c.n == 0 { // the budget binds past what one token can do: the grammar alone
		c.allowed(math.MaxInt32)
	}
	if c.m.Complete() { // the answer may end
		for _, s := range c.stops {
			if s >= 0 && s < c.v.size && c.allow[s/64]&(1<<(s%64)) == 0 {
				c.allow[s/64] |= 1 << (s % 64)
				c.n++
			}
		}
	}
	if c.n == 0 && !c.m.Complete() {
		return ErrDeadEnd
	}
	inf := float32(math.Inf(-1))
	for i := range logits {
		if i >= c.v.size || c.allow[i/64]&(1<<(i%64)) == 0 {
			logits[i] = inf
		}
	}
	return nil
}

// ErrDeadEnd: no token of the vocabulary continues the document, and it is
// not complete.
var ErrDeadEnd = errors.New("grammar: dead end: no token of the model's vocabulary continues the constrained JSON")

// allowed fills the bitset with the tokens the grammar and the budget let
// come next.
func (c *Constraint) allowed(left int) {
	clear(c.allow)
	c.n = 0
	if pos, minLen, maxLen, ok := c.m.plainString(); ok {
		c.plainTokens(pos, minLen, maxLen, left)
		c.walk(&c.v.other, 0, left)
		return
	}
	c.walk(&c.v.all, 0, left)
}

// plainTokens allows, inside a string, the plain-text tokens that fit its
// length limits and the budget.
func (c *Constraint) plainTokens(pos, minLen, maxLen, left int) {
	tail := c.m.Dist() - max(0, minLen-pos) - 1 // what follows the string
	if maxLen < 0 && c.m.Dist() <= left {       // every plain token: the common case
		copy(c.allow, c.v.plain)
		c.n += c.v.nplain
		return
	}
	for id, n := range c.v.chars {
		if n < 0 || (maxLen >= 0 && pos+int(n) > maxLen) || tail+max(0, minLen-pos-int(n))+1 > left {
			continue
		}
		c.allow[id/64] |= 1 << (id % 64)
		c.n++
	}
}

// walk visits the trie below node with the matcher's state, adding the
// tokens it can consume; a rejected byte skips its whole subtree.
func (c *Constraint) walk(t *trie, node int32, left int) {
	n := t.nodes[node]
	for _, e := range t.edges[n.edges : n.edges+n.nedges] {
		k := c.m.mark()
		if c.m.feed(e.b) {
			child := t.nodes[e.child]
			if child.nids > 0 && c.m.Dist() <= left {
				for _, id := range t.ids[child.ids : child.ids+child.nids] {
					c.allow[id/64] |= 1 << (id % 64)
				}
				c.n += int(child.nids)
			}
			if child.nedges > 0 {
				c.walk(t, e.child, left)
			}
		}
		c.m.restore(k)
	}
}

// Accept advances past a sampled token (not a stop token).
func (c *Constraint) Accept(id int) error {
	if id < 0 || id >= len(c.v.bytes) || c.v.bytes[id] == nil || !c.m.Feed(c.v.bytes[id]) {
		return fmt.Errorf("grammar: token %d does not continue the document", id)
	}
	return nil
}

// Done reports whether the document is complete and nothing may follow:
// generation should end.
func (c *Constraint) Done() bool { return c.m.Done() }

// Complete reports whether the document is whole.
func (c *Constraint) Complete() bool { return c.m.Complete() }

// Feed advances past bytes the generation already holds (the rest of a
// token that opened a tool call); false, and no change, if the grammar
// rejects them.
func (c *Constraint) Feed(b []byte) bool { return c.m.Feed(b) }

// Allows reports whether bs may come next with the document still
// finishable in left more tokens, without advancing: a token whose bytes
// the caller checks itself (one that opens a call and runs on into it).
// It allocates nothing.
func (c *Constraint) Allows(bs []byte, left int) bool {
	k := c.m.mark()
	ok := true
	for _, b := range bs {
		if !c.m.feed(b) {
			ok = false
			break
		}
	}
	ok = ok && c.m.Dist() <= left
	c.m.restore(k)
	return ok
}

// Dist is the fewest bytes that finish the document (an upper bound on
// the tokens it needs: the vocabulary has a token per byte).
func (c *Constraint) Dist() int { return c.m.Dist() }

// Bytes are the bytes token id stands for in the middle of a text, nil
// for a token a mask never allows (special tokens, unknown ids). The slice
// is the Vocab's: not to be modified.
func (v *Vocab) Bytes(id int) []byte {
	if id < 0 || id >= len(v.bytes) {
		return nil
	}
	return v.bytes[id]
}
