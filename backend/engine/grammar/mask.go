package grammar

import (
	"fmt"
	"math"
	"slices"
)

// Vocab is a tokenizer's vocabulary as a byte trie, for masks. Build it
// once per model; it is immutable and safe for concurrent use.
type Vocab struct {
	size  int
	nodes []trieNode
	edges []edge
	ids   []int32 // tokens ending at a node: nodes[i].ids indexes here
	bytes [][]byte
}

type trieNode struct {
	edges  int32 // first edge
	nedges int32
	ids    int32 // first token id in Vocab.ids
	nids   int32
}

type edge struct {
	b     byte
	child int32
}

// NewVocab builds the trie of tokens, where tokenBytes gives the bytes a
// token stands for in the middle of a text; a token for which it returns
// nil (special tokens, unknown ids) is never allowed by a mask.
func NewVocab(size int, tokenBytes func(id int) []byte) *Vocab {
	type build struct {
		kids map[byte]int
		ids  []int32
	}
	tree := []build{{kids: map[byte]int{}}}
	v := &Vocab{size: size, bytes: make([][]byte, size)}
	for id := range size {
		bs := tokenBytes(id)
		if len(bs) == 0 {
			continue
		}
		v.bytes[id] = bs
		at := 0
		for _, b := range bs {
			next, ok := tree[at].kids[b]
			if !ok {
				next = len(tree)
				tree = append(tree, build{kids: map[byte]int{}})
				tree[at].kids[b] = next
			}
			at = next
		}
		tree[at].ids = append(tree[at].ids, int32(id))
	}
	// Flatten, children in byte order.
	v.nodes = make([]trieNode, len(tree))
	for i, t := range tree {
		n := &v.nodes[i]
		n.ids, n.nids = int32(len(v.ids)), int32(len(t.ids))
		v.ids = append(v.ids, t.ids...)
		n.edges, n.nedges = int32(len(v.edges)), int32(len(t.kids))
		keys := make([]byte, 0, len(t.kids))
		for b := range t.kids {
			keys = append(keys, b)
		}
		slices.Sort(keys)
		for _, b := range keys {
			v.edges = append(v.edges, edge{b, int32(t.kids[b])})
		}
	}
	return v
}

// Size is the number of token ids.
func (v *Vocab) Size() int { return v.size }

// Constraint masks a generation's logits to the tokens the grammar
// allows. Not safe for concurrent use: one per generation.
type Constraint struct {
	m       *Matcher
	v       *Vocab
	stops   []int // allowed when the document is complete
	allowed []int32
	keep    []float32
}

// NewConstraint starts constraining a generation to g over v; stops are
// the tokens that end it (allowed only once the document is complete).
func NewConstraint(g *Grammar, v *Vocab, stops []int) *Constraint {
	return &Constraint{m: g.NewMatcher(), v: v, stops: stops}
}

// Mask sets to -Inf the logits of the tokens that may not come next: those
// the grammar rejects, and those after which the document could no longer
// be finished in left more tokens. Stop tokens are allowed only when the
// document is complete. It allocates nothing once its buffers have grown.
func (c *Constraint) Mask(logits []float32, left int) {
	c.allowed = c.allowed[:0]
	c.walk(0, left)
	if len(c.allowed) == 0 && left >= 0 { // the budget binds past what one token can do: grammar only
		c.walk(0, math.MaxInt32)
	}
	if c.m.Complete() {
		for _, s := range c.stops {
			c.allowed = append(c.allowed, int32(s))
		}
	}
	c.keep = c.keep[:0]
	for _, id := range c.allowed {
		if int(id) < len(logits) {
			c.keep = append(c.keep, logits[id])
		}
	}
	inf := float32(math.Inf(-1))
	for i := range logits {
		logits[i] = inf
	}
	k := 0
	for _, id := range c.allowed {
		if int(id) < len(logits) {
			logits[id] = c.keep[k]
			k++
		}
	}
}

// walk visits the trie below node with the matcher's state, adding the
// tokens it can consume; a rejected byte skips its whole subtree.
func (c *Constraint) walk(node int32, left int) {
	n := c.v.nodes[node]
	for _, e := range c.v.edges[n.edges : n.edges+n.nedges] {
		k := c.m.mark()
		if c.m.feed(e.b) {
			child := c.v.nodes[e.child]
			if child.nids > 0 && c.m.Dist() <= left {
				c.allowed = append(c.allowed, c.v.ids[child.ids:child.ids+child.nids]...)
			}
			if child.nedges > 0 {
				c.walk(e.child, left)
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
