package tokenizer

import (
	"strings"
	"testing"
)

// ids looks tokens up by their strings.
func ids(t *testing.T, tok *Tokenizer, toks ...string) []int {
	t.Helper()
	out := make([]int, len(toks))
	for i, s := range toks {
		id, ok := tok.TokenID(s)
		if !ok {
			t.Fatalf("no token %q", s)
		}
		out[i] = id
	}
	return out
}

func TestDecode(t *testing.T) {
	bl, sp := tinyByteLevel(t), tinySentencePiece(t)
	tests := []struct {
		name   string
		tok    *Tokenizer
		toks   []string
		skip   bool
		want   string
		stream []string // what each Add returns, then Flush
	}{
		{"byte level", bl, []string{"hello", "Ġworld"}, false, "hello world", []string{"hello", " world", ""}},
		{"special kept", bl, []string{"<|begin_of_text|>", "hello", "<|eot_id|>"}, false, "<|begin_of_text|>hello<|eot_id|>", nil},
		{"special skipped", bl, []string{"<|begin_of_text|>", "hello", "<|eot_id|>"}, true, "hello", []string{"", "hello", "", ""}},
		{"non-special added kept when skipping", bl, []string{"<tool>", "x"}, true, "<tool>x", nil},
		{"character across tokens", bl, []string{"a", "ð", "Ł", "ĺ", "Ģ", "b"}, false, "a😀b", []string{"a", "", "", "", "😀", "b", ""}},
		{"cut character at the end", bl, []string{"a", "ð", "Ł"}, false, "a\uFFFD", []string{"a", "", "", "\uFFFD"}},
		{"invalid byte", bl, []string{"a", "ÿ", "b"}, false, "a\uFFFDb", []string{"a", "\uFFFD", "b", ""}},
		{"sentencepiece strips the first space", sp, []string{"▁hello", "▁world"}, false, "hello world", []string{"hello", " world", ""}},
		{"only the first space", sp, []string{"▁", "▁hello"}, false, " hello", []string{"", " hello", ""}},
		{"bos then text keeps the space", sp, []string{"<s>", "▁hello"}, false, "<s> hello", nil},
		{"bos skipped strips the space", sp, []string{"<s>", "▁hello"}, true, "hello", []string{"", "hello", ""}},
		{"byte fallback", sp, []string{"▁h", "<0xC3>", "<0xA9>"}, false, "hé", []string{"h", "", "é", ""}},
		{"byte fallback space", sp, []string{"<0x20>", "a"}, false, "a", []string{"", "a", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := ids(t, tt.tok, tt.toks...)
			if got := tt.tok.Decode(in, tt.skip); got != tt.want {
				t.Errorf("Decode = %q, want %q", got, tt.want)
			}
			var opts []StreamOption
			if tt.skip {
				opts = append(opts, SkipSpecial())
			}
			d := tt.tok.NewDecoder(opts...)
			var parts []string
			for _, id := range in {
				parts = append(parts, d.Add(id))
			}
			parts = append(parts, d.Flush())
			if got := strings.Join(parts, ""); got != tt.want {
				t.Errorf("StreamDecoder gave %q, want %q", parts, tt.want)
			}
			if tt.stream != nil && strings.Join(parts, "|") != strings.Join(tt.stream, "|") {
				t.Errorf("StreamDecoder pieces %q, want %q", parts, tt.stream)
			}
		})
	}
}

func TestStreamDecoder_FlushResets(t *testing.T) {
	sp := tinySentencePiece(t)
	d := sp.NewDecoder()
	in := ids(t, sp, "▁hello", "▁world")
	for round := 0; round < 2; round++ {
		var b strings.Builder
		for _, id := range in {
			b.WriteString(d.Add(id))
		}
		b.WriteString(d.Flush())
		if b.String() != "hello world" {
			t.Errorf("round %d: %q, want the leading space stripped again", round, b.String())
		}
	}
}

func TestDecode_UnknownIDsAreIgnored(t *testing.T) {
	bl := tinyByteLevel(t)
	in := append([]int{-1, 999, 1 << 30}, ids(t, bl, "hello")...)
	if got := bl.Decode(in, false); got != "hello" {
		t.Errorf("Decode = %q, want %q", got, "hello")
	}
	if got := bl.NewDecoder().Add(999); got != "" {
		t.Errorf("Add(999) = %q", got)
	}
}

func TestAppendValidUTF8(t *testing.T) {
	// U+FFFD for each maximal subpart, as the WHATWG decoder does.
	tests := []struct {
		in, want string
	}{
		{"abc", "abc"},
		{"é😀", "é😀"},
		{"\xff", "\uFFFD"},
		{"\xe4\xb8", "\uFFFD"},                 // truncated: one subpart
		{"\xe4\xb8a", "\uFFFDa"},               // cut by ASCII
		{"\xc0\xaf", "\uFFFD\uFFFD"},           // overlong: no valid prefix
		{"\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD"}, // surrogate
		{"\xf0\x9f\x98", "\uFFFD"},
		{"\xf4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"}, // above U+10FFFF
		{"\xe0\xa0", "\uFFFD"},
	}
	for _, tt := range tests {
		got, n := appendValidUTF8(nil, []byte(tt.in), true)
		if string(got) != tt.want || n != len(tt.in) {
			t.Errorf("appendValidUTF8(%q) = %q, %d; want %q", tt.in, got, n, tt.want)
		}
	}
	// Not final: a valid prefix waits.
	got, n := appendValidUTF8(nil, []byte("a\xf0\x9f"), false)
	if string(got) != "a" || n != 1 {
		t.Errorf("not final: %q, %d; want %q, 1", got, n, "a")
	}
}
