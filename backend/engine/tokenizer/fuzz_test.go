package tokenizer

import (
	"sync"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

var (
	fuzzOnce  sync.Once
	fuzzToks  map[string]*Tokenizer
	fuzzOrder = []string{"tiny-bytelevel", "tiny-sentencepiece", "llama3", "qwen3"}
)

// fuzzTokenizers are the tiny tokenizers and, when node_modules has them,
// the real Llama 3 and Qwen 3 ones.
func fuzzTokenizers(t testing.TB) map[string]*Tokenizer {
	fuzzOnce.Do(func() {
		fuzzToks = map[string]*Tokenizer{"tiny-bytelevel": tinyByteLevel(t), "tiny-sentencepiece": tinySentencePiece(t)}
		for _, name := range []string{"llama3", "qwen3"} {
			if tok := realTokenizer(t, name); tok != nil {
				fuzzToks[name] = tok
			}
		}
	})
	return fuzzToks
}

// FuzzEncodeDecode checks, on any input, that nothing panics, every id is
// in the vocabulary, the StreamDecoder agrees with Decode, and byte-level
// tokenizers give the text back: exactly for valid UTF-8 (after NFC for
// Qwen), with U+FFFD for invalid bytes.
func FuzzEncodeDecode(f *testing.F) {
	for _, s := range append(corpusTexts(f), scannerEdgeCases...) {
		f.Add(s)
	}
	toks := fuzzTokenizers(f)
	f.Fuzz(func(t *testing.T, s string) {
		for _, name := range fuzzOrder {
			tok := toks[name]
			if tok == nil {
				continue
			}
			ids := tok.Encode(s, true)
			for _, id := range ids {
				if id < 0 || id >= tok.VocabSize() || tok.Token(id) == "" {
					t.Fatalf("%s: Encode(%q) gave id %d", name, s, id)
				}
			}
			plain := tok.Encode(s, false)
			got := tok.Decode(plain, false)
			if !utf8.ValidString(got) {
				t.Fatalf("%s: Decode gave invalid UTF-8 %q", name, got)
			}
			if stream := streamDecode(tok, plain, false); stream != got {
				t.Fatalf("%s: StreamDecoder %q, Decode %q", name, stream, got)
			}
			if name == "tiny-sentencepiece" {
				continue // "▁" is prepended to every section: no exact round trip
			}
			want := string(must(appendValidUTF8(nil, []byte(s), true)))
			if name == "qwen3" {
				if !utf8.ValidString(s) {
					continue
				}
				want = norm.NFC.String(s)
			}
			if got != want {
				t.Fatalf("%s: Decode(Encode(%q)) = %q, want %q", name, s, got, want)
			}
		}
	})
}

func must(b []byte, _ int) []byte { return b }

func TestEncode_ConcurrentUse(t *testing.T) {
	tok := tinyByteLevel(t)
	texts := corpusTexts(t)
	want := make([][]int, len(texts))
	for i, s := range texts {
		want[i] = tok.Encode(s, true)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, s := range texts {
				got := tok.Encode(s, true)
				if len(got) != len(want[i]) {
					t.Errorf("concurrent Encode(%q) gave %d ids, want %d", s, len(got), len(want[i]))
					return
				}
				_ = tok.Decode(got, false)
			}
		}()
	}
	wg.Wait()
}
