package tokenizer

import (
	"sort"
	"strings"
)

// Segment is one piece of the text EncodeSegments encodes.
type Segment struct {
	Text string
	// Special lets the text of an added token written in Text become that
	// token. Text that comes from a request (a user's message, a tool
	// result, a web page an agent read) leaves it false and is encoded as
	// the characters it is, whatever it spells.
	Special bool
}

// EncodeSegments encodes the concatenation of segs as Encode encodes it,
// except that an added token is only matched where its text lies entirely
// inside Special segments (adjacent Special segments count as one run).
// "<|im_end|>" in a segment that is not Special, or half of it in one and
// half in the next, stays text.
//
// This holds for every added token, special or not: Qwen's "<tool_call>"
// or "<think>" pasted by a user reach the model as characters, not as the
// markers the model's own output uses.
//
// The text between two matched tokens is normalized, pre-tokenized and
// encoded as one run whatever segments it spans, exactly as Encode does:
// when no segment that is not Special holds (part of) an added token, the
// ids equal Encode(concatenation).
func (t *Tokenizer) EncodeSegments(segs []Segment, addSpecial bool) []int {
	var b strings.Builder
	var runs []span // allowed runs, ascending and disjoint
	for _, s := range segs {
		lo := b.Len()
		b.WriteString(s.Text)
		hi := b.Len()
		if !s.Special || hi == lo {
			continue
		}
		if n := len(runs); n > 0 && runs[n-1].end == lo {
			runs[n-1].end = hi
		} else {
			runs = append(runs, span{lo, hi})
		}
	}
	text := b.String()
	ids := make([]int, 0, len(text)/3+len(t.prefix)+len(t.suffix)+1)
	if addSpecial {
		ids = append(ids, t.prefix...)
	}
	e := encoder{t: t, ids: ids}
	if len(runs) != 1 || runs[0] != (span{0, len(text)}) {
		e.allowed = append([]span{}, runs...) // not nil: nothing Special allows nothing
	}
	if t.rawAdded == nil {
		e.section(text, 0)
	} else {
		var within func(int) int
		if e.allowed != nil {
			within = e.within
		}
		t.rawAdded.splitWithin(text, within, e.section, e.token)
	}
	if addSpecial {
		e.ids = append(e.ids, t.suffix...)
	}
	return e.ids
}

// span is the byte range [start, end).
type span struct{ start, end int }

// within returns the end of the allowed run that holds byte i of the
// input, or i when i is in none.
func (e *encoder) within(i int) int {
	k := sort.Search(len(e.allowed), func(k int) bool { return e.allowed[k].end > i })
	if k < len(e.allowed) && e.allowed[k].start <= i {
		return e.allowed[k].end
	}
	return i
}

// normWithin is within for the normalized text of the section s that
// starts at byte lo of the input, whose normalization is ns: it maps the
// allowed runs through the normalizer, taking the end of the normalization
// of each prefix of s as its position in ns. When a normalizer does not
// keep prefixes (normalize(s[:k]) is not a prefix of ns, as NFC may do
// where a combining character follows the boundary) nothing is allowed in
// the section: a token the normalized matcher would find there is encoded
// as text rather than risk one that spans untrusted text.
func (e *encoder) normWithin(s string, lo int, ns string) func(int) int {
	var runs []span
	pos := func(k int) (int, bool) {
		if e.t.norm == nil {
			return k, true
		}
		p := e.t.norm.normalize(s[:k])
		return len(p), strings.HasPrefix(ns, p)
	}
	for _, r := range e.allowed {
		a, b := max(r.start, lo)-lo, min(r.end, lo+len(s))-lo
		if a >= b {
			continue
		}
		na, ok1 := pos(a)
		nb, ok2 := pos(b)
		if b == len(s) {
			nb, ok2 = len(ns), true
		}
		if !ok1 || !ok2 {
			return func(i int) int { return i }
		}
		runs = append(runs, span{na, nb})
	}
	return func(i int) int {
		for _, r := range runs {
			if r.start <= i && i < r.end {
				return r.end
			}
		}
		return i
	}
}

// allowsAll reports whether the whole section s at byte lo may hold
// tokens.
func (e *encoder) allowsAll(s string, lo int) bool {
	return e.allowed == nil || len(s) == 0 || e.within(lo) >= lo+len(s)
}
