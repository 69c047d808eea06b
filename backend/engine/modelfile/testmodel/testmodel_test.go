package testmodel_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
)

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, de := range des {
		if files[de.Name()], err = os.ReadFile(filepath.Join(dir, de.Name())); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func TestWrite_Deterministic(t *testing.T) {
	spec := testmodel.Spec{Architecture: "qwen2", Quantization: &modelfile.Quantization{GroupSize: 32, Bits: 4}, Shards: 2, Seed: 7}
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	for dir, seed := range map[string]uint64{a: 7, b: 7, c: 8} {
		spec.Seed = seed
		if err := testmodel.Write(dir, spec); err != nil {
			t.Fatal(err)
		}
	}
	fa, fb, fc := readDir(t, a), readDir(t, b), readDir(t, c)
	for name, data := range fa {
		if !bytes.Equal(data, fb[name]) {
			t.Errorf("%s differs between two writes", name)
		}
	}
	if bytes.Equal(fa["model-00001-of-00002.safetensors"], fc["model-00001-of-00002.safetensors"]) {
		t.Error("another seed gave the same weights")
	}
	if len(fa) != 7 {
		t.Errorf("wrote %d files, want config, generation config, 2 tokenizer files, 2 shards and an index", len(fa))
	}
}

func TestWrite_BadSpec(t *testing.T) {
	tests := map[string]testmodel.Spec{
		"architecture":    {Architecture: "gpt2"},
		"kv heads":        {NumKVHeads: 3},
		"odd head dim":    {HeadDim: 15},
		"qwen2 head dim":  {Architecture: "qwen2", HeadDim: 32},
		"small vocab":     {VocabSize: 100},
		"dtype":           {DType: modelfile.U8},
		"shards":          {Shards: 3},
		"bits":            {Quantization: &modelfile.Quantization{GroupSize: 64, Bits: 3}},
		"group":           {Quantization: &modelfile.Quantization{GroupSize: 16, Bits: 4}},
		"rope scaling":    {RopeScaling: &modelfile.RopeScaling{Type: "yarn"}},
		"negative layers": {NumLayers: -1},
		"qwen3 mlp bias":  {Architecture: "qwen3", MLPBias: true},
	}
	for name, spec := range tests {
		if err := testmodel.Write(t.TempDir(), spec); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestTokenizer_Vocabulary(t *testing.T) {
	dir := t.TempDir()
	if err := testmodel.Write(dir, testmodel.Spec{}); err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AddedTokens []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
			Special bool   `json:"special"`
		} `json:"added_tokens"`
		Model struct {
			Type   string         `json:"type"`
			Vocab  map[string]int `json:"vocab"`
			Merges []string       `json:"merges"`
		} `json:"model"`
	}
	data, _ := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err := json.Unmarshal(data, &tok); err != nil {
		t.Fatal(err)
	}
	bytesTokens := testmodel.ByteTokens()
	if len(tok.Model.Vocab) != 300 || len(bytesTokens) != 256 || tok.Model.Type != "BPE" {
		t.Fatalf("vocab of %d, %d byte tokens, type %s", len(tok.Model.Vocab), len(bytesTokens), tok.Model.Type)
	}
	ids := map[int]string{}
	for token, id := range tok.Model.Vocab {
		if prev, dup := ids[id]; dup {
			t.Errorf("id %d is %q and %q", id, prev, token)
		}
		ids[id] = token
	}
	for i, b := range bytesTokens {
		if tok.Model.Vocab[b] != i {
			t.Errorf("byte token %q has id %d, want %d", b, tok.Model.Vocab[b], i)
		}
	}
	if bytesTokens['A'-'!'] != "A" || bytesTokens[188] != "Ā" || bytesTokens[188+32] != "Ġ" {
		t.Error("byte tokens are not GPT-2's bytes_to_unicode")
	}
	for i, m := range tok.Model.Merges {
		left, right, ok := strings.Cut(m, " ")
		l, lok := tok.Model.Vocab[left]
		r, rok := tok.Model.Vocab[right]
		if !ok || !lok || !rok || l >= 256+i || r >= 256+i || tok.Model.Vocab[left+right] != 256+i {
			t.Errorf("merge %d %q: parts must exist before it and make token %d", i, m, 256+i)
		}
	}
	for i, at := range tok.AddedTokens {
		if at.ID != testmodel.BeginOfText+i || at.Content != testmodel.SpecialTokens[i] || !at.Special {
			t.Errorf("added token %d: %+v", i, at)
		}
	}
	if testmodel.IMEnd+1 != testmodel.TokenizerSize {
		t.Error("TokenizerSize is not one past the last special token")
	}
}

func TestWrite_TokenizerConfig(t *testing.T) {
	for arch, wantEOS := range map[string]string{"llama": "<|eot_id|>", "qwen3": "<|im_end|>"} {
		dir := t.TempDir()
		if err := testmodel.Write(dir, testmodel.Spec{Architecture: arch}); err != nil {
			t.Fatal(err)
		}
		var tc map[string]any
		data, _ := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
		if err := json.Unmarshal(data, &tc); err != nil {
			t.Fatal(err)
		}
		if tc["eos_token"] != wantEOS || tc["chat_template"] != testmodel.ChatTemplate {
			t.Errorf("%s: eos_token %v, chat_template %v", arch, tc["eos_token"], tc["chat_template"])
		}
		if hasBOS := tc["bos_token"] != nil; hasBOS != (arch == "llama") {
			t.Errorf("%s: bos_token %v", arch, tc["bos_token"])
		}
	}
}

func TestOriginal(t *testing.T) {
	spec := testmodel.Spec{Architecture: "qwen3"}
	v, shape, ok := testmodel.Original(spec, "model.layers.1.self_attn.q_proj.weight")
	if !ok || len(shape) != 2 || shape[0] != 64 || shape[1] != 64 || len(v) != 64*64 {
		t.Fatalf("q_proj: %v %v (%d values)", ok, shape, len(v))
	}
	if n, shape, ok := testmodel.Original(spec, "model.layers.0.self_attn.q_norm.weight"); !ok || shape[0] != 16 || n[0] == 0 {
		t.Errorf("q_norm: %v %v", ok, shape)
	}
	for _, name := range []string{"lm_head.scales", "model.layers.2.mlp.up_proj.weight", "nope"} {
		if _, _, ok := testmodel.Original(spec, name); ok {
			t.Errorf("Original(%s) found", name)
		}
	}
}

// A model of realistic size streams to disk and opens. Run with
// MODELBAR_REALISTIC=1 (it writes about 280 MB).
func TestWrite_Realistic(t *testing.T) {
	if os.Getenv("MODELBAR_REALISTIC") == "" {
		t.Skip("set MODELBAR_REALISTIC=1 to write a Qwen2.5-0.5B-shaped model")
	}
	dir := t.TempDir()
	start := time.Now()
	if err := testmodel.Write(dir, testmodel.Realistic()); err != nil {
		t.Fatal(err)
	}
	m, err := modelfile.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	t.Logf("wrote and opened %d bytes in %v", m.SizeOnDisk(), time.Since(start))
}
