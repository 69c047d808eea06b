package bench

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
)

// ggufNames maps a qwen2 layer's MLX names (after "model.layers.N.") to
// llama.cpp's (after "blk.N."); matrices are named by their prefix.
var ggufNames = []struct{ mlx, gguf string }{
	{"input_layernorm.weight", "attn_norm.weight"},
	{"self_attn.q_proj", "attn_q.weight"},
	{"self_attn.q_proj.bias", "attn_q.bias"},
	{"self_attn.k_proj", "attn_k.weight"},
	{"self_attn.k_proj.bias", "attn_k.bias"},
	{"self_attn.v_proj", "attn_v.weight"},
	{"self_attn.v_proj.bias", "attn_v.bias"},
	{"self_attn.o_proj", "attn_output.weight"},
	{"post_attention_layernorm.weight", "ffn_norm.weight"},
	{"mlp.gate_proj", "ffn_gate.weight"},
	{"mlp.up_proj", "ffn_up.weight"},
	{"mlp.down_proj", "ffn_down.weight"},
}

// ggufTensors lists the model's tensors in llama.cpp's names and order:
// the embedding, each block, the final norm, and the output matrix unless
// the embedding is tied to it.
func ggufTensors(files *modelfile.Model, quant GGUFQuant, stats *GGUFStats) ([]ggufTensor, error) {
	cfg := files.Config()
	type pair struct{ mlx, gguf string }
	names := []pair{{"model.embed_tokens", "token_embd.weight"}}
	for i := range cfg.NumLayers {
		for _, n := range ggufNames {
			names = append(names, pair{fmt.Sprintf("model.layers.%d.%s", i, n.mlx), fmt.Sprintf("blk.%d.%s", i, n.gguf)})
		}
	}
	names = append(names, pair{"model.norm.weight", "output_norm.weight"})
	if !cfg.TieWordEmbeddings {
		names = append(names, pair{"lm_head", "output.weight"})
	}
	out := make([]ggufTensor, 0, len(names))
	for _, n := range names {
		t, err := ggufTensorOf(files, n.mlx, n.gguf, quant, stats)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.mlx, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// ggufTensorOf is one tensor: a 4-bit matrix as quant, a float matrix or
// vector as float32.
func ggufTensorOf(files *modelfile.Model, mlxName, name string, quant GGUFQuant, stats *GGUFStats) (ggufTensor, error) {
	if q, ok := files.LayerQuantization(mlxName); ok {
		return quantTensor(files, mlxName, name, q, quant, stats)
	}
	t, ok := files.Tensor(mlxName)
	if !ok {
		if t, ok = files.Tensor(mlxName + ".weight"); !ok {
			return ggufTensor{}, fmt.Errorf("no such tensor")
		}
	}
	if len(t.Shape) < 1 || len(t.Shape) > 2 {
		return ggufTensor{}, fmt.Errorf("shape %v", t.Shape)
	}
	dims := make([]uint64, len(t.Shape))
	for i, d := range t.Shape {
		dims[len(dims)-1-i] = uint64(d)
	}
	return ggufTensor{name: name, dims: dims, typ: ggmlF32, size: uint64(t.NumElements()) * 4, write: func(w io.Writer) error {
		vals, err := t.Float32s()
		if err != nil {
			return err
		}
		return binary.Write(w, binary.LittleEndian, vals)
	}}, nil
}

// mlxQuant is an MLX 4-bit affine matrix as stored.
type mlxQuant struct {
	weight, scales, biases modelfile.Tensor
	rows, cols, groupSize  int
	stats                  *GGUFStats // counts Q4_1 scales and biases rounded to float16
}

// quantTensor is an MLX 4-bit matrix written as quant, a row at a time.
func quantTensor(files *modelfile.Model, mlxName, name string, q modelfile.Quantization, quant GGUFQuant, stats *GGUFStats) (ggufTensor, error) {
	if q.Bits != 4 || q.GroupSize%ggufBlock != 0 || (q.Mode != "" && q.Mode != "affine") {
		return ggufTensor{}, fmt.Errorf("quantized with %d bits, group %d, mode %q: want 4-bit affine groups of a multiple of 32", q.Bits, q.GroupSize, q.Mode)
	}
	m := mlxQuant{stats: stats}
	var ok [3]bool
	m.weight, ok[0] = files.Tensor(mlxName + ".weight")
	m.scales, ok[1] = files.Tensor(mlxName + ".scales")
	m.biases, ok[2] = files.Tensor(mlxName + ".biases")
	if slices.Contains(ok[:], false) || len(m.weight.Shape) != 2 {
		return ggufTensor{}, fmt.Errorf("missing its weight, scales or biases")
	}
	m.rows, m.cols, m.groupSize = m.weight.Shape[0], m.weight.Shape[1]*8, q.GroupSize
	groups := m.cols / q.GroupSize
	for _, t := range []modelfile.Tensor{m.scales, m.biases} {
		if !slices.Equal(t.Shape, []int{m.rows, groups}) || len(t.Data) != m.rows*groups*t.DType.Size() || t.DType.Size() < 2 {
			return ggufTensor{}, fmt.Errorf("%s is %s %v, want a float [%d %d]", t.Name, t.DType, t.Shape, m.rows, groups)
		}
	}
	if len(m.weight.Data) != m.rows*m.cols/2 {
		return ggufTensor{}, fmt.Errorf("weight has %d bytes for %v", len(m.weight.Data), m.weight.Shape)
	}
	blocks := m.cols / ggufBlock
	size := uint64(m.rows) * uint64(blocks) * uint64(quant.blockBytes())
	return ggufTensor{name: name, dims: []uint64{uint64(m.cols), uint64(m.rows)}, typ: uint32(quant), size: size, write: func(w io.Writer) error {
		row := make([]byte, 0, blocks*quant.blockBytes())
		for r := range m.rows {
			row = row[:0]
			for b := range blocks {
				row = m.appendBlock(row, r, b, quant)
			}
			if _, err := w.Write(row); err != nil {
				return err
			}
		}
		return nil
	}}, nil
}

// appendBlock appends block b (values 32b..32b+31) of row r as quant.
func (m *mlxQuant) appendBlock(dst []byte, r, b int, quant GGUFQuant) []byte {
	g := r*(m.cols/m.groupSize) + b*ggufBlock/m.groupSize
	scale, bias := floatAt(m.scales, g), floatAt(m.biases, g)
	words := m.weight.Data[(r*m.cols+b*ggufBlock)/2:][:ggufBlock/2] // 4 little-endian uint32, value k at bits 4(k%8) of word k/8
	var q [ggufBlock]uint8
	for k := range q {
		q[k] = words[k/2] >> (4 * (k % 2)) & 15 // bytes of little-endian words: low nibble first
	}
	if quant == Q4_1 {
		for _, v := range []float32{scale, bias} {
			h := modelfile.Float32ToFloat16(v)
			if m.stats != nil && modelfile.Float16ToFloat32(h) != v {
				m.stats.Rounded++
			}
			dst = binary.LittleEndian.AppendUint16(dst, h)
		}
		return appendNibbles(dst, q)
	}
	var x [ggufBlock]float32
	for k := range x {
		x[k] = scale*float32(q[k]) + bias
	}
	return appendQ4_0(dst, x)
}

// appendQ4_0 quantizes 32 values as llama.cpp's quantize_row_q4_0_ref:
// d = the value of largest magnitude / -8, q = min(15, trunc(x/d + 8.5)).
func appendQ4_0(dst []byte, x [ggufBlock]float32) []byte {
	var amax, vmax float32
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); a > amax {
			amax, vmax = a, v
		}
	}
	d := vmax / -8
	id := float32(0)
	if d != 0 {
		id = 1 / d
	}
	var q [ggufBlock]uint8
	for k, v := range x {
		q[k] = uint8(min(15, int8(v*id+8.5)))
	}
	dst = binary.LittleEndian.AppendUint16(dst, modelfile.Float32ToFloat16(d))
	return appendNibbles(dst, q)
}

// appendNibbles packs a block's 32 4-bit values as ggml does: byte j
// holds value j in its low nibble and value j+16 in its high nibble.
func appendNibbles(dst []byte, q [ggufBlock]uint8) []byte {
	for j := range ggufBlock / 2 {
		dst = append(dst, q[j]|q[j+ggufBlock/2]<<4)
	}
	return dst
}

// floatAt is element i of a float16, bfloat16 or float32 tensor.
func floatAt(t modelfile.Tensor, i int) float32 {
	switch t.DType {
	case modelfile.F32:
		return math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	case modelfile.F16:
		return modelfile.Float16ToFloat32(binary.LittleEndian.Uint16(t.Data[2*i:]))
	}
	return modelfile.BFloat16ToFloat32(binary.LittleEndian.Uint16(t.Data[2*i:]))
}

// ggufVocab is the tokenizer as GGUF stores it.
type ggufVocab struct {
	tokens []string
	types  []int32
	merges []string
}

// llama.cpp's token types.
const (
	tokenNormal  = 1
	tokenControl = 3
	tokenUnused  = 5
)

// readVocab reads the byte-level BPE tokenizer from dir's tokenizer.json
// as llama.cpp's converter does: the vocabulary in id order, the added
// tokens (control when special), the ids between (up to the model's
// vocabulary size, which the embedding has rows for) as unused "[PADn]",
// and the merges.
func readVocab(dir string, cfg modelfile.Config) (ggufVocab, error) {
	data, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return ggufVocab{}, err
	}
	var tj struct {
		Added []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
			Special bool   `json:"special"`
		} `json:"added_tokens"`
		Model struct {
			Type   string            `json:"type"`
			Vocab  map[string]int    `json:"vocab"`
			Merges []json.RawMessage `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(data, &tj); err != nil {
		return ggufVocab{}, fmt.Errorf("tokenizer.json: %w", err)
	}
	if tj.Model.Type != "BPE" {
		return ggufVocab{}, fmt.Errorf("tokenizer.json: model type %q, want BPE", tj.Model.Type)
	}
	v := ggufVocab{tokens: make([]string, cfg.VocabSize), types: make([]int32, cfg.VocabSize)}
	set := func(id int, s string, typ int32) error {
		if id < 0 || id >= cfg.VocabSize {
			return fmt.Errorf("tokenizer.json: token %q has id %d, outside the model's %d", s, id, cfg.VocabSize)
		}
		v.tokens[id], v.types[id] = s, typ
		return nil
	}
	for s, id := range tj.Model.Vocab {
		if err := set(id, s, tokenNormal); err != nil {
			return ggufVocab{}, err
		}
	}
	for _, a := range tj.Added {
		typ := int32(tokenNormal)
		if a.Special {
			typ = tokenControl
		}
		if err := set(a.ID, a.Content, typ); err != nil {
			return ggufVocab{}, err
		}
	}
	for i, typ := range v.types {
		if typ == 0 {
			v.tokens[i], v.types[i] = fmt.Sprintf("[PAD%d]", i), tokenUnused
		}
	}
	for _, raw := range tj.Model.Merges {
		m, err := mergeString(raw)
		if err != nil {
			return ggufVocab{}, fmt.Errorf("tokenizer.json: merge %s: %w", raw, err)
		}
		v.merges = append(v.merges, m)
	}
	return v, nil
}

// mergeString reads a merge written as "a b" or as ["a", "b"].
func mergeString(raw json.RawMessage) (string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var pair []string
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
		return "", fmt.Errorf("want \"a b\" or a pair")
	}
	return pair[0] + " " + pair[1], nil
}
