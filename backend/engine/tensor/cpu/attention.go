package cpu

import (
	"errors"
	"fmt"
	"math"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// kvStep is the number of positions by which a KV cache grows: memory
// follows the sequence's length (at most kvStep-1 positions unused)
// instead of being reserved for MaxLen up front. A decode step allocates
// (and copies the cache) only when it crosses a step.
const kvStep = 256

// kvCache stores keys and values position-major — position p of head h
// starts at (p*heads+h)*dim — so that growing is one copy of what is
// stored and a token's heads are stored together. F16 and BF16 values
// are kept as their bits in k16 and v16, F32 ones in k32 and v32.
type kvCache struct {
	b                  *Backend
	heads, dim, maxLen int
	dtype              modelfile.DType
	cap                int // positions allocated
	k16, v16           []uint16
	k32, v32           []float32
	freed              bool
}

// MaxLen is the number of positions it holds.
func (c *kvCache) MaxLen() int { return c.maxLen }

// Bytes is the memory of the keys and values allocated so far.
func (c *kvCache) Bytes() int64 {
	return 2 * int64(c.cap*c.heads*c.dim*c.dtype.Size())
}

// Free drops the storage.
func (c *kvCache) Free() { *c = kvCache{b: c.b, freed: true} }

// NewKVCache makes an empty cache; it grows by kvStep positions as they
// are stored.
func (b *Backend) NewKVCache(kvHeads, headDim, maxLen int, dtype modelfile.DType) (tensor.KVCache, error) {
	if err := tensor.CheckKVCache(kvHeads, headDim, maxLen, dtype); err != nil {
		return nil, fmt.Errorf("cpu: %w", err)
	}
	return &kvCache{b: b, heads: kvHeads, dim: headDim, maxLen: maxLen, dtype: dtype}, nil
}

// CopyKVCache copies src's first n positions into a new cache, whose
// storage is what storing them would allocate (a multiple of kvStep).
func (b *Backend) CopyKVCache(src tensor.KVCache, n int) (tensor.KVCache, error) {
	c, ok := src.(*kvCache)
	if !ok || c.b != b || c.freed {
		return nil, errors.New("cpu: CopyKVCache of a freed or foreign KV cache")
	}
	if n < 0 || n > c.cap {
		return nil, fmt.Errorf("cpu: CopyKVCache of %d positions from a KV cache of %d", n, c.cap)
	}
	out := &kvCache{b: b, heads: c.heads, dim: c.dim, maxLen: c.maxLen, dtype: c.dtype}
	out.reserve(n)
	size := n * c.heads * c.dim
	if c.dtype == modelfile.F32 {
		copy(out.k32, c.k32[:size])
		copy(out.v32, c.v32[:size])
	} else {
		copy(out.k16, c.k16[:size])
		copy(out.v16, c.v16[:size])
	}
	return out, nil
}

// reserve grows the storage to hold positions 0..n-1 (n ≤ maxLen).
func (c *kvCache) reserve(n int) {
	if n <= c.cap {
		return
	}
	c.cap = min(c.maxLen, (n+kvStep-1)/kvStep*kvStep)
	size := c.cap * c.heads * c.dim
	if c.dtype == modelfile.F32 {
		c.k32, c.v32 = grown(c.k32, size), grown(c.v32, size)
	} else {
		c.k16, c.v16 = grown(c.k16, size), grown(c.v16, size)
	}
}

func grown[T any](s []T, n int) []T {
	out := make([]T, n)
	copy(out, s)
	return out
}

// off is the index of position p of head h.
func (c *kvCache) off(h, p int) int { return (p*c.heads + h) * c.dim }

// dotK is q·key(h, p).
func (c *kvCache) dotK(q []float32, h, p int) float32 {
	i := c.off(h, p)
	if !c.b.portable {
		var s float32
		ok := false
		if c.dtype == modelfile.F16 || c.dtype == modelfile.BF16 {
			s, ok = dotHalfSIMD(c.k16[i:i+c.dim:i+c.dim], q, c.dtype == modelfile.BF16)
		} else {
			s, ok = dotF32SIMD(c.k32[i:i+c.dim:i+c.dim], q)
		}
		if ok {
			return s
		}
	}
	switch c.dtype {
	case modelfile.F16:
		return dotF16Table(c.k16[i:i+c.dim:i+c.dim], q)
	case modelfile.BF16:
		return dotBF16(c.k16[i:i+c.dim:i+c.dim], q)
	}
	return dotF32(c.k32[i:i+c.dim:i+c.dim], q)
}

// axpyV is out += a·value(h, p).
func (c *kvCache) axpyV(out []float32, h, p int, a float32) {
	i := c.off(h, p)
	done := 0
	if !c.b.portable {
		if c.dtype == modelfile.F16 || c.dtype == modelfile.BF16 {
			done = axpySIMD(out, nil, c.v16[i:i+c.dim:i+c.dim], c.dtype == modelfile.BF16, a)
		} else {
			done = axpySIMD(out, c.v32[i:i+c.dim:i+c.dim], nil, false, a)
		}
	}
	out, i = out[done:], i+done
	switch c.dtype {
	case modelfile.F16:
		axpyF16(out, c.v16[i:i+c.dim-done:i+c.dim-done], a)
	case modelfile.BF16:
		axpyBF16(out, c.v16[i:i+c.dim-done:i+c.dim-done], a)
	default:
		axpy(out, c.v32[i:i+c.dim-done:i+c.dim-done], a)
	}
}

// store rounds the rows of k and v to the cache's dtype and writes them
// at positions offset, offset+1, ...
func (c *kvCache) store(k, v *array, offset int) {
	c.reserve(offset + k.rows)
	width := c.heads * c.dim
	for i := range k.rows {
		at := (offset + i) * width
		kr, vr := k.row(i)[:width], v.row(i)[:width]
		switch c.dtype {
		case modelfile.F16:
			encodeF16(c.k16[at:at+width], kr)
			encodeF16(c.v16[at:at+width], vr)
		case modelfile.BF16:
			encodeBF16(c.k16[at:at+width], kr)
			encodeBF16(c.v16[at:at+width], vr)
		default:
			copy(c.k32[at:at+width], kr)
			copy(c.v32[at:at+width], vr)
		}
	}
}

// attentionJob computes causal attention for (query, head) items.
type attentionJob struct {
	q, out        *array
	kv            *kvCache
	heads, offset int
	scale         float32
	window        int       // 0: every earlier position
	sinks         []float32 // per query head; nil: none
}

// Attention appends k and v to kv at offset, then attends causally.
func (b *Backend) Attention(qa, ka, va tensor.Array, ct tensor.KVCache, offset int, opts tensor.AttentionOpts) tensor.Array {
	q, out, ok := b.unary(qa)
	if !ok {
		return b.poison
	}
	k, ok1 := b.arr(ka)
	v, ok2 := b.arr(va)
	c, ok3 := ct.(*kvCache)
	if !ok1 || !ok2 || !ok3 || c.b != b || c.freed {
		return b.fail("Attention: released or foreign argument")
	}
	heads, err := tensor.CheckAttention(q.rows, q.cols, k.rows, k.cols, v.rows, v.cols, c.heads, c.dim, c.maxLen, offset, opts.Window)
	if err != nil {
		return b.fail("Attention: %v", err)
	}
	var sinks []float32
	if opts.Sinks != nil {
		w, ok := b.weightArg(opts.Sinks)
		if !ok {
			return b.poison
		}
		if w.quantized() || w.rows != 1 || w.cols != heads {
			return b.fail("Attention: sinks are %d×%d, want 1×%d dense", w.rows, w.cols, heads)
		}
		sinks = b.sinksBuf(heads)
		w.vals.into(sinks, 0)
	}
	c.store(k, v, offset)
	b.scratchFor(max(offset+q.rows, min(c.maxLen, 4096)))
	b.att = attentionJob{q: q, out: out, kv: c, heads: heads, offset: offset, scale: opts.Scale, window: opts.Window, sinks: sinks}
	b.pool.parallel(&b.att, q.rows*b.att.heads, 1)
	b.att = attentionJob{}
	return out
}

// sinksBuf is a reusable buffer of n values for the attention sinks.
func (b *Backend) sinksBuf(n int) []float32 {
	if cap(b.sinks) < n {
		b.sinks = make([]float32, n)
	}
	return b.sinks[:n]
}

func (j *attentionJob) run(lo, hi, worker int) {
	scores := j.q.b.scratch[worker]
	for item := lo; item < hi; item++ {
		i, h := item/j.heads, item%j.heads
		p := j.offset + i
		first := 0
		if j.window > 0 {
			first = max(0, p-j.window+1)
		}
		j.one(i, h, first, scores[:p+1-first])
	}
}

// one attends query i of head h over positions first..first+len(scores)-1.
func (j *attentionJob) one(i, h, first int, scores []float32) {
	c := j.kv
	dim := c.dim
	kvh := h / (j.heads / c.heads)
	q := j.q.row(i)[h*dim : (h+1)*dim]
	out := j.out.row(i)[h*dim : (h+1)*dim]
	m := float32(math.Inf(-1))
	if j.sinks != nil {
		m = j.sinks[h]
	}
	for p := range scores {
		s := j.scale * c.dotK(q, kvh, first+p)
		scores[p] = s
		m = max(m, s)
	}
	var sum float32
	if j.sinks != nil {
		sum = float32(math.Exp(float64(j.sinks[h] - m)))
	}
	for p, s := range scores {
		e := float32(math.Exp(float64(s - m)))
		scores[p] = e
		sum += e
	}
	clear(out)
	for p, e := range scores {
		c.axpyV(out, kvh, first+p, e/sum)
	}
}

// axpy is y += a·x.
func axpy(y, x []float32, a float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}

// axpyF16 is y += a·f16(x), through halfTable.
func axpyF16(y []float32, x []uint16, a float32) {
	x = x[:len(y)]
	t := halfTable
	for i := range y {
		y[i] += a * t[x[i]]
	}
}

// axpyBF16 is y += a·bf16(x).
func axpyBF16(y []float32, x []uint16, a float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * bf16(x[i])
	}
}
