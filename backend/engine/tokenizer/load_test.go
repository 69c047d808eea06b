package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// edit returns the tiny byte-level tokenizer.json changed by fn.
func edit(t *testing.T, fn func(doc map[string]any)) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(tinyJSON(tinySpec{byteLevel: true, merges: byteLevelMerges}), &doc); err != nil {
		t.Fatal(err)
	}
	fn(doc)
	return mustJSON(doc)
}

func TestFromJSON_Errors(t *testing.T) {
	tests := []struct {
		name        string
		tok, cfg    []byte
		want        string
		unsupported bool
	}{
		{"not JSON", []byte("{"), nil, "tokenizer.json: unexpected end of JSON input", false},
		{"no model", []byte(`{"added_tokens": []}`), nil, "tokenizer.json: model is missing", false},
		{"WordPiece", edit(t, func(d map[string]any) { d["model"].(map[string]any)["type"] = "WordPiece" }),
			nil, `tokenizer.json: model.type "WordPiece" is not supported`, true},
		{"unknown pre-tokenizer", edit(t, func(d map[string]any) {
			d["pre_tokenizer"].(map[string]any)["pretokenizers"].([]any)[0].(map[string]any)["type"] = "Whitespace"
		}), nil, `tokenizer.json: pre_tokenizer.pretokenizers[0].type "Whitespace" is not supported`, true},
		{"unknown normalizer", edit(t, func(d map[string]any) { d["normalizer"] = map[string]any{"type": "BertNormalizer"} }),
			nil, `tokenizer.json: normalizer.type "BertNormalizer" is not supported`, true},
		{"unknown decoder", edit(t, func(d map[string]any) { d["decoder"] = map[string]any{"type": "CTC"} }),
			nil, `tokenizer.json: decoder.type "CTC" is not supported`, true},
		{"bad regex", edit(t, func(d map[string]any) {
			d["pre_tokenizer"].(map[string]any)["pretokenizers"].([]any)[0].(map[string]any)["pattern"] = map[string]any{"Regex": "("}
		}), nil, "tokenizer.json: pre_tokenizer.pretokenizers[0].pattern: ", false},
		{"merge of unknown tokens", edit(t, func(d map[string]any) {
			m := d["model"].(map[string]any)
			m["merges"] = append(m["merges"].([]any), "zz qq")
		}), nil, `tokenizer.json: model.merges[13] "zz qq": token not in model.vocab`, false},
		{"malformed merge", edit(t, func(d map[string]any) { d["model"].(map[string]any)["merges"] = []any{"abc"} }),
			nil, `tokenizer.json: model.merges[0] "abc" is not two tokens separated by a space`, false},
		{"template without its token", edit(t, func(d map[string]any) {
			d["post_processor"].(map[string]any)["special_tokens"] = map[string]any{}
		}), nil, `tokenizer.json: post_processor.single[0]: special token "<|begin_of_text|>" is not in special_tokens`, false},
		{"config not JSON", tinyJSON(tinySpec{byteLevel: true}), []byte("[1"), "tokenizer_config.json: unexpected end of JSON input", false},
		{"config eos not a token", tinyJSON(tinySpec{byteLevel: true}), []byte(`{"eos_token": "<nope>"}`),
			`tokenizer_config.json: eos_token "<nope>" is not a token of the vocabulary`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromJSON(tt.tok, tt.cfg)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("FromJSON error = %v, want it to start with %q", err, tt.want)
			}
			if got := errors.Is(err, ErrUnsupported); got != tt.unsupported {
				t.Errorf("errors.Is(err, ErrUnsupported) = %v, want %v", got, tt.unsupported)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, TokenizerFile), tinyJSON(tinySpec{byteLevel: true, merges: byteLevelMerges}), 0o644); err != nil {
		t.Fatal(err)
	}
	// Without tokenizer_config.json: no BOS from the config, the template's.
	tok, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if bos, ok := tok.BOS(); !ok || tok.Token(bos) != "<|begin_of_text|>" {
		t.Errorf("BOS() = %d, %v; want the template's token", bos, ok)
	}
	if len(tok.EOS()) != 0 {
		t.Errorf("EOS() = %v, want none", tok.EOS())
	}
	// An added token only the config names, after a gap in the ids.
	extraID := tok.VocabSize() + 2
	cfg := fmt.Sprintf(`{"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
		"added_tokens_decoder": {"%d": {"content": "<|extra|>", "special": true}}}`, extraID)
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if tok, err = Load(dir); err != nil {
		t.Fatal(err)
	}
	eot, _ := tok.TokenID("<|eot_id|>")
	if eos := tok.EOS(); len(eos) != 1 || eos[0] != eot || !tok.IsSpecial(eot) {
		t.Errorf("EOS() = %v, want [%d], special", eos, eot)
	}
	extra, ok := tok.TokenID("<|extra|>")
	if !ok || extra != extraID || !tok.IsSpecial(extra) || tok.VocabSize() != extraID+1 || tok.Token(extraID-1) != "" {
		t.Errorf("<|extra|>: id %d %v special %v, VocabSize %d", extra, ok, tok.IsSpecial(extra), tok.VocabSize())
	}
	if got := tok.Encode("a<|extra|>", false); len(got) != 2 || got[1] != extraID {
		t.Errorf("Encode = %v, want the added token split out", got)
	}

	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), TokenizerFile) {
		t.Errorf("Load of an empty dir: %v, want an error naming %s", err, TokenizerFile)
	}
}

func TestAccessors(t *testing.T) {
	tok := tinyByteLevel(t)
	id, ok := tok.TokenID("Ġworld")
	if !ok || tok.Token(id) != "Ġworld" {
		t.Errorf("TokenID/Token round trip: %d %v %q", id, ok, tok.Token(id))
	}
	if string(tok.TokenBytes(id)) != " world" {
		t.Errorf("TokenBytes = %q", tok.TokenBytes(id))
	}
	if tok.Token(-1) != "" || tok.Token(999) != "" || tok.TokenBytes(999) != nil {
		t.Error("unknown ids should give nothing")
	}
	if _, ok := tok.TokenID("nope"); ok {
		t.Error("TokenID(nope) found")
	}
	bot, _ := tok.TokenID("<|begin_of_text|>")
	tool, _ := tok.TokenID("<tool>")
	if tok.IsSpecial(id) || !tok.IsSpecial(bot) || tok.IsSpecial(tool) || tok.IsSpecial(-5) {
		t.Error("IsSpecial wrong")
	}
}

// BenchmarkLoad reads the real Llama 3 tokenizer (9 MB of JSON).
func BenchmarkLoad(b *testing.B) {
	dir := modelDir("llama3")
	if _, err := os.Stat(filepath.Join(dir, TokenizerFile)); err != nil {
		b.Skip(npmCIMessage)
	}
	for i := 0; i < b.N; i++ {
		if _, err := Load(dir); err != nil {
			b.Fatal(err)
		}
	}
}
