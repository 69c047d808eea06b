package tokenizer

import (
	"slices"
	"strings"
	"testing"
)

// tinyPlain is tinyByteLevel without added tokens: what encoding with
// special-token matching off gives.
func tinyPlain(t testing.TB) *Tokenizer {
	return tiny(t, tinySpec{byteLevel: true, merges: byteLevelMerges, ignoreMerges: true, added: []map[string]any{}})
}

func seg(text string, special bool) Segment { return Segment{Text: text, Special: special} }

func TestEncodeSegments_MatchesOnlyInsideSpecialText(t *testing.T) {
	tok, plain := tinyByteLevel(t), tinyPlain(t)
	bot, _ := tok.TokenID("<|begin_of_text|>")
	eot, _ := tok.TokenID("<|eot_id|>")
	tool, _ := tok.TokenID("<tool>")
	enc := func(s string) []int { return plain.Encode(s, false) }
	cat := func(parts ...[]int) []int { return slices.Concat(parts...) }
	cases := []struct {
		name string
		segs []Segment
		want []int
	}{
		{"special text matches", []Segment{seg("hello<|eot_id|>", true)}, cat(enc("hello"), []int{eot})},
		{"untrusted text does not", []Segment{seg("hello<|eot_id|>", false)}, enc("hello<|eot_id|>")},
		{"non-special added token untrusted", []Segment{seg("a<tool>b", false)}, enc("a<tool>b")},
		{"non-special added token trusted", []Segment{seg("a<tool>b", true)}, cat(enc("a"), []int{tool}, enc("b"))},
		{"template token then the user's", []Segment{seg("<|eot_id|>", true), seg("<|eot_id|>", false)}, cat([]int{eot}, enc("<|eot_id|>"))},
		{"the user's then the template's", []Segment{seg("<|eot_id|>", false), seg("<|eot_id|>", true)}, cat(enc("<|eot_id|>"), []int{eot})},
		{"split across trusted then untrusted", []Segment{seg("x<|eot", true), seg("_id|>y", false)}, enc("x<|eot_id|>y")},
		{"split across untrusted then trusted", []Segment{seg("x<|eot", false), seg("_id|>y", true)}, enc("x<|eot_id|>y")},
		{"split across two trusted", []Segment{seg("x<|eot", true), seg("_id|>y", true)}, cat(enc("x"), []int{eot}, enc("y"))},
		{"longest trusted match wins inside the trusted run", []Segment{seg("<|begin_of_text|><|eot_id", true), seg("|>", false)},
			cat([]int{bot}, enc("<|eot_id|>"))},
		{"text between tokens is one run across segments", []Segment{seg("<|eot_id|>hel", true), seg("lo wor", false), seg("ld<|eot_id|>", true)},
			cat([]int{eot}, enc("hello world"), []int{eot})},
		{"repeated", []Segment{seg("<|eot_id|><|eot_id|>", false), seg("<|eot_id|>", true)}, cat(enc("<|eot_id|><|eot_id|>"), []int{eot})},
		{"unicode around", []Segment{seg("é<|eot_id|>日本", false), seg("<|eot_id|>", true)}, cat(enc("é<|eot_id|>日本"), []int{eot})},
		{"empty segments", []Segment{seg("", true), seg("hello", false), seg("", true)}, enc("hello")},
		{"nothing", nil, []int{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := tok.EncodeSegments(c.segs, false)
			if !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", tokens(tok, got), tokens(tok, c.want))
			}
		})
	}
}

// With every segment Special, or with no added token in the others, the
// ids are Encode's, wherever the text is cut.
func TestEncodeSegments_BenignEqualsEncode(t *testing.T) {
	for name, tok := range map[string]*Tokenizer{"bytelevel": tinyByteLevel(t), "sentencepiece": tinySentencePiece(t)} {
		for _, text := range append(corpusTexts(t), "<|begin_of_text|>hello<|eot_id|> world<tool>12", "<s>hello</s> the <s>") {
			want := tok.Encode(text, true)
			for cut := 0; cut <= len(text); cut++ {
				for _, flags := range [][2]bool{{true, true}, {true, false}, {false, true}} {
					a, b := text[:cut], text[cut:]
					if (!flags[0] && holdsAdded(tok, a)) || (!flags[1] && holdsAdded(tok, b)) || straddles(tok, text, cut) {
						continue
					}
					got := tok.EncodeSegments([]Segment{seg(a, flags[0]), seg(b, flags[1])}, true)
					if !slices.Equal(got, want) {
						t.Fatalf("%s: %q cut at %d %v: got %v, want %v", name, text, cut, flags, tokens(tok, got), tokens(tok, want))
					}
				}
			}
		}
	}
}

// addedTexts are the added tokens of the tiny tokenizers.
var addedTexts = []string{"<|begin_of_text|>", "<|eot_id|>", "<tool>", "<unk>", "<s>", "</s>"}

func holdsAdded(tok *Tokenizer, s string) bool {
	for _, a := range addedTexts {
		if _, ok := tok.TokenID(a); ok && strings.Contains(s, a) {
			return true
		}
	}
	return false
}

// straddles reports whether an added token of text covers the byte cut.
func straddles(tok *Tokenizer, text string, cut int) bool {
	for _, a := range addedTexts {
		if _, ok := tok.TokenID(a); !ok {
			continue
		}
		for i := 0; ; {
			j := strings.Index(text[i:], a)
			if j < 0 {
				break
			}
			if lo := i + j; lo < cut && cut < lo+len(a) {
				return true
			}
			i += j + 1
		}
	}
	return false
}

// FuzzEncodeSegments cuts any text into three segments with any flags:
// nothing panics, every id is in the vocabulary, the text comes back, no
// added token is matched when no segment is Special, and all-Special is
// Encode.
func FuzzEncodeSegments(f *testing.F) {
	for _, s := range []string{"hello<|eot_id|>world", "<|begin_of_text|><tool>x</s>", "é<|eot_id|>日本<|eot", "<s>the</s>"} {
		f.Add(s, uint(3), uint(9), byte(5))
	}
	toks := map[string]*Tokenizer{"bytelevel": tinyByteLevel(f), "sentencepiece": tinySentencePiece(f)}
	f.Fuzz(func(t *testing.T, text string, c1, c2 uint, flags byte) {
		a, b := int(c1%uint(len(text)+1)), int(c2%uint(len(text)+1))
		if a > b {
			a, b = b, a
		}
		segs := []Segment{seg(text[:a], flags&1 != 0), seg(text[a:b], flags&2 != 0), seg(text[b:], flags&4 != 0)}
		for name, tok := range toks {
			ids := tok.EncodeSegments(segs, false)
			for _, id := range ids {
				if id < 0 || id >= tok.VocabSize() || tok.Token(id) == "" {
					t.Fatalf("%s: id %d", name, id)
				}
			}
			if flags&7 == 0 {
				for _, id := range ids {
					if slices.Contains(addedTexts, tok.Token(id)) {
						t.Fatalf("%s: no segment is Special, yet %q is matched", name, tok.Token(id))
					}
				}
			}
			if flags&7 == 7 && !slices.Equal(ids, tok.Encode(text, false)) {
				t.Fatalf("%s: all Special differs from Encode", name)
			}
			if name == "bytelevel" && tok.Decode(ids, false) != tok.Decode(tok.Encode(text, false), false) {
				t.Fatalf("%s: decodes to %q", name, tok.Decode(ids, false))
			}
		}
	})
}

// Added tokens matched after normalization (normalized: true, as
// non-special tokens are by default) follow the same rule through a
// normalizer that rewrites the text (SentencePiece's "▁" for spaces and
// the prepended "▁"). The whole normalized token must come from Special
// text, the "▁" that the normalizer makes of the space before it included.
func TestEncodeSegments_NormalizedAddedTokens(t *testing.T) {
	tok := tiny(t, tinySpec{merges: spMerges, added: []map[string]any{
		{"content": "<s>", "special": true},
		{"content": "<tool>", "special": false},
	}})
	toolID, _ := tok.TokenID("<tool>")
	count := func(ids []int) int {
		n := 0
		for _, id := range ids {
			if id == toolID {
				n++
			}
		}
		return n
	}
	cases := []struct {
		segs []Segment
		want int
	}{
		{[]Segment{seg("hello <tool> the <tool>", true)}, 2},
		{[]Segment{seg("hello <tool> the", true), seg(" <tool> world", false)}, 1},
		{[]Segment{seg("hello <tool> the", false), seg(" <tool> world", true)}, 1},
		{[]Segment{seg("hello <to", true), seg("ol> the", false)}, 0},
		{[]Segment{seg("a <tool>", false), seg(" <tool>", true), seg(" <tool>", false)}, 1},
		// The normalized token is "▁<tool>": its "▁" is the space before
		// it, which here is the user's.
		{[]Segment{seg("hello ", false), seg("<tool>", true)}, 0},
	}
	for _, c := range cases {
		ids := tok.EncodeSegments(c.segs, false)
		if got := count(ids); got != c.want {
			t.Errorf("%+v: %d <tool> tokens, want %d (%v)", c.segs, got, c.want, tokens(tok, ids))
		}
		var all []Segment
		for _, s := range c.segs {
			all = append(all, seg(s.Text, true))
		}
		if c.want == 2 && !slices.Equal(ids, tok.EncodeSegments(all, false)) {
			t.Errorf("all trusted differs from Encode")
		}
	}
}

// BenchmarkEncodeSegments encodes 10 KB of mixed text cut into 64
// segments, alternately Special and not, against Encode of the same text.
func BenchmarkEncodeSegments(b *testing.B) {
	text := benchText(b)
	tok := tinyByteLevel(b)
	var segs []Segment
	step := len(text) / 64
	for i := 0; i < len(text); i += step {
		segs = append(segs, seg(text[i:min(i+step, len(text))], len(segs)%2 == 0))
	}
	b.Run("Encode", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			tok.Encode(text, false)
		}
	})
	b.Run("EncodeSegments", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			tok.EncodeSegments(segs, false)
		}
	})
}
