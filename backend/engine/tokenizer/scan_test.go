package tokenizer

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// corpusTexts returns the texts of testdata/corpus.json.
func corpusTexts(t testing.TB) []string {
	t.Helper()
	data, err := os.ReadFile("testdata/corpus.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct{ Text string }
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	texts := make([]string, len(cases))
	for i, c := range cases {
		texts[i] = c.Text
	}
	return texts
}

// scannerEdgeCases probe each alternative of the pattern and its borders.
var scannerEdgeCases = []string{
	"", " ", "  ", "\n", " \n", "\n ", "a \n b", "x  \t y", "\t\tz", "'s", "'S", "'ll", "'LL", "'lL", "'l",
	"'re'", "''s", "a's'", "'x", " 'd", "1", "1234", "12345678", "x1y22z333", "!!", " !!", " !!\n\n", "!\r\n",
	"a\u00a0b", "\u00a0\u00a0b", "\u3000x", "a\u2028b", "\u0301a", " \u0301", "é", "\xff", "\xff\xfe a", "a\xc3",
	"😀", " 😀", "😀a", "\u200d", "٣٤", "½x", "Ⅻ", " \r\n\r\n x", "\r\r\r", "x\n  ", "  x  ",
}

func TestScanner_MatchesRegexp2(t *testing.T) {
	texts := append(corpusTexts(t), scannerEdgeCases...)
	for _, tt := range []struct {
		name    string
		pattern string
		sc      scanner
	}{{"llama3", llama3Pattern, scanner{3}}, {"qwen2", qwen2Pattern, scanner{1}}} {
		re, err := compileRegex(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range texts {
			if diff := cmp.Diff(matches(re, text), matches(tt.sc, text)); diff != "" {
				t.Errorf("%s %q (-regexp2 +scanner):\n%s", tt.name, text, diff)
			}
		}
	}
}

// FuzzScanner_MatchesRegexp2 checks that the hand-written scanner finds
// the same pieces as regexp2 running the patterns, on any input.
func FuzzScanner_MatchesRegexp2(f *testing.F) {
	for _, s := range append(corpusTexts(f), scannerEdgeCases...) {
		f.Add(s)
	}
	llama, err := compileRegex(llama3Pattern)
	if err != nil {
		f.Fatal(err)
	}
	qwen, err := compileRegex(qwen2Pattern)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if diff := cmp.Diff(matches(llama, s), matches(scanner{3}, s)); diff != "" {
			t.Errorf("llama3 %q (-regexp2 +scanner):\n%s", s, diff)
		}
		if diff := cmp.Diff(matches(qwen, s), matches(scanner{1}, s)); diff != "" {
			t.Errorf("qwen2 %q (-regexp2 +scanner):\n%s", s, diff)
		}
	})
}

func matches(m matcher, s string) []string {
	out := []string{}
	m.findAll(s, func(lo, hi int) { out = append(out, s[lo:hi]) })
	return out
}

func TestSplit_Behaviors(t *testing.T) {
	const text = "the-final--countdown"
	tests := []struct {
		behavior splitBehavior
		invert   bool
		want     []string
	}{
		{removed, false, []string{"the", "final", "countdown"}},
		{isolated, false, []string{"the", "-", "final", "-", "-", "countdown"}},
		{mergedWithPrevious, false, []string{"the-", "final-", "-", "countdown"}},
		{mergedWithNext, false, []string{"the", "-final", "-", "-countdown"}},
		{contiguous, false, []string{"the", "-", "final", "--", "countdown"}},
		{removed, true, []string{"-", "-", "-"}},
	}
	for _, tt := range tests {
		p := splitPre{m: literal("-"), behavior: tt.behavior, invert: tt.invert}
		got := []string{}
		p.split(text, true, func(piece string, _ bool) { got = append(got, piece) })
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("behavior %d invert %v (-want +got):\n%s", tt.behavior, tt.invert, diff)
		}
	}
}
