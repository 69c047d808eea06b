package tokenizer

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEncode_ByteLevel(t *testing.T) {
	tok := tinyByteLevel(t)
	tests := []struct {
		name, text string
		special    bool
		want       []string
	}{
		{"empty", "", false, []string{}},
		{"words", "hello world", false, []string{"hello", "Ġworld"}},
		{"bos", "hello", true, []string{"<|begin_of_text|>", "hello"}},
		{"digits in threes", "12345", false, []string{"12", "3", "4", "5"}},
		{"space runs", "a   b", false, []string{"a", "ĠĠ", "Ġ", "b"}},
		{"trailing spaces", " the  ", false, []string{"Ġthe", "ĠĠ"}},
		{"newlines", "a\n\nb", false, []string{"a", "Ċ", "Ċ", "b"}},
		{"contraction", "he's", false, []string{"he", "'", "s"}},
		{"multibyte", "é", false, []string{"Ã", "©"}},
		{"special in text", "hello<|eot_id|> the", false, []string{"hello", "<|eot_id|>", "Ġthe"}},
		{"non-special added", "<tool>x", false, []string{"<tool>", "x"}},
		{"partial special", "<|eot_id", false, []string{"<", "|", "e", "o", "t", "_", "i", "d"}},
		{"invalid UTF-8 kept as bytes", "a\xffb", false, []string{"a", "ÿ", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tokens(tok, tok.Encode(tt.text, tt.special))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Encode(%q) (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}

func TestEncode_SentencePiece(t *testing.T) {
	tok := tinySentencePiece(t)
	tests := []struct {
		name, text string
		special    bool
		want       []string
	}{
		{"words", "hello world", false, []string{"▁hello", "▁world"}},
		{"bos", "hello", true, []string{"<s>", "▁hello"}},
		{"leading space", " the", false, []string{"▁", "▁the"}},
		{"byte fallback", "hé", false, []string{"▁h", "<0xC3>", "<0xA9>"}},
		{"byte fallback emoji", "😀", false, []string{"▁", "<0xF0>", "<0x9F>", "<0x98>", "<0x80>"}},
		{"invalid UTF-8", "\xff", false, []string{"▁", "<0xFF>"}},
		{"special splits sections", "the</s>the", false, []string{"▁the", "</s>", "▁the"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tokens(tok, tok.Encode(tt.text, tt.special))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Encode(%q) (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}

func TestEncode_Metaspace(t *testing.T) {
	tok := tiny(t, tinySpec{metaspace: true, merges: spMerges, added: []map[string]any{
		{"content": "<s>", "special": true},
	}})
	tests := []struct {
		text string
		want []string
	}{
		{"hello world", []string{"▁hello", "▁world"}},
		// prepend_scheme "first": no "▁" after a special token.
		{"<s>hello", []string{"<s>", "h", "ell", "o"}},
		{"hello<s>hello", []string{"▁hello", "<s>", "h", "ell", "o"}},
	}
	for _, tt := range tests {
		got := tokens(tok, tok.Encode(tt.text, false))
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Encode(%q) (-want +got):\n%s", tt.text, diff)
		}
		if got := tok.Decode(tok.Encode(tt.text, false), false); got != tt.text {
			t.Errorf("Decode(Encode(%q)) = %q", tt.text, got)
		}
	}
}

func TestEncode_MergeFormatsAgree(t *testing.T) {
	strs := tiny(t, tinySpec{byteLevel: true, merges: byteLevelMerges})
	pairs := tiny(t, tinySpec{byteLevel: true, merges: byteLevelMerges, pairMerges: true})
	text := "hello world, the 12 hells"
	if diff := cmp.Diff(strs.Encode(text, false), pairs.Encode(text, false)); diff != "" {
		t.Errorf("string merges and pair merges differ (-strings +pairs):\n%s", diff)
	}
}

func TestEncode_IgnoreMerges(t *testing.T) {
	// "xyz" is a token no merge leads to: only ignore_merges finds it.
	for _, ignore := range []bool{false, true} {
		tok := tiny(t, tinySpec{byteLevel: true, merges: byteLevelMerges, ignoreMerges: ignore, extraVocab: []string{"xyz"}})
		want := []string{"x", "y", "z"}
		if ignore {
			want = []string{"xyz"}
		}
		if diff := cmp.Diff(want, tokens(tok, tok.Encode("xyz", false))); diff != "" {
			t.Errorf("ignore_merges %v (-want +got):\n%s", ignore, diff)
		}
	}
}

func TestEncode_MergeOrder(t *testing.T) {
	// Ranks decide, not position: "b c" (rank 0) beats "a b" (rank 1), and
	// among equal candidates the leftmost merges first.
	tok := tiny(t, tinySpec{byteLevel: true, merges: [][2]string{{"b", "c"}, {"a", "b"}, {"a", "a"}}})
	tests := []struct {
		text string
		want []string
	}{
		{"abc", []string{"a", "bc"}},
		{"aaa", []string{"aa", "a"}},
		{"aaaa", []string{"aa", "aa"}},
		{"ab", []string{"ab"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tokens(tok, tok.Encode(tt.text, false))); diff != "" {
			t.Errorf("Encode(%q) (-want +got):\n%s", tt.text, diff)
		}
	}
}

func TestEncode_AddedTokenFlags(t *testing.T) {
	added := []map[string]any{
		{"content": "<L>", "special": true, "lstrip": true},
		{"content": "<R>", "special": true, "rstrip": true},
		{"content": "<W>", "special": true, "single_word": true},
		{"content": "hello", "special": false, "normalized": true},
		{"content": "<LR>", "special": true},
	}
	tok := tiny(t, tinySpec{byteLevel: true, merges: byteLevelMerges, added: added})
	tests := []struct {
		name, text string
		want       []string
	}{
		{"lstrip swallows spaces before", "a  <L> b", []string{"a", "<L>", "Ġ", "b"}},
		{"rstrip swallows spaces after", "a <R>  b", []string{"a", "Ġ", "<R>", "b"}},
		{"single word alone", "a <W> b", []string{"a", "Ġ", "<W>", "Ġ", "b"}},
		{"single word inside a word", "a<W>b", []string{"a", "<", "W", ">", "b"}},
		{"normalized token", "the hello", []string{"t", "he", "Ġ", "hello"}},
		{"longest match wins", "<LR>", []string{"<LR>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tokens(tok, tok.Encode(tt.text, false))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Encode(%q) (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}

func TestEncode_ConfigDecidesBOSAndEOS(t *testing.T) {
	tests := []struct {
		name   string
		config map[string]any
		want   []string
	}{
		{"template alone", nil, []string{"<s>", "▁the"}},
		{"add_bos_token false", map[string]any{"bos_token": "<s>", "add_bos_token": false}, []string{"▁the"}},
		{"add_eos_token true", map[string]any{"bos_token": "<s>", "eos_token": "</s>", "add_eos_token": true}, []string{"<s>", "▁the", "</s>"}},
		{"token objects", map[string]any{"bos_token": map[string]any{"content": "<s>", "__type": "AddedToken"}, "add_bos_token": true}, []string{"<s>", "▁the"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := tiny(t, tinySpec{merges: spMerges, config: tt.config, added: []map[string]any{
				{"content": "<s>", "special": true}, {"content": "</s>", "special": true},
			}})
			if diff := cmp.Diff(tt.want, tokens(tok, tok.Encode("the", true))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncode_LongWordIsLinearithmic(t *testing.T) {
	tok := tinyByteLevel(t)
	// 100k spaces are one pre-token: the merge loop must not be quadratic.
	ids := tok.Encode("x"+strings.Repeat(" ", 100000)+"y", false)
	if got := tok.Decode(ids, false); got != "x"+strings.Repeat(" ", 100000)+"y" {
		t.Errorf("round trip of a long space run failed: %d bytes back", len(got))
	}
	// "x", 49999 "ĠĠ" and one "Ġ" for 99999 spaces, "Ġ", "y".
	if len(ids) != 50003 {
		t.Errorf("%d ids for 100000 spaces, want 50003", len(ids))
	}
}
