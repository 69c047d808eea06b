package redact

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"unsafe"
)

// Cutter replaces needles (a secret's forms, see Needles) with
// "[REDACTED]" in bytes, strings and streams.
//
// Replacement is leftmost, longest: the input is scanned from its start,
// and where one or more needles begin, the longest of them is replaced and
// the scan goes on after it. The replacement itself is not scanned again.
//
// A Cutter is immutable and safe for concurrent use. A nil *Cutter cuts
// nothing. It prints as "[REDACTED]", since its needles are the secret.
type Cutter struct {
	needles [][]byte // longest first, so the first match at a position is the longest
	maxLen  int      // of the longest needle
	// endsWith[b] lists the proper prefixes of needles that end in b,
	// longest first. The tail a stream reader holds back must be one, so
	// only those that end in the last byte read are compared: none, when
	// a server-sent event ends in "\n".
	endsWith [256][]prefix
	anchors  []int // per needle, the offset of its rarest byte, which index looks for
}

// NewCutter returns a Cutter for needles, or nil if there are none; empty
// needles are ignored. The needles are copied.
func NewCutter(needles [][]byte) *Cutter {
	c := &Cutter{}
	for _, n := range needles {
		if len(n) > 0 && !slices.ContainsFunc(c.needles, func(m []byte) bool { return bytes.Equal(m, n) }) {
			c.needles = append(c.needles, bytes.Clone(n))
		}
	}
	if len(c.needles) == 0 {
		return nil
	}
	slices.SortStableFunc(c.needles, func(a, b []byte) int { return cmp.Compare(len(b), len(a)) })
	c.maxLen = len(c.needles[0])
	for j, n := range c.needles {
		for l := 1; l < len(n); l++ {
			c.endsWith[n[l-1]] = append(c.endsWith[n[l-1]], prefix{needle: int32(j), len: int32(l)})
		}
		c.anchors = append(c.anchors, rarest(n))
	}
	for _, ps := range c.endsWith {
		slices.SortStableFunc(ps, func(a, b prefix) int { return cmp.Compare(b.len, a.len) })
	}
	return c
}

// prefix is the first len bytes of c.needles[needle].
type prefix struct{ needle, len int32 }

// maxNeedles is how many needles Cut and CutString search for without
// allocating: Needles lists at most 17.
const maxNeedles = 24

// Cut returns b with every needle replaced. It returns b itself, without
// allocating, when b holds none.
func (c *Cutter) Cut(b []byte) []byte {
	if c == nil {
		return b
	}
	var next [maxNeedles]int
	out, _, cut := c.scan(nil, b, true, c.positions(next[:0]))
	if !cut {
		return b
	}
	return out
}

// CutString is Cut for a string.
func (c *Cutter) CutString(s string) string {
	if c == nil {
		return s
	}
	// scan only reads its input, so s's bytes serve as it is, saving a
	// copy of every header value that holds no needle.
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	var next [maxNeedles]int
	out, _, cut := c.scan(nil, b, true, c.positions(next[:0]))
	if !cut {
		return s
	}
	return string(out)
}

// Format prints "[REDACTED]": a Cutter's needles are its secret.
func (*Cutter) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// GoString returns "[REDACTED]".
func (*Cutter) GoString() string { return redacted }

var _ fmt.Formatter = (*Cutter)(nil)

// positions returns next sized for the needles, reusing its array.
func (c *Cutter) positions(next []int) []int {
	if cap(next) < len(c.needles) {
		return make([]int, len(c.needles))
	}
	return next[:len(c.needles)]
}

// scan cuts the needles out of pend and appends the result to dst. Unless
// final, it stops where the rest of pend could still grow into a needle
// (is a proper prefix of one) and returns that offset as held: bytes from
// there on are not settled until more input arrives. When final, held is
// len(pend). cut reports whether any needle was replaced; when none was,
// dst is returned as given and the settled output is pend[:held].
//
// next is scratch, one entry per needle: the offset of that needle's next
// occurrence, so each needle is searched for once per match, not once per
// position.
func (c *Cutter) scan(dst, pend []byte, final bool, next []int) (out []byte, held int, cut bool) {
	for j := range next {
		next[j] = -1 // not yet searched
	}
	i := 0
	for {
		p, n := c.leftmost(pend, i, next)
		if !final {
			if q := c.partial(pend, i, p); q >= 0 {
				if cut {
					dst = append(dst, pend[i:q]...)
				}
				return dst, q, cut
			}
		}
		if n < 0 {
			if cut {
				dst = append(dst, pend[i:]...)
			}
			return dst, len(pend), cut
		}
		if !cut {
			dst = append(dst, pend[:i]...)
			cut = true
		}
		dst = append(dst, pend[i:p]...)
		dst = append(dst, redacted...)
		i = p + len(c.needles[n])
	}
}
