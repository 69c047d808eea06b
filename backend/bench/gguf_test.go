package bench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
)

// ggufFile is a GGUF file as the test's own reader sees it.
type ggufFile struct {
	version   uint32
	keys      []string
	kv        map[string]any
	tensors   []ggufInfo
	dataStart int
	data      []byte // the whole file
}

type ggufInfo struct {
	name   string
	dims   []uint64
	typ    uint32
	offset uint64
}

// readGGUF parses a GGUF v3 file written from the specification, not
// from the writer: little-endian counts, strings as uint64 length and
// bytes, typed values, tensor infos, data aligned to general.alignment.
func readGGUF(t *testing.T, path string) *ggufFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := &ggufReader{b: data}
	if magic := string(r.bytes(4)); magic != "GGUF" {
		t.Fatalf("magic %q", magic)
	}
	f := &ggufFile{version: r.u32(), kv: map[string]any{}, data: data}
	nTensors, nKV := r.u64(), r.u64()
	for range nKV {
		k := r.str()
		f.keys = append(f.keys, k)
		f.kv[k] = r.value(r.u32())
	}
	for range nTensors {
		info := ggufInfo{name: r.str()}
		for range r.u32() {
			info.dims = append(info.dims, r.u64())
		}
		info.typ, info.offset = r.u32(), r.u64()
		f.tensors = append(f.tensors, info)
	}
	if r.err != nil {
		t.Fatalf("read %s: %v", path, r.err)
	}
	align := 32
	if a, ok := f.kv["general.alignment"].(uint32); ok {
		align = int(a)
	}
	f.dataStart = (r.off + align - 1) / align * align
	if !bytes.Equal(data[r.off:f.dataStart], make([]byte, f.dataStart-r.off)) {
		t.Errorf("padding before the data is not zeros")
	}
	return f
}

type ggufReader struct {
	b   []byte
	off int
	err error
}

func (r *ggufReader) bytes(n int) []byte {
	if r.err != nil || n < 0 || r.off+n > len(r.b) {
		if r.err == nil {
			r.err = fmt.Errorf("%d bytes at %d: %w", n, r.off, io.ErrUnexpectedEOF)
		}
		return make([]byte, max(n, 0))
	}
	r.off += n
	return r.b[r.off-n : r.off]
}

func (r *ggufReader) u32() uint32 { return binary.LittleEndian.Uint32(r.bytes(4)) }
func (r *ggufReader) u64() uint64 { return binary.LittleEndian.Uint64(r.bytes(8)) }
func (r *ggufReader) str() string { return string(r.bytes(int(r.u64()))) }

// value reads one value of GGUF type typ; arrays become []string,
// []int32 or []any.
func (r *ggufReader) value(typ uint32) any {
	switch typ {
	case 0:
		return r.bytes(1)[0]
	case 4:
		return r.u32()
	case 5:
		return int32(r.u32())
	case 6:
		return math.Float32frombits(r.u32())
	case 7:
		return r.bytes(1)[0] != 0
	case 8:
		return r.str()
	case 9:
		elem, n := r.u32(), r.u64()
		if n > uint64(len(r.b)) {
			r.err = fmt.Errorf("array of %d", n)
			return nil
		}
		switch elem {
		case 8:
			out := make([]string, n)
			for i := range out {
				out[i] = r.str()
			}
			return out
		case 5:
			out := make([]int32, n)
			for i := range out {
				out[i] = int32(r.u32())
			}
			return out
		}
		r.err = fmt.Errorf("array of type %d", elem)
	default:
		r.err = fmt.Errorf("value type %d", typ)
	}
	return nil
}

// tensor returns the data of the named tensor.
func (f *ggufFile) tensor(t *testing.T, name string, size int) []byte {
	t.Helper()
	for _, info := range f.tensors {
		if info.name == name {
			start := f.dataStart + int(info.offset)
			return f.data[start : start+size]
		}
	}
	t.Fatalf("no tensor %s", name)
	return nil
}

// qwen2Spec is a tiny qwen2 quantized as mlx-lm does at 4 bits.
func qwen2Spec(seed uint64, group int) testmodel.Spec {
	return testmodel.Spec{Architecture: "qwen2", Seed: seed, TieWordEmbeddings: true, VocabSize: 320,
		Quantization: &modelfile.Quantization{Bits: 4, GroupSize: group}}
}

func openModel(t *testing.T, s testmodel.Spec) *modelfile.Model {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "model")
	if err := testmodel.Write(dir, s); err != nil {
		t.Fatal(err)
	}
	files, err := modelfile.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { files.Close() })
	return files
}

// The file reads back as llama.cpp reads it: header, every metadata pair
// with its type, the tensors in llama.cpp's names with ne[0] the row
// length, offsets aligned and packed, and the data ending the file.
func TestWriteGGUF_ReadsBack(t *testing.T) {
	for _, q := range []GGUFQuant{Q4_0, Q4_1} {
		t.Run(q.String(), func(t *testing.T) {
			files := openModel(t, qwen2Spec(1, 64))
			path := filepath.Join(t.TempDir(), "m.gguf")
			if _, err := WriteGGUF(path, files, q); err != nil {
				t.Fatal(err)
			}
			f := readGGUF(t, path)
			if f.version != 3 {
				t.Errorf("version %d", f.version)
			}
			checkMetadata(t, f, q)
			checkTensorInfos(t, f, q)
		})
	}
}

func checkMetadata(t *testing.T, f *ggufFile, q GGUFQuant) {
	t.Helper()
	tokens := slices.Concat(testmodel.ByteTokens(), mergedTokens(), testmodel.SpecialTokens, []string{"[PAD304]"})
	types := slices.Repeat([]int32{1}, 300)
	types = append(types, 3, 3, 3, 3, 5)
	want := map[string]any{
		"general.architecture": "qwen2", "general.name": "modelbar bench " + strings.ToLower(q.String()),
		"general.alignment": uint32(32), "general.file_type": uint32(q),
		"qwen2.context_length": uint32(2048), "qwen2.embedding_length": uint32(64), "qwen2.block_count": uint32(2),
		"qwen2.feed_forward_length": uint32(128), "qwen2.attention.head_count": uint32(4), "qwen2.attention.head_count_kv": uint32(2),
		"qwen2.rope.freq_base": float32(1e6), "qwen2.attention.layer_norm_rms_epsilon": float32(1e-5),
		"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "qwen2", "tokenizer.ggml.add_bos_token": false,
		"tokenizer.ggml.tokens": tokens[:305], "tokenizer.ggml.token_type": types, "tokenizer.ggml.merges": testmodel.Merges,
		"tokenizer.ggml.bos_token_id": uint32(testmodel.BeginOfText), "tokenizer.ggml.eos_token_id": uint32(testmodel.IMEnd),
	}
	got := maps.Clone(f.kv)
	got["tokenizer.ggml.tokens"] = got["tokenizer.ggml.tokens"].([]string)[:305]
	got["tokenizer.ggml.token_type"] = got["tokenizer.ggml.token_type"].([]int32)[:305]
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	if toks := f.kv["tokenizer.ggml.tokens"].([]string); len(toks) != 320 || toks[319] != "[PAD319]" {
		t.Errorf("%d tokens ending %q, want the model's 320 ending [PAD319]", len(toks), toks[len(toks)-1])
	}
}

// mergedTokens are the tokens the merges make, in id order.
func mergedTokens() []string {
	var out []string
	for _, m := range testmodel.Merges {
		out = append(out, strings.Replace(m, " ", "", 1))
	}
	return out
}

func checkTensorInfos(t *testing.T, f *ggufFile, q GGUFQuant) {
	t.Helper()
	var want []ggufInfo
	add := func(name string, typ uint32, dims ...uint64) {
		want = append(want, ggufInfo{name: name, dims: dims, typ: typ})
	}
	add("token_embd.weight", uint32(q), 64, 320)
	for i := range 2 {
		p := fmt.Sprintf("blk.%d.", i)
		add(p+"attn_norm.weight", 0, 64)
		add(p+"attn_q.weight", uint32(q), 64, 64)
		add(p+"attn_q.bias", 0, 64)
		add(p+"attn_k.weight", uint32(q), 64, 32)
		add(p+"attn_k.bias", 0, 32)
		add(p+"attn_v.weight", uint32(q), 64, 32)
		add(p+"attn_v.bias", 0, 32)
		add(p+"attn_output.weight", uint32(q), 64, 64)
		add(p+"ffn_norm.weight", 0, 64)
		add(p+"ffn_gate.weight", uint32(q), 64, 128)
		add(p+"ffn_up.weight", uint32(q), 64, 128)
		add(p+"ffn_down.weight", uint32(q), 128, 64)
	}
	add("output_norm.weight", 0, 64)
	// Offsets: each tensor's size rounded up to 32 after the previous.
	var offset uint64
	for i := range want {
		want[i].offset = offset
		n := want[i].dims[0]
		if len(want[i].dims) == 2 {
			n *= want[i].dims[1]
		}
		size := n * 4
		if want[i].typ != 0 {
			size = n / 32 * uint64(q.blockBytes())
		}
		offset += (size + 31) / 32 * 32
	}
	if diff := cmp.Diff(want, f.tensors, cmp.AllowUnexported(ggufInfo{})); diff != "" {
		t.Errorf("tensor infos (-want +got):\n%s", diff)
	}
	if f.dataStart%32 != 0 || uint64(len(f.data)) != uint64(f.dataStart)+offset {
		t.Errorf("data at %d, file %d bytes, want %d aligned to 32", f.dataStart, len(f.data), uint64(f.dataStart)+offset)
	}
}

// Q4_1 blocks hold MLX's groups bit for bit: a hand-made row of 64
// values with scale 0.5, bias -2 and q = k mod 16 becomes two blocks of
// d = 0.5, m = -2 and nibbles j | j<<4.
func TestAppendBlock_Q4_1IsMLXGroup(t *testing.T) {
	var words []byte
	for k := 0; k < 64; k += 2 {
		words = append(words, byte(k%16)|byte((k+1)%16)<<4)
	}
	bf := func(v float32) []byte { return binary.LittleEndian.AppendUint16(nil, modelfile.Float32ToBFloat16(v)) }
	m := mlxQuant{rows: 1, cols: 64, groupSize: 64,
		weight: modelfile.Tensor{DType: modelfile.U32, Shape: []int{1, 8}, Data: words},
		scales: modelfile.Tensor{DType: modelfile.BF16, Shape: []int{1, 1}, Data: bf(0.5)},
		biases: modelfile.Tensor{DType: modelfile.BF16, Shape: []int{1, 1}, Data: bf(-2)}}
	want := []byte{0x00, 0x38, 0x00, 0xC0} // float16 0.5 and -2
	for j := range 16 {
		want = append(want, byte(j)|byte(j)<<4)
	}
	m.stats = &GGUFStats{}
	for b := range 2 {
		if got := m.appendBlock(nil, 0, b, Q4_1); !bytes.Equal(got, want) {
			t.Errorf("block %d = % x, want % x", b, got, want)
		}
	}
	// A scale below float16's normal range is rounded, and counted.
	m.scales.Data = bf(1e-6)
	m.appendBlock(nil, 0, 0, Q4_1)
	if m.stats.Rounded != 1 {
		t.Errorf("rounded %d scales and biases, want 1 (the scale 1e-6)", m.stats.Rounded)
	}
}

// Q4_0 is llama.cpp's reference quantizer: values k mod 16 - 8 have
// largest magnitude -8, so d = 1 and q = k mod 16.
func TestAppendQ4_0_Reference(t *testing.T) {
	var x [32]float32
	for k := range x {
		x[k] = float32(k%16 - 8)
	}
	want := []byte{0x00, 0x3C} // float16 1
	for j := range 16 {
		want = append(want, byte(j)|byte(j)<<4)
	}
	if got := appendQ4_0(nil, x); !bytes.Equal(got, want) {
		t.Errorf("block = % x, want % x", got, want)
	}
	// All zeros: d = 0/-8, negative zero as in C, and every q is 8.
	if got := appendQ4_0(nil, [32]float32{}); !bytes.Equal(got, append([]byte{0x00, 0x80}, bytes.Repeat([]byte{0x88}, 16)...)) {
		t.Errorf("zero block = % x", got)
	}
}

// Every block of the file dequantizes to the weights modelbar runs:
// exactly for Q4_1, within the Q4_0 step (|d|, and the float16 rounding
// of d over 8 steps) for Q4_0; vectors are the float32 values.
func TestWriteGGUF_SameWeights(t *testing.T) {
	for _, tc := range []struct {
		q     GGUFQuant
		group int
	}{{Q4_1, 32}, {Q4_1, 64}, {Q4_1, 128}, {Q4_0, 64}} {
		t.Run(fmt.Sprintf("%s g%d", tc.q, tc.group), func(t *testing.T) {
			s := qwen2Spec(2, tc.group)
			s.HiddenSize, s.IntermediateSize = 128, 256 // every matrix a multiple of 128, so quantized
			files := openModel(t, s)
			path := filepath.Join(t.TempDir(), "m.gguf")
			stats, err := WriteGGUF(path, files, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if stats.Rounded != 0 {
				t.Errorf("%d scales or biases rounded, want none", stats.Rounded)
			}
			f := readGGUF(t, path)
			for _, name := range []string{"model.embed_tokens", "model.layers.1.mlp.down_proj", "model.layers.0.self_attn.k_proj"} {
				checkDequantized(t, f, files, name, tc.q, tc.group)
			}
			norm, _ := files.Tensor("model.layers.1.post_attention_layernorm.weight")
			want, _ := norm.Float32s()
			got := f.tensor(t, "blk.1.ffn_norm.weight", 4*len(want))
			for i, v := range want {
				if g := math.Float32frombits(binary.LittleEndian.Uint32(got[4*i:])); g != v {
					t.Fatalf("ffn_norm[%d] = %v, want %v", i, g, v)
				}
			}
		})
	}
}

func checkDequantized(t *testing.T, f *ggufFile, files *modelfile.Model, name string, q GGUFQuant, group int) {
	t.Helper()
	w, _ := files.Tensor(name + ".weight")
	sc, _ := files.Tensor(name + ".scales")
	bi, _ := files.Tensor(name + ".biases")
	want, err := modelfile.Dequantize(w, sc, bi, 4, group)
	if err != nil {
		t.Fatal(err)
	}
	gguf := map[string]string{"model.embed_tokens": "token_embd.weight", "model.layers.1.mlp.down_proj": "blk.1.ffn_down.weight",
		"model.layers.0.self_attn.k_proj": "blk.0.attn_k.weight"}[name]
	data := f.tensor(t, gguf, len(want)/32*q.blockBytes())
	half := func(b []byte) float32 { return modelfile.Float16ToFloat32(binary.LittleEndian.Uint16(b)) }
	for blk := range len(want) / 32 {
		b := data[blk*q.blockBytes():][:q.blockBytes()]
		d, m, qs := half(b), float32(-8), b[2:]
		if q == Q4_1 {
			d, m, qs = half(b), half(b[2:]), b[4:]
		} else {
			m *= d
		}
		for k := range 32 {
			nib := qs[k%16] >> (4 * (k / 16)) & 15
			got, w := d*float32(nib)+m, want[blk*32+k]
			tol := float64(0)
			if q == Q4_0 {
				exact := blockMax(want[blk*32:][:32]) / 8
				tol = float64(exact) + 8*math.Abs(float64(d)-float64(exact)) + 1e-7
			}
			if math.Abs(float64(got-w)) > tol {
				t.Fatalf("%s value %d = %v, want %v (tolerance %g)", name, blk*32+k, got, w, tol)
			}
		}
	}
}

func blockMax(x []float32) float32 {
	var m float64
	for _, v := range x {
		m = max(m, math.Abs(float64(v)))
	}
	return float32(m)
}

// What WriteGGUF cannot write is refused, naming why.
func TestWriteGGUF_Refuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec testmodel.Spec
		q    GGUFQuant
		want string
	}{
		{"llama", testmodel.Spec{Seed: 1, Quantization: &modelfile.Quantization{Bits: 4, GroupSize: 32}}, Q4_1, `architecture "llama"`},
		{"8-bit", testmodel.Spec{Architecture: "qwen2", Seed: 1, Quantization: &modelfile.Quantization{Bits: 8, GroupSize: 32}}, Q4_1, "8 bits"},
		{"type", qwen2Spec(1, 32), GGUFQuant(8), "want Q4_0 or Q4_1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := openModel(t, tc.spec)
			_, err := WriteGGUF(filepath.Join(t.TempDir(), "m.gguf"), files, tc.q)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("WriteGGUF = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
