package tokenizer

import "unicode/utf8"

// replacement is U+FFFD in UTF-8, written for each invalid sequence.
const replacement = "\uFFFD"

// appendValidUTF8 appends src to dst with every ill-formed sequence replaced
// by one U+FFFD per maximal subpart, the rule of the WHATWG TextDecoder
// (and of Unicode's "U+FFFD substitution of maximal subparts") that the
// reference implementation applies. When final is false a truncated but
// so-far valid sequence at the end of src is left unconsumed: n is the
// number of bytes of src consumed, so src[n:] is the tail to keep for later.
func appendValidUTF8(dst, src []byte, final bool) (out []byte, n int) {
	i := 0
	for i < len(src) {
		c := src[i]
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		size, st := sequenceLen(src[i:])
		switch {
		case st == seqComplete:
			dst = append(dst, src[i:i+size]...)
		case st == seqTruncated && !final:
			return dst, i // a valid prefix: wait for the rest
		default:
			dst = append(dst, replacement...)
		}
		i += size
	}
	return dst, i
}

// seqState says how a UTF-8 sequence ends.
type seqState int

const (
	seqComplete  seqState = iota // a whole character
	seqInvalid                   // ill-formed: a maximal subpart
	seqTruncated                 // valid so far, cut by the end of the input
)

// sequenceLen reports the length of the UTF-8 sequence that b starts with
// (b[0] >= 0x80): the whole character when complete, otherwise the length of
// the maximal subpart, the longest prefix of b that could begin a valid
// sequence (at least 1).
func sequenceLen(b []byte) (int, seqState) {
	need, lo, hi := 0, byte(0x80), byte(0xBF)
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c == 0xED:
		need, hi = 2, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		need = 2
	case c == 0xF0:
		need, lo = 3, 0x90
	case c == 0xF4:
		need, hi = 3, 0x8F
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	default:
		return 1, seqInvalid
	}
	for k := 1; k <= need; k++ {
		if k >= len(b) {
			return k, seqTruncated
		}
		if b[k] < lo || b[k] > hi {
			return k, seqInvalid
		}
		lo, hi = 0x80, 0xBF
	}
	return need + 1, seqComplete
}
