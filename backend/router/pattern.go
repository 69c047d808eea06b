package router

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Pattern is a compiled model-name pattern: an exact name, or an fnmatch-style
// wildcard where `*` matches any run of characters (including `/`, unlike
// path.Match), `?` one character and `[...]` one character of a set
// (`[!...]` negates it; as in Python's fnmatch, which the design follows, `^`
// is an ordinary member). Matching is case-sensitive, as fnmatch is on
// macOS. Unlike fnmatch, which reads an unclosed `[` as a literal, an unclosed
// set is refused: it is almost always a typo. The zero value matches nothing; Pattern is immutable and
// safe for concurrent use.
type Pattern struct {
	raw   string
	elems []elem
	exact bool
}

type elemKind uint8

const (
	elemLiteral elemKind = iota
	elemAny              // ?
	elemStar             // *
	elemClass            // [...]
)

type elem struct {
	kind   elemKind
	lit    rune
	class  []runeRange
	negate bool
}

type runeRange struct{ lo, hi rune }

// CompilePattern parses a pattern, refusing ones that are empty, carry
// control characters or surrounding spaces, or have a malformed `[...]` set.
func CompilePattern(raw string) (Pattern, error) {
	if err := checkPatternText(raw); err != nil {
		return Pattern{}, err
	}
	p := Pattern{raw: raw, exact: true}
	for i := 0; i < len(raw); {
		r, size := utf8.DecodeRuneInString(raw[i:])
		switch r {
		case '*':
			p.exact = false
			if n := len(p.elems); n == 0 || p.elems[n-1].kind != elemStar { // "**" == "*"
				p.elems = append(p.elems, elem{kind: elemStar})
			}
		case '?':
			p.exact = false
			p.elems = append(p.elems, elem{kind: elemAny})
		case '[':
			e, n, err := parseClass(raw[i:])
			if err != nil {
				return Pattern{}, err
			}
			p.exact = false
			p.elems = append(p.elems, e)
			size = n
		default:
			p.elems = append(p.elems, elem{kind: elemLiteral, lit: r})
		}
		i += size
	}
	return p, nil
}

func checkPatternText(raw string) error {
	switch {
	case raw == "":
		return fmt.Errorf("must not be empty")
	case !utf8.ValidString(raw):
		return fmt.Errorf("must be valid UTF-8")
	case strings.TrimSpace(raw) != raw:
		return fmt.Errorf("must not start or end with spaces")
	case strings.IndexFunc(raw, unicode.IsControl) >= 0:
		return fmt.Errorf("must not contain control characters")
	}
	return nil
}

// parseClass parses a set that starts at s[0] == '[' and returns the element
// and the number of bytes it spans. As in fnmatch, a `]` right after the
// opening bracket (or after the negation mark) is a member, not the end.
func parseClass(s string) (elem, int, error) {
	e := elem{kind: elemClass}
	i := 1
	if i < len(s) && s[i] == '!' {
		e.negate = true
		i++
	}
	first := true
	for i < len(s) {
		lo, size := utf8.DecodeRuneInString(s[i:])
		if lo == ']' && !first {
			if len(e.class) == 0 {
				return elem{}, 0, fmt.Errorf("empty character set in %q", s[:i+1])
			}
			return e, i + 1, nil
		}
		first = false
		i += size
		hi := lo
		if i+1 < len(s) && s[i] == '-' && s[i+1] != ']' {
			hi, size = utf8.DecodeRuneInString(s[i+1:])
			i += 1 + size
			if hi < lo {
				return elem{}, 0, fmt.Errorf("character range %c-%c is reversed", lo, hi)
			}
		}
		e.class = append(e.class, runeRange{lo, hi})
	}
	return elem{}, 0, fmt.Errorf("unterminated character set %q: add a closing ]", s)
}

// String returns the pattern as written.
func (p Pattern) String() string { return p.raw }

// IsExact reports whether the pattern has no wildcard and so names one model.
func (p Pattern) IsExact() bool { return p.exact }

// Match reports whether name matches the whole pattern.
func (p Pattern) Match(name string) bool {
	if p.raw == "" {
		return false
	}
	if p.exact {
		return name == p.raw
	}
	return matchElems(p.elems, name)
}

// matchElems is the classic wildcard matcher with one backtrack point: on a
// mismatch it retries from the last `*`, consuming one more character. It runs
// in O(len(elems) * len(name)) and never recurses.
func matchElems(elems []elem, name string) bool {
	ei, ni := 0, 0
	starElem, starName := -1, 0
	for ni < len(name) {
		r, size := utf8.DecodeRuneInString(name[ni:])
		if ei < len(elems) {
			e := elems[ei]
			if e.kind == elemStar {
				starElem, starName = ei, ni
				ei++
				continue
			}
			if e.matches(r) {
				ei++
				ni += size
				continue
			}
		}
		if starElem < 0 {
			return false
		}
		_, skip := utf8.DecodeRuneInString(name[starName:])
		starName += skip
		ei, ni = starElem+1, starName
	}
	for ei < len(elems) && elems[ei].kind == elemStar {
		ei++
	}
	return ei == len(elems)
}

func (e elem) matches(r rune) bool {
	switch e.kind {
	case elemLiteral:
		return e.lit == r
	case elemAny:
		return true
	case elemClass:
		in := false
		for _, rr := range e.class {
			if rr.lo <= r && r <= rr.hi {
				in = true
				break
			}
		}
		return in != e.negate
	}
	return false
}
