package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// The pre-tokenizer patterns of Llama 3 and of Qwen 2/2.5/3, which a
// hand-written scanner implements (see scanner). They differ only in how
// many digits one piece may hold.
const (
	llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	qwen2Pattern  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// scanner is a matcher for llama3Pattern (maxDigits 3) and qwen2Pattern
// (maxDigits 1) that walks the text once instead of backtracking. It finds
// the same matches as the regular expression run by regexp2 (a test checks
// this on the reference corpus and under fuzzing): \s is Unicode White_Space,
// \p{L} and \p{N} are Go's unicode tables, and a byte that is not valid UTF-8
// counts as one character that is none of these, as regexp2 sees it (U+FFFD).
//
// The alternatives are tried in the pattern's order at each position, and
// since every character starts some alternative the matches tile the text.
type scanner struct {
	maxDigits int
}

func (sc scanner) findAll(s string, fn func(lo, hi int)) {
	for i := 0; i < len(s); {
		j := sc.matchAt(s, i)
		fn(i, j)
		i = j
	}
}

// matchAt returns the end of the match that starts at s[i].
func (sc scanner) matchAt(s string, i int) int {
	c, size := decodeRune(s, i)
	// (?i:'s|'t|'re|'ve|'m|'ll|'d)
	if c == '\'' {
		if n := contraction(s[i+1:]); n > 0 {
			return i + 1 + n
		}
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if isLetter(c) {
		return skipLetters(s, i+size)
	}
	if c != '\r' && c != '\n' && !isNumber(c) && i+size < len(s) {
		if c2, size2 := decodeRune(s, i+size); isLetter(c2) {
			return skipLetters(s, i+size+size2)
		}
	}
	// \p{N}{1,3}
	if isNumber(c) {
		j := i + size
		for k := 1; k < sc.maxDigits && j < len(s); k++ {
			r, n := decodeRune(s, j)
			if !isNumber(r) {
				break
			}
			j += n
		}
		return j
	}
	// ' '?[^\s\p{L}\p{N}]+[\r\n]*
	if j := i; isSymbol(c) || c == ' ' && i+1 < len(s) {
		if c == ' ' {
			j++
		}
		if r, _ := decodeRune(s, j); isSymbol(r) {
			for j < len(s) {
				r, n := decodeRune(s, j)
				if !isSymbol(r) {
					break
				}
				j += n
			}
			for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
				j++
			}
			return j
		}
	}
	return matchSpaces(s, i)
}

// matchSpaces matches the whitespace alternatives at s[i], a space character:
// \s*[\r\n]+ (the run up to its last line break), else \s+(?!\S) (the run,
// less its last character when more text follows), else \s+.
func matchSpaces(s string, i int) int {
	end, last, newline := i, i, -1
	for end < len(s) {
		r, n := decodeRune(s, end)
		if !unicode.IsSpace(r) {
			break
		}
		if r == '\r' || r == '\n' {
			newline = end
		}
		last = end
		end += n
	}
	switch {
	case newline >= 0:
		return newline + 1
	case end == len(s) || last == i:
		return end
	default:
		return last
	}
}

// contraction returns the length of 's, 't, 're, 've, 'm, 'll or 'd
// (ASCII case-insensitively) after the apostrophe, or 0.
func contraction(s string) int {
	if len(s) == 0 {
		return 0
	}
	switch s[0] | 0x20 {
	case 's', 't', 'm', 'd':
		return 1
	case 'r', 'v', 'l':
		want := byte('e')
		if s[0]|0x20 == 'l' {
			want = 'l'
		}
		if len(s) >= 2 && s[1]|0x20 == want {
			return 2
		}
	}
	return 0
}

func skipLetters(s string, j int) int {
	for j < len(s) {
		r, n := decodeRune(s, j)
		if !isLetter(r) {
			break
		}
		j += n
	}
	return j
}

// decodeRune decodes the character at s[i]; an invalid byte is one
// character, U+FFFD.
func decodeRune(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

func isLetter(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r|0x20 && r|0x20 <= 'z'
	}
	return unicode.IsLetter(r)
}

func isNumber(r rune) bool {
	if r < utf8.RuneSelf {
		return '0' <= r && r <= '9'
	}
	return unicode.IsNumber(r)
}

// isSymbol is [^\s\p{L}\p{N}].
func isSymbol(r rune) bool {
	return !isLetter(r) && !isNumber(r) && !unicode.IsSpace(r)
}
