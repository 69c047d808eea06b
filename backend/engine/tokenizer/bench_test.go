package tokenizer

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// benchText is about 10 KB of mixed text: the corpus's long_mixed case
// (prose, code, whitespace runs, many scripts, emoji, special tokens),
// repeated.
func benchText(b *testing.B) string {
	b.Helper()
	data, err := os.ReadFile("testdata/corpus.json")
	if err != nil {
		b.Fatal(err)
	}
	var cases []struct{ Name, Text string }
	if err := json.Unmarshal(data, &cases); err != nil {
		b.Fatal(err)
	}
	for _, c := range cases {
		if c.Name == "long_mixed" {
			return strings.Repeat(c.Text+"\n", 10*1024/len(c.Text)+1)[:10*1024]
		}
	}
	b.Fatal("no long_mixed case in testdata/corpus.json")
	return ""
}

// BenchmarkEncode encodes 10 KB of mixed text with the real Llama 3 and
// Qwen 3 tokenizers: warm (the word cache filled, as with repeated prompt
// prefixes), cold (cache emptied before each run), and cold with regexp2
// running the pre-tokenizer pattern instead of the hand-written scanner.
func BenchmarkEncode(b *testing.B) {
	text := benchText(b)
	for _, name := range []string{"llama3", "qwen3"} {
		tok := referenceTokenizer(b, name)
		pattern := map[string]string{"llama3": llama3Pattern, "qwen3": qwen2Pattern}[name]
		re, err := compileRegex(pattern)
		if err != nil {
			b.Fatal(err)
		}
		withRegexp2 := *tok
		withRegexp2.pre = &splitPre{m: re, behavior: isolated}
		for _, v := range []struct {
			name string
			tok  *Tokenizer
			cold bool
		}{{"warm", tok, false}, {"cold", tok, true}, {"cold-regexp2", &withRegexp2, true}} {
			b.Run(name+"/"+v.name, func(b *testing.B) {
				n := len(v.tok.Encode(text, false))
				b.SetBytes(int64(len(text)))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if v.cold {
						v.tok.model.cache.reset()
					}
					v.tok.Encode(text, false)
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
			})
		}
	}
}

// BenchmarkEncodeSentencePiece encodes the same text with the Llama 2 /
// Mistral vocabulary: no pre-tokenizer, so each section between special
// tokens is one long word, merged by the heap in O(n log n) and never
// cached.
func BenchmarkEncodeSentencePiece(b *testing.B) {
	text := benchText(b)
	tok := referenceTokenizer(b, "llama2")
	n := len(tok.Encode(text, false))
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tok.Encode(text, false)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkPreTokenize compares the scanner with regexp2 on the same
// pattern and text.
func BenchmarkPreTokenize(b *testing.B) {
	text := benchText(b)
	for _, p := range []struct {
		name    string
		pattern string
		sc      scanner
	}{{"llama3", llama3Pattern, scanner{3}}, {"qwen2", qwen2Pattern, scanner{1}}} {
		re, err := compileRegex(p.pattern)
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range []struct {
			name string
			m    matcher
		}{{"scanner", p.sc}, {"regexp2", re}} {
			b.Run(p.name+"/"+m.name, func(b *testing.B) {
				b.SetBytes(int64(len(text)))
				for i := 0; i < b.N; i++ {
					m.m.findAll(text, func(lo, hi int) {})
				}
			})
		}
	}
}

// BenchmarkDecode streams the ids of the text back through a StreamDecoder.
func BenchmarkDecode(b *testing.B) {
	text := benchText(b)
	tok := referenceTokenizer(b, "llama3")
	ids := tok.Encode(text, false)
	b.SetBytes(int64(len(text)))
	for i := 0; i < b.N; i++ {
		d := tok.NewDecoder()
		for _, id := range ids {
			d.Add(id)
		}
		d.Flush()
	}
	b.ReportMetric(float64(len(ids))*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}
