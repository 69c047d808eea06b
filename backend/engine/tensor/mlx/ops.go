//go:build cgo && (linux || darwin)

package mlx

/*
#include <stdlib.h>
#include "mlxc.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"slices"
	"unsafe"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// kvGrowth is the step, in positions, by which a KV cache grows: memory
// follows the sequence's length instead of being reserved up front.
const kvGrowth = 256

// weight is a model parameter on the device: float32 values, or packed
// quantized words with float32 per-group scales and biases.
type weight struct {
	b                 *Backend
	w, scales, biases C.mb_array
	vec               C.mb_array // a 1×cols dense weight viewed as [cols]
	rows, cols        int
	group, bits       int // 0 when dense
	freed             bool
}

// Shape reports rows and cols (the dequantized shape).
func (w *weight) Shape() (rows, cols int) { return w.rows, w.cols }

// Free releases the weight's device memory.
func (w *weight) Free() {
	if w.freed {
		return
	}
	for _, h := range []C.mb_array{w.w, w.scales, w.biases, w.vec} {
		C.mb_free(h)
	}
	*w = weight{b: w.b, freed: true}
}

func (w *weight) quantized() bool { return w.bits != 0 }

// mlxDType is the mlx_dtype of a stored tensor type.
func mlxDType(d modelfile.DType) C.int {
	switch d {
	case modelfile.F16:
		return C.MB_FLOAT16
	case modelfile.BF16:
		return C.MB_BFLOAT16
	case modelfile.U32:
		return C.MB_UINT32
	case modelfile.U8: // mxfp4 scales (issue 16)
		return C.MB_UINT8
	}
	return C.MB_FLOAT32
}

// upload makes t an MLX array of the given shape — read by MLX's own
// safetensors loader from t's file when it has one, else copied from
// t.Data — converted to float32 unless keep is set, and evaluates it so
// that load errors surface now and nothing refers to t.Data afterwards.
func (b *Backend) upload(t modelfile.Tensor, keep bool, shape ...int) (C.mb_array, error) {
	h, ok := b.fromFile(t, shape)
	if !ok {
		cs := cShape(shape)
		h = C.mb_array_new_data(unsafe.Pointer(unsafe.SliceData(t.Data)), &cs[0], C.int(len(shape)), mlxDType(t.DType))
		if h.ctx == nil {
			return h, b.mlxError("load " + t.Name)
		}
	}
	if !keep && t.DType != modelfile.F32 {
		f := C.mb_array_new()
		rc := C.mb_astype(&f, h, C.MB_FLOAT32, b.stream)
		C.mb_free(h)
		h = f
		if rc != 0 {
			C.mb_free(h)
			return C.mb_array{}, b.mlxError("convert " + t.Name)
		}
	}
	if C.mb_eval1(h) != 0 {
		C.mb_free(h)
		return C.mb_array{}, b.mlxError("load " + t.Name)
	}
	return h, nil
}

// fromFile reads t with MLX's safetensors loader (the data goes from the
// file straight into MLX's memory), reshaped to shape. It reports false —
// and the caller copies t.Data instead — when t has no file or the file
// does not hold t as modelfile read it.
func (b *Backend) fromFile(t modelfile.Tensor, shape []int) (C.mb_array, bool) {
	if t.File == "" {
		return C.mb_array{}, false
	}
	path, name := C.CString(t.File), C.CString(t.Name)
	defer C.free(unsafe.Pointer(path))
	defer C.free(unsafe.Pointer(name))
	// One header read per tensor: the map is freed at once, so it holds no
	// data alive (its arrays are read from the file when evaluated).
	var m C.mb_map_string_to_array
	if C.mb_load_file(&m, path, b.stream) != 0 {
		C.mb_map_free(m)
		lastError()
		return C.mb_array{}, false
	}
	defer C.mb_map_free(m)
	var h C.mb_array
	if C.mb_map_get(&h, m, name) != 0 {
		C.mb_free(h)
		lastError()
		return C.mb_array{}, false
	}
	var dims [8]C.int
	n := int(C.mb_array_dims(h, &dims[0], C.int(len(dims))))
	same := C.mb_array_dtype(h) == mlxDType(t.DType) && n == len(t.Shape)
	for i := 0; same && i < n; i++ {
		same = int(dims[i]) == t.Shape[i]
	}
	if !same {
		C.mb_free(h)
		return C.mb_array{}, false
	}
	if len(shape) != n || !slices.Equal(shape, t.Shape) {
		cs := cShape(shape)
		var r C.mb_array
		rc := C.mb_reshape(&r, h, &cs[0], C.size_t(len(shape)), b.stream)
		C.mb_free(h)
		if rc != 0 {
			C.mb_free(r)
			lastError()
			return C.mb_array{}, false
		}
		h = r
	}
	b.fileLoads.Add(1)
	return h, true
}

// LoadDense copies an F32, F16 or BF16 vector or matrix to the device as
// float32.
func (b *Backend) LoadDense(t modelfile.Tensor) (tensor.Weight, error) {
	rows, cols, err := tensor.CheckDense(t)
	if err != nil {
		return nil, fmt.Errorf("mlx: %w", err)
	}
	h, err := b.upload(t, false, rows, cols)
	if err != nil {
		return nil, err
	}
	w := &weight{b: b, w: h, rows: rows, cols: cols}
	if rows == 1 {
		cs := cShape([]int{cols})
		if C.mb_reshape(&w.vec, h, &cs[0], 1, b.stream) != 0 {
			w.Free()
			return nil, b.mlxError("load " + t.Name)
		}
	}
	return w, nil
}

// LoadQuantized copies an MLX affine-quantized matrix to the device, the
// words as they are and the scales and biases as float32.
func (b *Backend) LoadQuantized(wt, scales, biases modelfile.Tensor, groupSize, bits int) (tensor.Weight, error) {
	rows, cols, err := tensor.CheckQuantized(wt, scales, biases, groupSize, bits)
	if err != nil {
		return nil, fmt.Errorf("mlx: %w", err)
	}
	if !mlxGroupSize(groupSize) {
		// MLX's CPU kernel aborts the process on other group sizes.
		return nil, fmt.Errorf("mlx: %s: group size %d: MLX's quantized kernels take 32, 64 or 128", wt.Name, groupSize)
	}
	w := &weight{b: b, rows: rows, cols: cols, group: groupSize, bits: bits}
	groups := cols / groupSize
	if w.w, err = b.upload(wt, true, rows, wt.Shape[1]); err == nil {
		if w.scales, err = b.upload(scales, false, rows, groups); err == nil {
			w.biases, err = b.upload(biases, false, rows, groups)
		}
	}
	if err != nil {
		w.Free()
		return nil, err
	}
	return w, nil
}

// mlxGroupSize reports whether MLX's quantized kernels take groups of n.
func mlxGroupSize(n int) bool { return n == 32 || n == 64 || n == 128 }

// rope holds MLX's rope frequencies: 1/invFreq of each pair.
type rope struct {
	b     *Backend
	freqs C.mb_array
	dims  int
	freed bool
}

// Dims is the head width it rotates.
func (r *rope) Dims() int { return r.dims }

// Free releases the frequencies.
func (r *rope) Free() {
	if !r.freed {
		C.mb_free(r.freqs)
		*r = rope{b: r.b, freed: true}
	}
}

// NewRope makes the rotary embedding of dims-wide heads.
func (b *Backend) NewRope(dims int, invFreq []float64) (tensor.Rope, error) {
	if err := tensor.CheckRope(dims, invFreq); err != nil {
		return nil, fmt.Errorf("mlx: %w", err)
	}
	freqs := make([]float32, len(invFreq))
	for i, f := range invFreq {
		freqs[i] = float32(1 / f)
	}
	cs := cShape([]int{len(freqs)})
	h := C.mb_array_new_data(unsafe.Pointer(&freqs[0]), &cs[0], 1, C.MB_FLOAT32)
	if h.ctx == nil {
		return nil, b.mlxError("rope frequencies")
	}
	return &rope{b: b, freqs: h, dims: dims}, nil
}

// kvCache holds one layer's keys and values as [1, heads, cap, dim]
// arrays of its dtype (float16, bfloat16 or float32) that grow by
// kvGrowth positions up to maxLen.
type kvCache struct {
	b                 *Backend
	k, v              C.mb_array // nil ctx until the first store
	cap               int
	heads, dim, limit int
	dtype             modelfile.DType
	freed             bool
}

// MaxLen is the number of positions it can hold.
func (c *kvCache) MaxLen() int { return c.limit }

// Bytes is the device memory of the keys and values allocated so far.
func (c *kvCache) Bytes() int64 { return 2 * int64(c.cap*c.heads*c.dim*c.dtype.Size()) }

// Free releases the keys and values.
func (c *kvCache) Free() {
	if !c.freed {
		C.mb_free(c.k)
		C.mb_free(c.v)
		*c = kvCache{b: c.b, freed: true}
	}
}

// NewKVCache makes an empty cache; memory is taken as positions are stored.
func (b *Backend) NewKVCache(kvHeads, headDim, maxLen int, dtype modelfile.DType) (tensor.KVCache, error) {
	if err := tensor.CheckKVCache(kvHeads, headDim, maxLen, dtype); err != nil {
		return nil, fmt.Errorf("mlx: %w", err)
	}
	return &kvCache{b: b, heads: kvHeads, dim: headDim, limit: maxLen, dtype: dtype}, nil
}

// CopyKVCache copies src's first n positions into keys and values of
// exactly n positions (they grow by kvGrowth from there as positions are
// stored), evaluated at once: the copy refers to nothing of src's.
func (b *Backend) CopyKVCache(src tensor.KVCache, n int) (tensor.KVCache, error) {
	c, ok := src.(*kvCache)
	if !ok || c.b != b || c.freed {
		return nil, errors.New("mlx: CopyKVCache of a freed or foreign KV cache")
	}
	if n < 0 || n > c.cap {
		return nil, fmt.Errorf("mlx: CopyKVCache of %d positions from a KV cache of %d", n, c.cap)
	}
	out := &kvCache{b: b, heads: c.heads, dim: c.dim, limit: c.limit, dtype: c.dtype}
	if n == 0 {
		return out, nil
	}
	out.k, out.v = C.mb_array_new(), C.mb_array_new()
	if C.mb_kv_copy(&out.k, c.k, C.int(n), b.stream) != 0 || C.mb_kv_copy(&out.v, c.v, C.int(n), b.stream) != 0 {
		C.mb_free(out.k)
		C.mb_free(out.v)
		return nil, b.mlxError("CopyKVCache")
	}
	out.cap = n
	return out, nil
}

// FromFloat32 copies data into a new rows×cols Array.
func (b *Backend) FromFloat32(rows, cols int, data []float32) tensor.Array {
	if b.err != nil {
		return &array{rows: rows, cols: cols}
	}
	if rows < 0 || cols < 0 || len(data) != rows*cols {
		return b.fail(max(rows, 0), max(cols, 0), "FromFloat32: %d values for %d×%d", len(data), rows, cols)
	}
	var zero float32
	p := &zero
	if len(data) > 0 {
		p = &data[0]
	}
	cs := cShape([]int{rows, cols})
	h := C.mb_array_new_data(unsafe.Pointer(p), &cs[0], 2, C.MB_FLOAT32)
	if h.ctx == nil {
		return b.failMLX(rows, cols, "FromFloat32")
	}
	return b.result(h, rows, cols)
}

// weightArg converts a Weight argument, recording an error for a freed or
// foreign one.
func (b *Backend) weightArg(wt tensor.Weight, op string) (*weight, bool) {
	w, ok := wt.(*weight)
	if !ok || w.b != b || w.freed {
		b.fail(0, 0, "%s: use of a freed or foreign Weight", op)
		return nil, false
	}
	return w, true
}

// Embed gathers rows ids of w (dequantizing the gathered rows).
func (b *Backend) Embed(wt tensor.Weight, ids []int) tensor.Array {
	if b.err != nil {
		return &array{rows: len(ids)}
	}
	w, ok := b.weightArg(wt, "Embed")
	if !ok {
		return &array{rows: len(ids)}
	}
	idx := make([]int32, max(len(ids), 1))
	for i, id := range ids {
		if id < 0 || id >= w.rows {
			return b.fail(len(ids), w.cols, "Embed: id %d outside [0, %d)", id, w.rows)
		}
		idx[i] = int32(id)
	}
	cs := cShape([]int{len(ids)})
	ih := C.mb_array_new_data(unsafe.Pointer(&idx[0]), &cs[0], 1, C.MB_INT32)
	if ih.ctx == nil {
		return b.failMLX(len(ids), w.cols, "Embed")
	}
	defer C.mb_free(ih)
	out := C.mb_array_new()
	if !w.quantized() {
		if C.mb_take_axis(&out, w.w, ih, 0, b.stream) != 0 {
			C.mb_free(out)
			return b.failMLX(len(ids), w.cols, "Embed")
		}
		return b.result(out, len(ids), w.cols)
	}
	var q, s, bi C.mb_array
	defer func() { C.mb_free(q); C.mb_free(s); C.mb_free(bi) }()
	if C.mb_take_axis(&q, w.w, ih, 0, b.stream) != 0 ||
		C.mb_take_axis(&s, w.scales, ih, 0, b.stream) != 0 ||
		(w.biases.ctx != nil && C.mb_take_axis(&bi, w.biases, ih, 0, b.stream) != 0) || // none: mxfp4 (issue 16)
		C.mb_dequantize(&out, q, s, bi, C.int(w.group), C.int(w.bits), b.stream) != 0 {
		C.mb_free(out)
		return b.failMLX(len(ids), w.cols, "Embed")
	}
	return b.result(out, len(ids), w.cols)
}

// MatMul is x·wᵀ, through MLX's quantized matmul for quantized weights.
func (b *Backend) MatMul(xa tensor.Array, wt tensor.Weight) tensor.Array {
	x, ok := b.arg(xa, "MatMul")
	if !ok {
		return placeholder(xa, 0)
	}
	w, ok := b.weightArg(wt, "MatMul")
	if !ok {
		return &array{rows: x.rows}
	}
	if x.cols != w.cols {
		return b.fail(x.rows, w.rows, "MatMul: x is %d×%d, weight is %d×%d", x.rows, x.cols, w.rows, w.cols)
	}
	out := C.mb_array_new()
	var rc C.int
	if w.quantized() {
		rc = C.mb_quantized_matmul(&out, x.h, w.w, w.scales, w.biases, C.int(w.group), C.int(w.bits), b.stream)
	} else {
		rc = C.mb_matmul_t(&out, x.h, w.w, b.stream)
	}
	if rc != 0 {
		C.mb_free(out)
		return b.failMLX(x.rows, w.rows, "MatMul")
	}
	return b.result(out, x.rows, w.rows)
}

// vector checks that wt is a dense 1×cols weight matching x.
func (b *Backend) vector(wt tensor.Weight, x *array, op string) (*weight, bool) {
	w, ok := b.weightArg(wt, op)
	if !ok {
		return nil, false
	}
	if w.quantized() || w.rows != 1 || w.cols != x.cols {
		b.fail(0, 0, "%s: weight is %d×%d, want 1×%d dense", op, w.rows, w.cols, x.cols)
		return nil, false
	}
	return w, true
}

// AddBias adds the 1×cols weight to every row of x.
func (b *Backend) AddBias(xa tensor.Array, bt tensor.Weight) tensor.Array {
	x, ok := b.arg(xa, "AddBias")
	if !ok {
		return placeholder(xa, -1)
	}
	w, ok := b.vector(bt, x, "AddBias")
	if !ok {
		return placeholder(xa, -1)
	}
	out := C.mb_array_new()
	if C.mb_add(&out, x.h, w.w, b.stream) != 0 {
		C.mb_free(out)
		return b.failMLX(x.rows, x.cols, "AddBias")
	}
	return b.result(out, x.rows, x.cols)
}

// RMSNorm is MLX's fast rms_norm.
func (b *Backend) RMSNorm(xa tensor.Array, wt tensor.Weight, eps float32) tensor.Array {
	x, ok := b.arg(xa, "RMSNorm")
	if !ok {
		return placeholder(xa, -1)
	}
	w, ok := b.vector(wt, x, "RMSNorm")
	if !ok {
		return placeholder(xa, -1)
	}
	out := C.mb_array_new()
	if C.mb_fast_rms_norm(&out, x.h, w.vec, C.float(eps), b.stream) != 0 {
		C.mb_free(out)
		return b.failMLX(x.rows, x.cols, "RMSNorm")
	}
	return b.result(out, x.rows, x.cols)
}

// Rope is MLX's fast rope on each dims-wide head (the non-traditional
// layout), with the model's frequencies.
func (b *Backend) Rope(xa tensor.Array, rt tensor.Rope, offset int) tensor.Array {
	x, ok := b.arg(xa, "Rope")
	if !ok {
		return placeholder(xa, -1)
	}
	r, isRope := rt.(*rope)
	if !isRope || r.b != b || r.freed {
		return b.fail(x.rows, x.cols, "Rope: freed or foreign Rope")
	}
	if x.cols%r.dims != 0 || offset < 0 {
		return b.fail(x.rows, x.cols, "Rope: %d columns in heads of %d at offset %d", x.cols, r.dims, offset)
	}
	out := C.mb_array_new()
	if C.mb_rope(&out, x.h, C.int(x.cols/r.dims), C.int(r.dims), r.freqs, C.int(offset), b.stream) != 0 {
		C.mb_free(out)
		return b.failMLX(x.rows, x.cols, "Rope")
	}
	return b.result(out, x.rows, x.cols)
}

// Attention stores k and v in the cache and attends with MLX's fused
// scaled_dot_product_attention (grouped-query heads read their kv head).
// A sliding window slices the cache to the positions the first query can
// see; a prefill chunk whose later queries see fewer gets a boolean mask.
// Sinks are SDPA's sinks argument: a per-head logit in the softmax, the
// same as the CPU backend's extra term in the denominator. The cache
// stores keys and values rounded to its dtype; SDPA promotes them to q's
// float32 and computes in float32, so only the rounding differs from a
// float32 cache (the reference rounds the same way). Casting q down to
// the cache's type instead would round the queries and the output too.
func (b *Backend) Attention(qa, ka, va tensor.Array, ct tensor.KVCache, offset int, opts tensor.AttentionOpts) tensor.Array {
	q, ok := b.arg(qa, "Attention")
	if !ok {
		return placeholder(qa, -1)
	}
	k, ok1 := b.arg(ka, "Attention")
	v, ok2 := b.arg(va, "Attention")
	c, ok3 := ct.(*kvCache)
	if !ok1 || !ok2 {
		return placeholder(qa, -1)
	}
	if !ok3 || c.b != b || c.freed {
		return b.fail(q.rows, q.cols, "Attention: released or foreign argument")
	}
	heads, err := tensor.CheckAttention(q.rows, q.cols, k.rows, k.cols, v.rows, v.cols, c.heads, c.dim, c.limit, offset, opts.Window)
	if err != nil {
		return b.fail(q.rows, q.cols, "Attention: %v", err)
	}
	var sinks C.mb_array
	if opts.Sinks != nil {
		w, ok := b.weightArg(opts.Sinks, "Attention")
		if !ok {
			return placeholder(qa, -1)
		}
		if w.quantized() || w.rows != 1 || w.cols != heads {
			return b.fail(q.rows, q.cols, "Attention: sinks are %d×%d, want 1×%d dense", w.rows, w.cols, heads)
		}
		sinks = w.vec
	}
	if !b.kvStore(c, k, v, offset) {
		return b.failMLX(q.rows, q.cols, "Attention: KV cache")
	}
	first, mask, ok := b.window(q.rows, offset, opts.Window)
	if !ok {
		return b.failMLX(q.rows, q.cols, "Attention: window mask")
	}
	defer C.mb_free(mask)
	out := C.mb_array_new()
	if C.mb_attention(&out, q.h, c.k, c.v, C.int(heads), C.int(c.dim), C.int(first), C.int(offset), C.float(opts.Scale), mask, sinks, b.stream) != 0 {
		C.mb_free(out)
		return b.failMLX(q.rows, q.cols, "Attention")
	}
	return b.result(out, q.rows, q.cols)
}

// kvStore writes k and v at offset, growing the cache by kvGrowth steps
// first when they do not fit.
func (b *Backend) kvStore(c *kvCache, k, v *array, offset int) bool {
	grow := 0
	if need := offset + k.rows; need > c.cap {
		grow = min(c.limit, (need+kvGrowth-1)/kvGrowth*kvGrowth)
	}
	dt := mlxDType(c.dtype)
	if C.mb_kv_store(&c.k, k.h, C.int(c.heads), C.int(c.dim), C.int(offset), C.int(grow), dt, b.stream) != 0 ||
		C.mb_kv_store(&c.v, v.h, C.int(c.heads), C.int(c.dim), C.int(offset), C.int(grow), dt, b.stream) != 0 {
		return false
	}
	if grow > 0 {
		c.cap = grow
	}
	return true
}

// window returns the first cached position n queries at offset attend to
// under a sliding window (0 when window is 0), and, when the later
// queries see fewer positions than the first, the boolean mask
// [n, offset+n-first] of which key each query sees: key j (position
// first+j) for query i (position p = offset+i) when p-window < first+j ≤ p.
// The caller frees the mask.
func (b *Backend) window(n, offset, window int) (first int, mask C.mb_array, ok bool) {
	if window <= 0 {
		return 0, mask, true
	}
	first = max(0, offset-window+1)
	if n == 1 || offset+n-window <= first {
		// One query, or every query's window reaches back to first: the
		// slice alone (and causal masking) is exact.
		return first, mask, true
	}
	keys := offset + n - first
	m := make([]byte, n*keys)
	for i := range n {
		p := offset + i
		for j := max(first, p-window+1); j <= p; j++ {
			m[i*keys+j-first] = 1
		}
	}
	cs := cShape([]int{n, keys})
	mask = C.mb_array_new_data(unsafe.Pointer(&m[0]), &cs[0], 2, C.MB_BOOL)
	return first, mask, mask.ctx != nil
}

// Softmax of each row, in MLX's precise (float32-accumulating) mode.
func (b *Backend) Softmax(xa tensor.Array) tensor.Array {
	x, ok := b.arg(xa, "Softmax")
	if !ok {
		return placeholder(xa, -1)
	}
	out := C.mb_array_new()
	if C.mb_softmax_axis(&out, x.h, 1, true, b.stream) != 0 {
		C.mb_free(out)
		return b.failMLX(x.rows, x.cols, "Softmax")
	}
	return b.result(out, x.rows, x.cols)
}

// SiLU is x·sigmoid(x).
func (b *Backend) SiLU(xa tensor.Array) tensor.Array {
	x, ok := b.arg(xa, "SiLU")
	if !ok {
		return placeholder(xa, -1)
	}
	out := C.mb_array_new()
	if C.mb_silu(&out, x.h, b.stream) != 0 {
		C.mb_free(out)
		return b.failMLX(x.rows, x.cols, "SiLU")
	}
	return b.result(out, x.rows, x.cols)
}

// Mul is x·y elementwise.
func (b *Backend) Mul(xa, ya tensor.Array) tensor.Array { return b.binary(xa, ya, "Mul") }

// Add is x+y elementwise.
func (b *Backend) Add(xa, ya tensor.Array) tensor.Array { return b.binary(xa, ya, "Add") }

func (b *Backend) binary(xa, ya tensor.Array, op string) tensor.Array {
	x, ok := b.arg(xa, op)
	if !ok {
		return placeholder(xa, -1)
	}
	y, ok := b.arg(ya, op)
	if !ok {
		return placeholder(xa, -1)
	}
	if y.rows != x.rows || y.cols != x.cols {
		return b.fail(x.rows, x.cols, "%s: shapes %d×%d and %d×%d", op, x.rows, x.cols, y.rows, y.cols)
	}
	out := C.mb_array_new()
	var rc C.int
	if op == "Mul" {
		rc = C.mb_multiply(&out, x.h, y.h, b.stream)
	} else {
		rc = C.mb_add(&out, x.h, y.h, b.stream)
	}
	if rc != 0 {
		C.mb_free(out)
		return b.failMLX(x.rows, x.cols, op)
	}
	return b.result(out, x.rows, x.cols)
}

// Reshape views x's values as rows×cols.
func (b *Backend) Reshape(xa tensor.Array, rows, cols int) tensor.Array {
	x, ok := b.arg(xa, "Reshape")
	if !ok {
		return &array{rows: rows, cols: cols}
	}
	if rows < 0 || cols < 0 || rows*cols != x.rows*x.cols {
		return b.fail(max(rows, 0), max(cols, 0), "Reshape: %d×%d to %d×%d", x.rows, x.cols, rows, cols)
	}
	cs := cShape([]int{rows, cols})
	out := C.mb_array_new()
	if C.mb_reshape(&out, x.h, &cs[0], 2, b.stream) != 0 {
		C.mb_free(out)
		return b.failMLX(rows, cols, "Reshape")
	}
	return b.result(out, rows, cols)
}

// SliceRows views rows start..start+n-1 of x.
func (b *Backend) SliceRows(xa tensor.Array, start, n int) tensor.Array {
	x, ok := b.arg(xa, "SliceRows")
	if !ok {
		return &array{rows: max(n, 0)}
	}
	if start < 0 || n < 0 || start+n > x.rows {
		return b.fail(max(n, 0), x.cols, "SliceRows: rows %d..%d of %d", start, start+n-1, x.rows)
	}
	begin, end, step := cShape([]int{start, 0}), cShape([]int{start + n, x.cols}), cShape([]int{1, 1})
	out := C.mb_array_new()
	if C.mb_slice(&out, x.h, &begin[0], &end[0], &step[0], 2, b.stream) != 0 {
		C.mb_free(out)
		return b.failMLX(n, x.cols, "SliceRows")
	}
	return b.result(out, n, x.cols)
}

// Release frees x's handle now.
func (b *Backend) Release(xa tensor.Array) {
	if x, ok := xa.(*array); ok {
		x.free()
	}
}

// Eval runs x's graph.
func (b *Backend) Eval(xa tensor.Array) error {
	x, ok := b.arg(xa, "Eval")
	if !ok {
		return b.err
	}
	if b.evaluating(func() C.int { return C.mb_eval1(x.h) }) != 0 {
		b.failMLX(0, 0, "Eval")
	}
	return b.err
}

// Read runs x's graph and copies its values into dst.
func (b *Backend) Read(xa tensor.Array, dst []float32) error {
	x, ok := b.arg(xa, "Read")
	if !ok {
		return b.err
	}
	if len(dst) != x.rows*x.cols {
		b.fail(0, 0, "Read: %d×%d into %d values", x.rows, x.cols, len(dst))
		return b.err
	}
	if len(dst) == 0 {
		return nil
	}
	if b.evaluating(func() C.int {
		return C.mb_read(x.h, (*C.float)(unsafe.Pointer(&dst[0])), C.size_t(len(dst)), b.stream)
	}) != 0 {
		b.failMLX(0, 0, "Read")
	}
	return b.err
}

// Argmax runs x's graph and stores each row's largest index in dst.
func (b *Backend) Argmax(xa tensor.Array, dst []int) error {
	x, ok := b.arg(xa, "Argmax")
	if !ok {
		return b.err
	}
	if len(dst) != x.rows || x.cols == 0 {
		b.fail(0, 0, "Argmax: %d×%d into %d indices", x.rows, x.cols, len(dst))
		return b.err
	}
	if len(dst) == 0 {
		return nil
	}
	idx := make([]int64, len(dst))
	if b.evaluating(func() C.int {
		return C.mb_argmax(x.h, (*C.int64_t)(unsafe.Pointer(&idx[0])), C.size_t(len(dst)), b.stream)
	}) != 0 {
		b.failMLX(0, 0, "Argmax")
		return b.err
	}
	for i, v := range idx {
		dst[i] = int(v)
	}
	return nil
}

// placeholder is the stand-in result of an operation that did not run:
// x's shape with cols replaced unless cols is -1.
func placeholder(xa tensor.Array, cols int) *array {
	var r, c int
	if xa != nil {
		r, c = xa.Shape()
	}
	if cols >= 0 {
		c = cols
	}
	return &array{rows: r, cols: c}
}

// cShape converts a shape for C.
func cShape(d []int) []C.int {
	out := make([]C.int, max(len(d), 1))
	for i, v := range d {
		out[i] = C.int(v)
	}
	return out
}

// Added for gemma3 (issue 16).

// Scale multiplies x by s.
func (b *Backend) Scale(xa tensor.Array, s float32) tensor.Array {
	return b.elementwise(xa, "Scale", func(out *C.mb_array, x C.mb_array) C.int { return C.mb_scale(out, x, C.float(s), b.stream) })
}

// Tanh is tanh(x).
func (b *Backend) Tanh(xa tensor.Array) tensor.Array {
	return b.elementwise(xa, "Tanh", func(out *C.mb_array, x C.mb_array) C.int { return C.mb_tanh(out, x, b.stream) })
}

// GELUTanh is mlx.nn's gelu_approx: 0.5·x·(1 + tanh(sqrt(2/π)·(x +
// 0.044715·x³))).
func (b *Backend) GELUTanh(xa tensor.Array) tensor.Array {
	return b.elementwise(xa, "GELUTanh", func(out *C.mb_array, x C.mb_array) C.int { return C.mb_gelu_tanh(out, x, b.stream) })
}

// elementwise runs a C operation of one input that keeps x's shape.
func (b *Backend) elementwise(xa tensor.Array, op string, fn func(out *C.mb_array, x C.mb_array) C.int) tensor.Array {
	x, ok := b.arg(xa, op)
	if !ok {
		return placeholder(xa, -1)
	}
	out := C.mb_array_new()
	if fn(&out, x.h) != 0 {
		C.mb_free(out)
		return b.failMLX(x.rows, x.cols, op)
	}
	return b.result(out, x.rows, x.cols)
}

// RopePartial is MLX's fast rope over the first r.Dims() values of each
// headDim-wide head (fast rope leaves a head's values past dims as they
// are).
func (b *Backend) RopePartial(xa tensor.Array, rt tensor.Rope, headDim, offset int) tensor.Array {
	x, ok := b.arg(xa, "RopePartial")
	if !ok {
		return placeholder(xa, -1)
	}
	r, isRope := rt.(*rope)
	if !isRope || r.b != b || r.freed {
		return b.fail(x.rows, x.cols, "RopePartial: freed or foreign Rope")
	}
	if err := tensor.CheckRopePartial(x.cols, headDim, r.dims, offset); err != nil {
		return b.fail(x.rows, x.cols, "%v", err)
	}
	out := C.mb_array_new()
	if C.mb_rope_partial(&out, x.h, C.int(x.cols/headDim), C.int(headDim), C.int(r.dims), r.freqs, C.int(offset), b.stream) != 0 {
		C.mb_free(out)
		return b.failMLX(x.rows, x.cols, "RopePartial")
	}
	return b.result(out, x.rows, x.cols)
}
