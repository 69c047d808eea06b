package tokenizer

import (
	"encoding/json"
	"fmt"
	"testing"
)

// tinySpec describes a small tokenizer.json for tests that need no
// downloaded files. Its vocabulary holds every single character (or byte)
// the tests use and the tokens the merges make; the added tokens get ids as
// in real files: their vocabulary id if they are in it, else the next ones
// after it.
type tinySpec struct {
	byteLevel    bool        // Llama 3 style; else SentencePiece with byte fallback
	merges       [][2]string // applied in this order of rank
	pairMerges   bool        // write merges as pairs, not "a b" strings
	ignoreMerges bool
	extraVocab   []string // more tokens, beyond the merges' results
	added        []map[string]any
	metaspace    bool           // SentencePiece via a Metaspace pre-tokenizer and decoder
	override     map[string]any // top-level keys of tokenizer.json to replace (nil: null)
	config       map[string]any
}

// byteLevelMerges builds "hello", " world", " the", "ll" and "12" in GPT-2's
// alphabet ("Ġ" is the space).
var byteLevelMerges = [][2]string{
	{"l", "l"}, {"h", "e"}, {"he", "ll"}, {"hell", "o"}, {"Ġ", "w"}, {"o", "r"},
	{"Ġw", "or"}, {"l", "d"}, {"Ġwor", "ld"}, {"Ġ", "t"}, {"Ġt", "he"},
	{"1", "2"}, {"Ġ", "Ġ"},
}

// spMerges builds "▁hello", "▁world" and "▁the" for SentencePiece.
var spMerges = [][2]string{
	{"▁", "h"}, {"l", "l"}, {"e", "ll"}, {"▁h", "ell"}, {"▁hell", "o"}, {"o", "r"},
	{"▁", "w"}, {"▁w", "or"}, {"l", "d"}, {"▁wor", "ld"}, {"▁", "t"}, {"h", "e"},
	{"▁t", "he"}, {"▁", "▁"},
}

var defaultAdded = []map[string]any{
	{"content": "<|begin_of_text|>", "special": true},
	{"content": "<|eot_id|>", "special": true},
	{"content": "<tool>", "special": false},
}

// tinyJSON returns the spec's tokenizer.json.
func tinyJSON(s tinySpec) []byte {
	vocab := map[string]int{}
	addTok := func(tok string) {
		if _, ok := vocab[tok]; !ok {
			vocab[tok] = len(vocab)
		}
	}
	if s.byteLevel {
		for b := 0; b < 256; b++ {
			addTok(string(byteToRune[b]))
		}
	} else {
		addTok("<unk>")
		addTok("<s>")
		addTok("</s>")
		for b := 0; b < 256; b++ {
			addTok(fmt.Sprintf("<0x%02X>", b))
		}
		for _, r := range "▁abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'<>|_" {
			addTok(string(r))
		}
	}
	var merges []any
	for _, m := range s.merges {
		addTok(m[0])
		addTok(m[1])
		addTok(m[0] + m[1])
		if s.pairMerges {
			merges = append(merges, []string{m[0], m[1]})
		} else {
			merges = append(merges, m[0]+" "+m[1])
		}
	}
	for _, tok := range s.extraVocab {
		addTok(tok)
	}
	var added []map[string]any
	if s.added == nil {
		s.added = defaultAdded
	}
	next := len(vocab)
	for _, a := range s.added {
		// tokenizers wants every field written out.
		full := map[string]any{"single_word": false, "lstrip": false, "rstrip": false, "normalized": a["special"] != true}
		for k, v := range a {
			full[k] = v
		}
		if id, ok := vocab[full["content"].(string)]; ok {
			full["id"] = id
		} else {
			full["id"] = next
			next++
		}
		added = append(added, full)
	}
	model := map[string]any{
		"type": "BPE", "vocab": vocab, "merges": merges, "ignore_merges": s.ignoreMerges,
		"byte_fallback": !s.byteLevel, "fuse_unk": !s.byteLevel,
	}
	doc := map[string]any{"version": "1.0", "added_tokens": added, "model": model,
		"normalizer": nil, "pre_tokenizer": nil, "post_processor": nil, "decoder": nil}
	switch {
	case s.byteLevel:
		doc["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": llama3Pattern}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
		}}
		doc["decoder"] = map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}
		for _, a := range added {
			if a["content"] == "<|begin_of_text|>" {
				doc["post_processor"] = template("<|begin_of_text|>", a["id"].(int))
			}
		}
	case s.metaspace:
		model["unk_token"] = "<unk>"
		doc["post_processor"] = template("<s>", 1)
		doc["pre_tokenizer"] = map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}
		doc["decoder"] = map[string]any{"type": "Sequence", "decoders": []any{
			map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false},
			map[string]any{"type": "ByteFallback"}, map[string]any{"type": "Fuse"},
		}}
	default:
		model["unk_token"] = "<unk>"
		doc["post_processor"] = template("<s>", 1)
		doc["normalizer"] = map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Prepend", "prepend": "▁"},
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": " "}, "content": "▁"},
		}}
		doc["decoder"] = map[string]any{"type": "Sequence", "decoders": []any{
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": "▁"}, "content": " "},
			map[string]any{"type": "ByteFallback"}, map[string]any{"type": "Fuse"},
			map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0},
		}}
	}
	for k, v := range s.override {
		doc[k] = v
	}
	return mustJSON(doc)
}

func template(bos string, id int) map[string]any {
	special := map[string]any{"SpecialToken": map[string]any{"id": bos, "type_id": 0}}
	a := map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}
	b := map[string]any{"Sequence": map[string]any{"id": "B", "type_id": 1}}
	return map[string]any{
		"type":           "TemplateProcessing",
		"single":         []any{special, a},
		"pair":           []any{special, a, special, b},
		"special_tokens": map[string]any{bos: map[string]any{"id": bos, "ids": []int{id}, "tokens": []string{bos}}},
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// tinyByteLevel is a Llama 3 style tokenizer; tinySentencePiece a
// Llama 2 / Mistral style one.
func tinyByteLevel(t testing.TB) *Tokenizer {
	return tiny(t, tinySpec{byteLevel: true, merges: byteLevelMerges, ignoreMerges: true})
}

func tinySentencePiece(t testing.TB) *Tokenizer {
	return tiny(t, tinySpec{merges: spMerges, added: []map[string]any{
		{"content": "<unk>", "special": true},
		{"content": "<s>", "special": true},
		{"content": "</s>", "special": true},
	}, config: map[string]any{"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": true}})
}

func tiny(t testing.TB, s tinySpec) *Tokenizer {
	t.Helper()
	var cfg []byte
	if s.config != nil {
		cfg = mustJSON(s.config)
	}
	tok, err := FromJSON(tinyJSON(s), cfg)
	if err != nil {
		t.Fatalf("FromJSON: %v", err)
	}
	return tok
}

// tokens writes ids as their token strings, for readable comparisons.
func tokens(tok *Tokenizer, ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = tok.Token(id)
	}
	return out
}
