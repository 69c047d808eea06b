package tokenizer

import (
	"strings"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// preTokenizer cuts a normalized section of text into the words that the
// model encodes one by one.
type preTokenizer interface {
	// split calls emit with the pieces of s in order. first says whether s
	// starts at the very start of the input, and is passed on to the piece
	// that starts where s does.
	split(s string, first bool, emit func(piece string, first bool))
}

// matcher finds a pattern's matches.
type matcher interface {
	// findAll calls fn with the byte offsets of each non-empty match in s,
	// in order, without overlaps.
	findAll(s string, fn func(lo, hi int))
}

// literal matches a fixed string.
type literal string

func (l literal) findAll(s string, fn func(lo, hi int)) {
	if l == "" {
		return
	}
	for i := 0; ; {
		k := strings.Index(s[i:], string(l))
		if k < 0 {
			return
		}
		fn(i+k, i+k+len(l))
		i += k + len(l)
	}
}

// regex matches an Oniguruma-style pattern of tokenizer.json with regexp2,
// which has the look-ahead and Unicode classes that Go's RE2 lacks.
type regex struct {
	re *regexp2.Regexp
}

func compileRegex(pattern string) (regex, error) {
	re, err := regexp2.Compile(pattern, regexp2.None)
	return regex{re}, err
}

func (r regex) findAll(s string, fn func(lo, hi int)) {
	// regexp2 matches runes; offs maps rune indexes back to bytes. Like
	// []rune(s), it counts an invalid byte as one rune.
	runes := make([]rune, 0, len(s))
	offs := make([]int, 0, len(s)+1)
	for i := 0; i < len(s); {
		c, n := utf8.DecodeRuneInString(s[i:])
		runes = append(runes, c)
		offs = append(offs, i)
		i += n
	}
	offs = append(offs, len(s))
	m, err := r.re.FindRunesMatch(runes)
	for m != nil && err == nil {
		if m.Length > 0 {
			fn(offs[m.Index], offs[m.Index+m.Length])
		}
		m, err = r.re.FindNextMatch(m)
	}
}

// splitBehavior is what Split does with a match (tokenizers'
// SplitDelimiterBehavior).
type splitBehavior int

const (
	removed splitBehavior = iota
	isolated
	mergedWithPrevious
	mergedWithNext
	contiguous
)

var splitBehaviors = map[string]splitBehavior{
	"Removed":            removed,
	"Isolated":           isolated,
	"MergedWithPrevious": mergedWithPrevious,
	"MergedWithNext":     mergedWithNext,
	"Contiguous":         contiguous,
}

// splitPre is the Split pre-tokenizer: it cuts at a pattern's matches (or,
// inverted, keeps the matches as the pieces and cuts at the rest).
type splitPre struct {
	m        matcher
	behavior splitBehavior
	invert   bool
}

// segment is a piece of the text and whether it is a delimiter.
type segment struct {
	lo, hi int
	delim  bool
}

func (p splitPre) split(s string, first bool, emit func(string, bool)) {
	out := func(lo, hi int) {
		if hi > lo {
			emit(s[lo:hi], first && lo == 0)
		}
	}
	if p.behavior == isolated {
		prev := 0
		p.m.findAll(s, func(lo, hi int) {
			out(prev, lo)
			out(lo, hi)
			prev = hi
		})
		out(prev, len(s))
		return
	}
	var segs []segment
	prev := 0
	p.m.findAll(s, func(lo, hi int) {
		if lo > prev {
			segs = append(segs, segment{prev, lo, p.invert})
		}
		segs = append(segs, segment{lo, hi, !p.invert})
		prev = hi
	})
	if prev < len(s) {
		segs = append(segs, segment{prev, len(s), p.invert})
	}
	for _, sg := range p.group(segs) {
		out(sg.lo, sg.hi)
	}
}

// group applies the behavior to the segments, as tokenizers'
// NormalizedString::split does: for "the-final--countdown" cut at "-",
// Removed gives the|final|countdown, MergedWithPrevious the-|final-|-|countdown,
// MergedWithNext the|-final|-|-countdown, Contiguous the|-|final|--|countdown.
func (p splitPre) group(segs []segment) []segment {
	var out []segment
	switch p.behavior {
	case removed:
		for _, sg := range segs {
			if !sg.delim {
				out = append(out, sg)
			}
		}
	case mergedWithPrevious, contiguous:
		for i, sg := range segs {
			last := len(out) - 1
			prevDelim := i > 0 && segs[i-1].delim
			if last >= 0 && sg.delim && (prevDelim == (p.behavior == contiguous)) {
				out[last].hi = sg.hi
			} else {
				out = append(out, sg)
			}
		}
	case mergedWithNext:
		// MergedWithPrevious read from the end.
		for i := len(segs) - 1; i >= 0; i-- {
			sg, last := segs[i], len(out)-1
			nextDelim := i+1 < len(segs) && segs[i+1].delim
			if last >= 0 && sg.delim && !nextDelim {
				out[last].lo = sg.lo
			} else {
				out = append(out, sg)
			}
		}
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

// byteLevelPre is the ByteLevel pre-tokenizer. The mapping of bytes to
// GPT-2's alphabet is left to the model (see bpe.byteMode), so pieces stay
// raw UTF-8 here; this adds the prefix space and, with use_regex, applies
// GPT-2's own split.
type byteLevelPre struct {
	addPrefixSpace bool
	gpt2           *splitPre // nil unless use_regex
}

// gpt2Pattern is the split that ByteLevel applies when use_regex is true.
const gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

func (p byteLevelPre) split(s string, first bool, emit func(string, bool)) {
	if p.addPrefixSpace && !strings.HasPrefix(s, " ") {
		s = " " + s
	}
	if p.gpt2 == nil {
		emit(s, first)
		return
	}
	p.gpt2.split(s, first, emit)
}

// prependScheme says when Metaspace adds the replacement character in front.
type prependScheme int

const (
	prependAlways prependScheme = iota
	prependFirst                // only at the start of the input
	prependNever
)

// metaspacePre is the Metaspace pre-tokenizer of SentencePiece-style
// tokenizers: spaces become the replacement character ("▁"), which is also
// put in front of the text, and the text is cut before each of them.
type metaspacePre struct {
	replacement string
	scheme      prependScheme
	cut         *splitPre // nil unless split is true
}

func (p metaspacePre) split(s string, first bool, emit func(string, bool)) {
	s = strings.ReplaceAll(s, " ", p.replacement)
	if !strings.HasPrefix(s, p.replacement) &&
		(p.scheme == prependAlways || p.scheme == prependFirst && first) {
		s = p.replacement + s
	}
	if p.cut == nil {
		emit(s, first)
		return
	}
	p.cut.split(s, first, emit)
}

// sequencePre runs pre-tokenizers one after the other, each on the pieces of
// the one before.
type sequencePre []preTokenizer

func (q sequencePre) split(s string, first bool, emit func(string, bool)) {
	q.from(0, s, first, emit)
}

func (q sequencePre) from(k int, s string, first bool, emit func(string, bool)) {
	if k == len(q) {
		emit(s, first)
		return
	}
	q[k].split(s, first, func(piece string, f bool) { q.from(k+1, piece, f, emit) })
}
