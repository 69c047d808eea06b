package cpu

import (
	"fmt"
	"math"

	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// kvCache stores float32 keys and values head-major: position p of head h
// starts at (h*maxLen+p)*dim, so one head's positions are contiguous.
type kvCache struct {
	b                  *Backend
	heads, dim, maxLen int
	k, v               []float32
	freed              bool
}

// MaxLen is the number of positions it holds.
func (c *kvCache) MaxLen() int { return c.maxLen }

// Bytes is the memory of the keys and values.
func (c *kvCache) Bytes() int64 { return int64(len(c.k)+len(c.v)) * 4 }

// Free drops the storage.
func (c *kvCache) Free() { *c = kvCache{b: c.b, freed: true} }

// NewKVCache allocates storage for maxLen positions. The memory is
// reserved up front (the operating system commits it as it is touched).
func (b *Backend) NewKVCache(kvHeads, headDim, maxLen int) (tensor.KVCache, error) {
	if err := tensor.CheckKVCache(kvHeads, headDim, maxLen); err != nil {
		return nil, fmt.Errorf("cpu: %w", err)
	}
	n := kvHeads * headDim * maxLen
	return &kvCache{b: b, heads: kvHeads, dim: headDim, maxLen: maxLen,
		k: make([]float32, n), v: make([]float32, n)}, nil
}

// at is the storage of position p of head h in s (c.k or c.v).
func (c *kvCache) at(s []float32, h, p int) []float32 {
	i := (h*c.maxLen + p) * c.dim
	return s[i : i+c.dim : i+c.dim]
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

// store copies the rows of k and v to positions offset, offset+1, ...
func (c *kvCache) store(k, v *array, offset int) {
	for i := range k.rows {
		kr, vr := k.row(i), v.row(i)
		for h := range c.heads {
			copy(c.at(c.k, h, offset+i), kr[h*c.dim:(h+1)*c.dim])
			copy(c.at(c.v, h, offset+i), vr[h*c.dim:(h+1)*c.dim])
		}
	}
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
		s := j.scale * dotF32(q, c.at(c.k, kvh, first+p))
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
		axpy(out, c.at(c.v, kvh, first+p), e/sum)
	}
}

// axpy is y += a·x.
func axpy(y, x []float32, a float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}
