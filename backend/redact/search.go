package redact

import (
	"bytes"
	"strings"
)

// The searches behind Cutter.scan.

// leftmost returns the offset of the first needle occurrence in pend at or
// after i and the index of the longest needle there, or len(pend), -1.
func (c *Cutter) leftmost(pend []byte, i int, next []int) (p, n int) {
	p, n = len(pend), -1
	for j := range c.needles {
		if next[j] < i { // unknown, or before i: search again
			next[j] = len(pend)
			if k := c.index(pend[i:], j); k >= 0 {
				next[j] = i + k
			}
		}
		if next[j] < p { // needles go longest first: a tie keeps the longer
			p, n = next[j], j
		}
	}
	return p, n
}

// partial returns the first offset q in [i, p] at which pend[q:] is a
// proper prefix of a needle, so that more input could make a needle start
// at q, or -1.
func (c *Cutter) partial(pend []byte, i, p int) int {
	if len(pend) == 0 {
		return -1
	}
	for _, pre := range c.endsWith[pend[len(pend)-1]] {
		q := len(pend) - int(pre.len)
		switch {
		case q < i:
			continue
		case q > p:
			return -1 // shorter prefixes start later still
		}
		if needle := c.needles[pre.needle]; pend[q] == needle[0] && bytes.Equal(pend[q:], needle[:pre.len]) {
			return q
		}
	}
	return -1
}

// index is bytes.Index(s, c.needles[j]), but it looks for the needle's
// rarest byte rather than its first: a key's first byte ('s' of "sk-") is
// common in text, so IndexByte would stop at every other word. Should the
// rare byte turn out common after all, it leaves the search to
// bytes.Index, as bytes.Index itself gives up on IndexByte.
func (c *Cutter) index(s []byte, j int) int {
	needle, a := c.needles[j], c.anchors[j]
	last := len(s) - len(needle) // the last offset the needle can start at
	for start, fails := 0, 0; start <= last; start, fails = start+1, fails+1 {
		k := bytes.IndexByte(s[start+a:last+a+1], needle[a])
		if k < 0 {
			return -1
		}
		if start += k; bytes.Equal(s[start:start+len(needle)], needle) {
			return start
		}
		if fails > 4+start>>4 {
			if k := bytes.Index(s[start+1:], needle); k >= 0 {
				return start + 1 + k
			}
			return -1
		}
	}
	return -1
}

// rarest returns the offset of the needle byte least likely in the text
// providers send (JSON, English, code), by a rough ranking: capitals and
// symbols are rarer than digits, digits than lowercase letters, and those
// than the space, quotes and punctuation of JSON.
func rarest(needle []byte) int {
	best := 0
	for k, b := range needle {
		if commonness(b) < commonness(needle[best]) {
			best = k
		}
	}
	return best
}

func commonness(b byte) int {
	switch {
	case strings.IndexByte(" \n\":,{}etaoinsrlhcdu", b) >= 0:
		return 4
	case 'a' <= b && b <= 'z':
		return 3
	case '0' <= b && b <= '9':
		return 2
	case strings.IndexByte("ETAOINSR.-_/", b) >= 0:
		return 1
	}
	return 0
}
