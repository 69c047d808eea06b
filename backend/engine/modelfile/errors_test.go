package modelfile_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
)

// editHeader rewrites a safetensors file's header, keeping its data.
func editHeader(t *testing.T, path string, edit func(h map[string]any)) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(data)
	dec := json.NewDecoder(bytes.NewReader(data[8 : 8+n]))
	dec.UseNumber()
	var h map[string]any
	if err := dec.Decode(&h); err != nil {
		t.Fatal(err)
	}
	edit(h)
	hdr, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	out := append(binary.LittleEndian.AppendUint64(nil, uint64(len(hdr))), hdr...)
	if err := os.WriteFile(path, append(out, data[8+n:]...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// editJSON rewrites a JSON file of dir.
func editJSON(t *testing.T, path string, edit func(m map[string]any)) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if data, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func entry(h map[string]any, name string) map[string]any { return h[name].(map[string]any) }

func TestOpen_Errors(t *testing.T) {
	const weights, shard2 = "model.safetensors", "model-00002-of-00002.safetensors"
	tests := []struct {
		name     string
		spec     testmodel.Spec
		damage   func(t *testing.T, dir string)
		sentinel error
		file     string // base name the error must name
		tensor   string // tensor it must name, if any
	}{
		{"truncated data", testmodel.Spec{}, func(t *testing.T, dir string) {
			path := filepath.Join(dir, weights)
			fi, _ := os.Stat(path)
			os.Truncate(path, fi.Size()-100)
		}, modelfile.ErrCorrupt, weights, "lm_head.weight"},
		{"truncated header", testmodel.Spec{}, func(t *testing.T, dir string) {
			os.Truncate(filepath.Join(dir, weights), 100)
		}, modelfile.ErrCorrupt, weights, ""},
		{"corrupt header", testmodel.Spec{}, func(t *testing.T, dir string) {
			f, _ := os.OpenFile(filepath.Join(dir, weights), os.O_WRONLY, 0)
			f.WriteAt([]byte("!"), 8)
			f.Close()
		}, modelfile.ErrCorrupt, weights, ""},
		{"bad offsets", testmodel.Spec{}, func(t *testing.T, dir string) {
			editHeader(t, filepath.Join(dir, weights), func(h map[string]any) {
				entry(h, "model.layers.0.mlp.up_proj.weight")["data_offsets"] = []int{0, 1 << 40}
			})
		}, modelfile.ErrCorrupt, weights, "model.layers.0.mlp.up_proj.weight"},
		{"missing tensor", testmodel.Spec{}, func(t *testing.T, dir string) {
			editHeader(t, filepath.Join(dir, weights), func(h map[string]any) { delete(h, "model.layers.1.mlp.up_proj.weight") })
		}, modelfile.ErrMissingTensor, "", "model.layers.1.mlp.up_proj.weight"},
		{"missing scales", testmodel.Spec{Quantization: quant(4, 64)}, func(t *testing.T, dir string) {
			editHeader(t, filepath.Join(dir, weights), func(h map[string]any) { delete(h, "model.layers.0.self_attn.v_proj.biases") })
		}, modelfile.ErrMissingTensor, "", "model.layers.0.self_attn.v_proj.biases"},
		{"wrong shape", testmodel.Spec{}, func(t *testing.T, dir string) {
			editHeader(t, filepath.Join(dir, weights), func(h map[string]any) {
				entry(h, "model.layers.0.self_attn.q_proj.weight")["shape"] = []int{32, 128}
			})
		}, modelfile.ErrTensorShape, weights, "model.layers.0.self_attn.q_proj.weight"},
		{"wrong dtype", testmodel.Spec{DType: modelfile.F32}, func(t *testing.T, dir string) {
			editHeader(t, filepath.Join(dir, weights), func(h map[string]any) { entry(h, "model.norm.weight")["dtype"] = "I32" })
		}, modelfile.ErrTensorShape, weights, "model.norm.weight"},
		{"quantized with the wrong bits", testmodel.Spec{Quantization: quant(4, 64)}, func(t *testing.T, dir string) {
			editJSON(t, filepath.Join(dir, "config.json"), func(m map[string]any) { m["quantization"] = map[string]any{"group_size": 64, "bits": 8} })
		}, modelfile.ErrTensorShape, weights, "model.embed_tokens.weight"},
		{"unexpected tensor", testmodel.Spec{}, func(t *testing.T, dir string) {
			editHeader(t, filepath.Join(dir, weights), func(h map[string]any) {
				h["model.layers.0.self_attn.q_proj.bias"] = entry(h, "model.norm.weight")
			})
		}, modelfile.ErrTensorShape, weights, "model.layers.0.self_attn.q_proj.bias"},
		{"scales without quantization", testmodel.Spec{Quantization: quant(4, 64)}, func(t *testing.T, dir string) {
			editJSON(t, filepath.Join(dir, "config.json"), func(m map[string]any) { delete(m, "quantization"); delete(m, "quantization_config") })
		}, modelfile.ErrTensorShape, weights, "model.embed_tokens.scales"},
		{"layer set apart but quantized", testmodel.Spec{Quantization: quant(4, 64)}, func(t *testing.T, dir string) {
			editJSON(t, filepath.Join(dir, "config.json"), func(m map[string]any) {
				m["quantization"].(map[string]any)["model.layers.1.mlp.up_proj"] = false
			})
		}, modelfile.ErrTensorShape, weights, "model.layers.1.mlp.up_proj.weight"},
		{"mlp_bias without the biases", testmodel.Spec{}, func(t *testing.T, dir string) {
			editJSON(t, filepath.Join(dir, "config.json"), func(m map[string]any) { m["mlp_bias"] = true })
		}, modelfile.ErrMissingTensor, "", "model.layers.0.mlp.gate_proj.bias"},
		{"o_proj bias without attention_bias", testmodel.Spec{AttentionBias: true}, func(t *testing.T, dir string) {
			editJSON(t, filepath.Join(dir, "config.json"), func(m map[string]any) { m["attention_bias"] = false })
		}, modelfile.ErrTensorShape, weights, "model.layers.0.self_attn.k_proj.bias"},
		{"unsupported architecture", testmodel.Spec{}, func(t *testing.T, dir string) {
			editJSON(t, filepath.Join(dir, "config.json"), func(m map[string]any) { m["model_type"] = "gemma2" })
		}, modelfile.ErrUnsupported, "config.json", ""},
		{"bad rope_scaling", testmodel.Spec{}, func(t *testing.T, dir string) {
			editJSON(t, filepath.Join(dir, "config.json"), func(m map[string]any) { m["rope_scaling"] = map[string]any{"rope_type": "yarn", "factor": 4} })
		}, modelfile.ErrUnsupported, "config.json", ""},
		{"no config", testmodel.Spec{}, func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "config.json")) },
			modelfile.ErrNoConfig, "", ""},
		{"no weights", testmodel.Spec{}, func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, weights)) },
			modelfile.ErrNoWeights, "", ""},
		{"missing shard", testmodel.Spec{Shards: 2}, func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, shard2)) },
			fs.ErrNotExist, shard2, ""},
		{"index puts a tensor in the wrong shard", testmodel.Spec{Shards: 2}, func(t *testing.T, dir string) {
			editJSON(t, filepath.Join(dir, "model.safetensors.index.json"), func(m map[string]any) {
				m["weight_map"].(map[string]any)["model.norm.weight"] = "model-00001-of-00002.safetensors"
			})
		}, modelfile.ErrMissingTensor, "model.safetensors.index.json", "model.norm.weight"},
		{"index escapes the directory", testmodel.Spec{Shards: 2}, func(t *testing.T, dir string) {
			editJSON(t, filepath.Join(dir, "model.safetensors.index.json"), func(m map[string]any) {
				m["weight_map"].(map[string]any)["model.norm.weight"] = "../model.safetensors"
			})
		}, modelfile.ErrCorrupt, "model.safetensors.index.json", "model.norm.weight"},
		{"tensor in two shards", testmodel.Spec{Shards: 2}, func(t *testing.T, dir string) {
			editHeader(t, filepath.Join(dir, shard2), func(h map[string]any) {
				h["model.embed_tokens.weight"] = entry(h, "model.norm.weight")
			})
		}, modelfile.ErrCorrupt, shard2, "model.embed_tokens.weight"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeModel(t, tt.spec)
			tt.damage(t, dir)
			m, err := modelfile.Open(dir)
			if err == nil {
				m.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tt.sentinel) {
				t.Fatalf("err = %v, want %v", err, tt.sentinel)
			}
			if tt.file != "" && !strings.Contains(err.Error(), filepath.Join(dir, tt.file)) {
				t.Errorf("err = %v, want it to name %s", err, tt.file)
			}
			var te *modelfile.TensorError
			if tt.tensor != "" && (!errors.As(err, &te) || te.Tensor != tt.tensor) {
				t.Errorf("err = %v, want a *TensorError naming %s", err, tt.tensor)
			}
		})
	}
}

// Without tie_word_embeddings, an lm_head.weight decides: present means
// untied (mlx-lm would assume tied and drop it).
func TestOpen_TieInferred(t *testing.T) {
	for _, tied := range []bool{false, true} {
		dir := writeModel(t, testmodel.Spec{TieWordEmbeddings: tied})
		editJSON(t, filepath.Join(dir, "config.json"), func(m map[string]any) { delete(m, "tie_word_embeddings") })
		if got := openModel(t, dir).Config().TieWordEmbeddings; got != tied {
			t.Errorf("written tied=%v, inferred %v", tied, got)
		}
	}
}

// A tied model may still carry lm_head.weight (mlx-lm drops it), and the
// rotary frequencies some checkpoints keep are ignored.
func TestOpen_IgnoresWhatMLXLMDrops(t *testing.T) {
	dir := writeModel(t, testmodel.Spec{TieWordEmbeddings: true, DType: modelfile.F32})
	editHeader(t, filepath.Join(dir, "model.safetensors"), func(h map[string]any) {
		h["lm_head.weight"] = entry(h, "model.embed_tokens.weight")
		h["model.layers.0.self_attn.rotary_emb.inv_freq"] = entry(h, "model.norm.weight")
	})
	if !openModel(t, dir).Config().TieWordEmbeddings {
		t.Error("untied")
	}
}

// Per-layer entries of "quantization" (as mlx-lm's mixed recipes write
// them) override the default for their layer.
func TestOpen_PerLayerQuantization(t *testing.T) {
	dir := writeModel(t, testmodel.Spec{Architecture: "qwen3", Quantization: quant(8, 128)})
	editJSON(t, filepath.Join(dir, "config.json"), func(m map[string]any) {
		q := m["quantization"].(map[string]any)
		q["group_size"], q["bits"] = 64, 4 // the default no layer uses
		q["model.layers.0.mlp.down_proj"] = map[string]any{"group_size": 128, "bits": 8}
		q["model.layers.1.mlp.down_proj"] = map[string]any{"group_size": 128, "bits": 8}
		q["model.layers.0.self_attn.q_proj"] = false
	})
	m := openModel(t, dir)
	if q, ok := m.LayerQuantization("model.layers.1.mlp.down_proj"); !ok || q != *quant(8, 128) {
		t.Errorf("down_proj: %v %v", q, ok)
	}
	if _, ok := m.LayerQuantization("model.layers.0.self_attn.q_proj"); ok {
		t.Error("q_proj quantized")
	}
}
