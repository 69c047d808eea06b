package router

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzCompilePattern: CompilePattern and Match never panic; a pattern
// accepted without metacharacters is exact and matches only itself; and
// for short patterns and names, compiling and matching agree with
// fnmatchRegexp, a reference that follows CPython's fnmatch.translate step
// by step, with modelbar's documented departures (an unclosed `[` and a
// reversed range are refused, not read as a literal and an empty set).
func FuzzCompilePattern(f *testing.F) {
	for _, s := range [][2]string{
		{"gpt-4o", "gpt-4o"}, {"gpt-*", "gpt-4o-mini"}, {"*/Qwen*", "mlx-community/Qwen3-4B"},
		{"claude-3-?-*", "claude-3-5-sonnet"}, {"model-[!a-c]", "model-d"}, {"model-[^a-c]", "model-^"},
		{"model-[]x]", "model-]"}, {"[]-a]", "_"}, {"[!]-a]x", "]x"}, {"[a-]]", "-]"}, {"[a-b-c]", "-"},
		{"[a-b--z]", "q"}, {"[--/]", "."}, {"[!-a]", "b"}, {"[a--]", "a"}, {"[z-a]", "z"}, {"[!]", "!"},
		{"a*b*c", "aXXbYYc"}, {"a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaa"}, {"**", "x/y"}, {"?", "é"},
		{"[é-ü]?", "ñ\n"}, {"[\\]", "\\"}, {"x[[]y", "x[y"}, {"model-[a-c", "model-["}, {"\uFFFD*", "\xff"},
		{" gpt", " gpt"}, {"gpt\u2028", "gpt"}, {"", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		// Model names come out of JSON strings, which decode invalid UTF-8
		// as U+FFFD: a name is always valid UTF-8.
		name = strings.ToValidUTF8(name, "\uFFFD")
		p, err := CompilePattern(pattern)
		got := p.Match(name) // the zero Pattern too
		if err == nil && !strings.ContainsAny(pattern, "*?[") {
			if !p.IsExact() || !p.Match(pattern) || got != (name == pattern) {
				t.Fatalf("%q: exact=%v, matches itself=%v, matches %q=%v", pattern, p.IsExact(), p.Match(pattern), name, got)
			}
		}
		if err != nil && got {
			t.Fatalf("a refused pattern %q matches %q", pattern, name)
		}
		if len(pattern) > 32 || len(name) > 64 {
			return
		}
		re, refErr := fnmatchRegexp(pattern)
		switch {
		case err != nil && refErr == nil:
			t.Fatalf("CompilePattern(%q) refuses (%v) what the reference accepts as %s", pattern, err, re)
		case err == nil && refErr != nil:
			t.Fatalf("CompilePattern(%q) accepts what the reference refuses: %v", pattern, refErr)
		case err == nil && re.MatchString(name) != got:
			t.Fatalf("%q.Match(%q) = %v, the reference %s says %v", pattern, name, got, re, !got)
		}
	})
}

// fnmatchRegexp translates a pattern as CPython's fnmatch.translate does
// (Lib/fnmatch.py, 3.9 and later), over runes, into a Go regexp: `*` is
// `.*` and `?` is `.`, both crossing `/` and newlines; in `[...]` a leading
// `!` negates, a `]` right after `[` or `[!` is a member, `-` between two
// members makes a range (the search for the next `-` resuming two runes
// after the range's end, so `a-b-c` is a range, `-` and `c`), a leading or
// trailing `-` is a member, and `^` and `\` are ordinary members. Every
// pattern rune is written as \x{...}, so nothing in the pattern is read as
// regexp syntax.
//
// Where modelbar departs from fnmatch it refuses: an empty pattern, invalid
// UTF-8, surrounding spaces, control characters (checkPatternText); an
// unclosed `[`, which fnmatch reads as a literal; and a reversed range,
// which fnmatch drops.
func fnmatchRegexp(pattern string) (*regexp.Regexp, error) {
	switch {
	case pattern == "", !utf8.ValidString(pattern), strings.TrimSpace(pattern) != pattern,
		strings.IndexFunc(pattern, unicode.IsControl) >= 0:
		return nil, fmt.Errorf("refused text %q", pattern)
	}
	pat := []rune(pattern)
	var re strings.Builder
	re.WriteString(`(?s)\A`)
	for i := 0; i < len(pat); {
		c := pat[i]
		i++
		switch c {
		case '*':
			re.WriteString(`.*`)
		case '?':
			re.WriteString(`.`)
		case '[':
			class, next, err := fnmatchClass(pat, i)
			if err != nil {
				return nil, err
			}
			re.WriteString(class)
			i = next
		default:
			re.WriteString(runeRE(c))
		}
	}
	re.WriteString(`\z`)
	return regexp.Compile(re.String())
}

// fnmatchClass translates the set whose body starts at pat[i] (just after
// its `[`) and returns the regexp class and the index after its `]`.
func fnmatchClass(pat []rune, i int) (string, int, error) {
	j := i
	if j < len(pat) && pat[j] == '!' {
		j++
	}
	if j < len(pat) && pat[j] == ']' {
		j++
	}
	for j < len(pat) && pat[j] != ']' {
		j++
	}
	if j >= len(pat) {
		return "", 0, fmt.Errorf("unclosed [ at rune %d", i-1)
	}
	negate := pat[i] == '!'
	start := i
	if negate {
		start++
	}
	// CPython's chunks: the body split at the hyphens that make ranges.
	var chunks [][]rune
	k := start + 1
	for {
		at := slices.Index(pat[k:j], '-')
		if at < 0 {
			break
		}
		k += at
		chunks = append(chunks, slices.Clone(pat[start:k]))
		start, k = k+1, k+3
		if k > j {
			k = j
		}
	}
	if last := pat[start:j]; len(last) > 0 {
		chunks = append(chunks, slices.Clone(last))
	} else {
		chunks[len(chunks)-1] = append(chunks[len(chunks)-1], '-')
	}
	var class strings.Builder
	class.WriteString("[")
	if negate {
		class.WriteString("^")
	}
	for n, chunk := range chunks {
		if n > 0 {
			if lo, hi := chunks[n-1][len(chunks[n-1])-1], chunk[0]; lo > hi {
				return "", 0, fmt.Errorf("reversed range %q-%q", lo, hi)
			}
			class.WriteString("-")
		}
		for _, r := range chunk {
			class.WriteString(runeRE(r))
		}
	}
	class.WriteString("]")
	return class.String(), j + 1, nil
}

func runeRE(r rune) string { return fmt.Sprintf(`\x{%x}`, r) }
