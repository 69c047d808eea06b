package bench

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
)

// This file writes the model modelbar benchmarks as a GGUF v3 file, so
// that llama.cpp runs the same weights (llamacpp.go). GGUF is llama.cpp's
// single-file format: the magic "GGUF", the version, the tensor and
// metadata counts, the metadata as typed key/value pairs, one info record
// per tensor (name, dimensions with ne[0] the row length, ggml type, data
// offset), padding to the alignment (32), then the tensors' data, each at
// its offset from the start of the data section, itself padded to the
// alignment.

// GGUFQuant is the llama.cpp type the model's 4-bit matrices are written as.
type GGUFQuant uint32

const (
	// Q4_0 is llama.cpp's fastest 4-bit format: blocks of 32 values as a
	// float16 scale d and 16 bytes of nibbles, value = d·(q-8). It cannot
	// hold MLX's affine groups, so the matrices are dequantized and
	// requantized (as llama.cpp's quantize_row_q4_0_ref does): the same
	// weights, within a Q4_0 step.
	Q4_0 GGUFQuant = 2
	// Q4_1 is blocks of 32 values as float16 d and m and 16 bytes of
	// nibbles, value = d·q + m: MLX's affine format (scale·q + bias) for
	// any group size that is a multiple of 32, so the matrices are copied
	// bit for bit (scales and biases are converted from bfloat16 to
	// float16, which is exact for the magnitudes weights have; WriteGGUF
	// counts any that are not in GGUFStats).
	Q4_1 GGUFQuant = 3
)

func (q GGUFQuant) String() string {
	switch q {
	case Q4_0:
		return "Q4_0"
	case Q4_1:
		return "Q4_1"
	}
	return fmt.Sprintf("ggml type %d", uint32(q))
}

// ggml tensor types and GGUF metadata value types used here.
const (
	ggmlF32 = 0

	ggufAlignment = 32
	ggufBlock     = 32 // values per Q4_0/Q4_1 block

	ggufUint32  = 4
	ggufInt32   = 5
	ggufFloat32 = 6
	ggufBool    = 7
	ggufString  = 8
	ggufArray   = 9
)

// blockBytes is the size of one block of 32 values.
func (q GGUFQuant) blockBytes() int {
	if q == Q4_0 {
		return 18
	}
	return 20
}

// ggufTensor is one tensor to write: its GGUF name, dimensions (ne[0]
// first), type, and the function that writes its data.
type ggufTensor struct {
	name  string
	dims  []uint64 // ne[0] (row length) first
	typ   uint32
	size  uint64
	write func(w io.Writer) error
}

// GGUFStats says how exactly WriteGGUF kept the weights.
type GGUFStats struct {
	// Rounded counts the Q4_1 scales and biases that float16 cannot hold
	// exactly (bfloat16 ones below float16's normal range, 6.1e-5, or
	// float32 ones): 0 means the Q4_1 weights are bit-identical to MLX's.
	Rounded int
}

// WriteGGUF writes the qwen2 model files holds (MLX format, 4-bit affine
// quantized with groups that are a multiple of 32) to path as GGUF v3,
// with its 4-bit matrices as quant, vectors as float32, and the metadata
// llama.cpp needs to load it: the architecture's hyperparameters and the
// byte-level BPE tokenizer from the model's tokenizer.json.
func WriteGGUF(path string, files *modelfile.Model, quant GGUFQuant) (stats GGUFStats, err error) {
	if quant != Q4_0 && quant != Q4_1 {
		return stats, fmt.Errorf("gguf: %v: want Q4_0 or Q4_1", quant)
	}
	if err := ggufSupported(files); err != nil {
		return stats, err
	}
	cfg := files.Config()
	vocab, err := readVocab(files.Dir(), cfg)
	if err != nil {
		return stats, fmt.Errorf("gguf: %w", err)
	}
	tensors, err := ggufTensors(files, quant, &stats)
	if err != nil {
		return stats, fmt.Errorf("gguf: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return stats, err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	if err := writeGGUF(w, ggufMetadata(cfg, quant, vocab), tensors); err != nil {
		return stats, fmt.Errorf("gguf: write %s: %w", path, err)
	}
	return stats, w.Flush()
}

// ggufSupported says why WriteGGUF cannot write the model, if it cannot:
// only qwen2 (llama.cpp's llama wants its q/k rows permuted, the other
// families other names and keys), with no sliding window, 4-bit affine
// matrices in groups of a multiple of 32 (or float ones).
func ggufSupported(files *modelfile.Model) error {
	cfg := files.Config()
	if cfg.Architecture != "qwen2" {
		return fmt.Errorf("gguf: architecture %q: only qwen2 is written", cfg.Architecture)
	}
	if q := cfg.Quantization; q != nil && (q.Bits != 4 || q.GroupSize%ggufBlock != 0 || (q.Mode != "" && q.Mode != "affine")) {
		return fmt.Errorf("gguf: quantized with %d bits, group %d, mode %q: want 4-bit affine groups of a multiple of 32", q.Bits, q.GroupSize, q.Mode)
	}
	for _, win := range cfg.LayerWindows {
		if win != 0 {
			return fmt.Errorf("gguf: a sliding attention window is not written")
		}
	}
	return nil
}

// ggufKV is one metadata pair; value is a string, uint32, int32,
// float32, bool, []string or []int32.
type ggufKV struct {
	key   string
	value any
}

// ggufMetadata is the metadata of a qwen2 model as llama.cpp reads it.
func ggufMetadata(cfg modelfile.Config, quant GGUFQuant, v ggufVocab) []ggufKV {
	u := func(n int) uint32 { return uint32(n) }
	kv := []ggufKV{
		{"general.architecture", "qwen2"},
		{"general.name", "modelbar bench " + strings.ToLower(quant.String())},
		{"general.alignment", uint32(ggufAlignment)},
		{"general.file_type", uint32(quant)}, // llama_ftype: MOSTLY_Q4_0 = 2, MOSTLY_Q4_1 = 3, as the ggml types
		{"qwen2.context_length", u(cfg.MaxPositionEmbeddings)},
		{"qwen2.embedding_length", u(cfg.HiddenSize)},
		{"qwen2.block_count", u(cfg.NumLayers)},
		{"qwen2.feed_forward_length", u(cfg.IntermediateSize)},
		{"qwen2.attention.head_count", u(cfg.NumHeads)},
		{"qwen2.attention.head_count_kv", u(cfg.NumKVHeads)},
		{"qwen2.rope.freq_base", float32(cfg.RopeTheta)},
		{"qwen2.attention.layer_norm_rms_epsilon", float32(cfg.RMSNormEps)},
		{"tokenizer.ggml.model", "gpt2"},
		{"tokenizer.ggml.pre", "qwen2"},
		{"tokenizer.ggml.tokens", v.tokens},
		{"tokenizer.ggml.token_type", v.types},
		{"tokenizer.ggml.merges", v.merges},
		{"tokenizer.ggml.add_bos_token", false},
	}
	if cfg.BOSTokenID != nil {
		kv = append(kv, ggufKV{"tokenizer.ggml.bos_token_id", u(*cfg.BOSTokenID)})
	}
	if len(cfg.EOSTokenIDs) > 0 {
		kv = append(kv, ggufKV{"tokenizer.ggml.eos_token_id", u(cfg.EOSTokenIDs[0])})
	}
	return kv
}

// writeGGUF writes the header, metadata, tensor infos, padding and data.
func writeGGUF(w io.Writer, kv []ggufKV, tensors []ggufTensor) error {
	var h []byte
	h = append(h, "GGUF"...)
	h = binary.LittleEndian.AppendUint32(h, 3)
	h = binary.LittleEndian.AppendUint64(h, uint64(len(tensors)))
	h = binary.LittleEndian.AppendUint64(h, uint64(len(kv)))
	for _, p := range kv {
		h = appendGGUFString(h, p.key)
		var err error
		if h, err = appendGGUFValue(h, p.value); err != nil {
			return fmt.Errorf("metadata %s: %w", p.key, err)
		}
	}
	var offset uint64
	for _, t := range tensors {
		h = appendGGUFString(h, t.name)
		h = binary.LittleEndian.AppendUint32(h, uint32(len(t.dims)))
		for _, d := range t.dims {
			h = binary.LittleEndian.AppendUint64(h, d)
		}
		h = binary.LittleEndian.AppendUint32(h, t.typ)
		h = binary.LittleEndian.AppendUint64(h, offset)
		offset = alignUp(offset + t.size)
	}
	h = append(h, make([]byte, alignUp(uint64(len(h)))-uint64(len(h)))...)
	if _, err := w.Write(h); err != nil {
		return err
	}
	for _, t := range tensors {
		cw := &countingWriter{w: w}
		if err := t.write(cw); err != nil {
			return fmt.Errorf("tensor %s: %w", t.name, err)
		}
		if cw.n != t.size {
			return fmt.Errorf("tensor %s: wrote %d bytes, want %d", t.name, cw.n, t.size)
		}
		if _, err := w.Write(make([]byte, alignUp(t.size)-t.size)); err != nil {
			return err
		}
	}
	return nil
}

func alignUp(n uint64) uint64 { return (n + ggufAlignment - 1) / ggufAlignment * ggufAlignment }

func appendGGUFString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// appendGGUFValue appends v's type and value.
func appendGGUFValue(b []byte, v any) ([]byte, error) {
	le := binary.LittleEndian
	switch v := v.(type) {
	case string:
		return appendGGUFString(le.AppendUint32(b, ggufString), v), nil
	case uint32:
		return le.AppendUint32(le.AppendUint32(b, ggufUint32), v), nil
	case int32:
		return le.AppendUint32(le.AppendUint32(b, ggufInt32), uint32(v)), nil
	case float32:
		return le.AppendUint32(le.AppendUint32(b, ggufFloat32), math.Float32bits(v)), nil
	case bool:
		x := byte(0)
		if v {
			x = 1
		}
		return append(le.AppendUint32(b, ggufBool), x), nil
	case []string:
		b = le.AppendUint64(le.AppendUint32(le.AppendUint32(b, ggufArray), ggufString), uint64(len(v)))
		for _, s := range v {
			b = appendGGUFString(b, s)
		}
		return b, nil
	case []int32:
		b = le.AppendUint64(le.AppendUint32(le.AppendUint32(b, ggufArray), ggufInt32), uint64(len(v)))
		for _, x := range v {
			b = le.AppendUint32(b, uint32(x))
		}
		return b, nil
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
}

type countingWriter struct {
	w io.Writer
	n uint64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += uint64(n)
	return n, err
}
