package tensortest

import (
	"math"
	"slices"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// Attention outputs are convex combinations of values bounded by 1, so
// they are compared to 2e-6 absolute (scores of a few units, float32).
const attTol = 2e-6

// history is one sequence's keys and values as the reference sees them
// (rounded to the cache's dtype, as the cache stores them), and the
// attention options every step uses.
type history struct {
	heads, kvHeads, dim int
	dtype               modelfile.DType
	k, v                []float64 // positions × kvHeads·dim

	window int
	sinks  []float64     // per query head; nil: none
	sinkW  tensor.Weight // the same values on the backend
}

// step attends n new positions at offset on the backend and checks the
// output against the reference over the history truncated to offset.
func (h *history) step(t *testing.T, b tensor.Backend, kv tensor.KVCache, n, offset int, seed uint64) {
	t.Helper()
	rng := NewRand(seed)
	width := h.kvHeads * h.dim
	q := Random(rng, n*h.heads*h.dim, 1)
	k, v := Random(rng, n*width, 1), Random(rng, n*width, 1)
	h.k = append(h.k[:offset*width], Round(h.dtype, F64(k))...)
	h.v = append(h.v[:offset*width], Round(h.dtype, F64(v))...)
	scale := 1 / math.Sqrt(float64(h.dim))
	want := AttentionWith(F64(q), h.k, h.v, n, offset, h.heads, h.kvHeads, h.dim, scale, h.window, h.sinks)
	var got []float32
	run(t, b, func() (err error) {
		qa := b.FromFloat32(n, h.heads*h.dim, q)
		ka, va := b.FromFloat32(n, width, k), b.FromFloat32(n, width, v)
		opts := tensor.AttentionOpts{Scale: float32(scale), Window: h.window, Sinks: h.sinkW}
		got, err = read(b, b.Attention(qa, ka, va, kv, offset, opts))
		return err
	})
	what := name("Attention %d/%d heads, %s cache, window %d, sinks %t, %d queries at %d", h.heads, h.kvHeads, h.dtype, h.window, h.sinks != nil, n, offset)
	within(t, what, got, want, ones(len(want)), attTol, 0)
}

// withSinks gives the history random sinks of about the scores' size,
// loaded on the backend (the caller frees h.sinkW).
func (h *history) withSinks(t *testing.T, b tensor.Backend, seed uint64) {
	t.Helper()
	s := Random(NewRand(seed), h.heads, 2)
	s[0] = 6 // a sink that takes most of head 0's weight
	h.sinks = F64(s)
	h.sinkW = load(t, b, Dense("sinks", modelfile.F32, s, h.heads))
}

func newKV(t *testing.T, b tensor.Backend, kvHeads, dim, maxLen int, dtype modelfile.DType) tensor.KVCache {
	t.Helper()
	var kv tensor.KVCache
	run(t, b, func() (err error) {
		kv, err = b.NewKVCache(kvHeads, dim, maxLen, dtype)
		return err
	})
	if kv.MaxLen() != maxLen {
		t.Errorf("MaxLen() = %d, want %d", kv.MaxLen(), maxLen)
	}
	return kv
}

// kvDTypes are the element types a KV cache stores.
var kvDTypes = []modelfile.DType{modelfile.F16, modelfile.BF16, modelfile.F32}

// testAttentionCausal runs a prefill, decode steps and a second prefill
// chunk (several queries after cached positions) for multi-head,
// grouped-query and multi-query attention, with caches of every dtype.
func testAttentionCausal(t *testing.T, b tensor.Backend) {
	for _, dt := range kvDTypes {
		for _, c := range []struct{ heads, kvHeads, dim int }{{4, 4, 16}, {6, 2, 32}, {4, 1, 8}} {
			kv := newKV(t, b, c.kvHeads, c.dim, 24, dt)
			h := &history{heads: c.heads, kvHeads: c.kvHeads, dim: c.dim, dtype: dt}
			offset := 0
			for i, n := range []int{5, 1, 1, 3, 14} {
				h.step(t, b, kv, n, offset, uint64(100+i))
				offset += n
			}
			free(t, b, kv)
		}
	}
}

// testKVCacheGrowth stores positions one chunk at a time in a long cache:
// memory follows the positions stored (not MaxLen), Bytes counts the
// dtype's element size, and attention over a cache that grew several
// times is still right.
func testKVCacheGrowth(t *testing.T, b tensor.Backend) {
	const heads, dim = 2, 16
	full := func(dt modelfile.DType, maxLen int) int64 { return 2 * int64(maxLen*heads*dim*dt.Size()) }
	for _, dt := range kvDTypes {
		kv := newKV(t, b, heads, dim, 4000, dt)
		h := &history{heads: 4, kvHeads: heads, dim: dim, dtype: dt}
		if n := kv.Bytes(); n >= full(dt, 4000)/2 {
			t.Errorf("%s: an empty cache of 4000 positions holds %d bytes", dt, n)
		}
		offset := 0
		for i, n := range []int{300, 1, 250, 1, 600} {
			h.step(t, b, kv, n, offset, uint64(600+i))
			offset += n
			stored := 2 * int64(offset*heads*dim*dt.Size())
			if got := kv.Bytes(); got < stored || got >= full(dt, 4000)/2 {
				t.Errorf("%s: Bytes() = %d after %d positions, want at least %d (their %d-byte keys and values) and well under %d (all 4000 positions)",
					dt, got, offset, stored, dt.Size(), full(dt, 4000))
			}
		}
		free(t, b, kv)

		// A cache filled to its MaxLen, which is no multiple of any
		// growth step, holds no more than MaxLen positions.
		kv = newKV(t, b, heads, dim, 300, dt)
		h = &history{heads: 4, kvHeads: heads, dim: dim, dtype: dt}
		h.step(t, b, kv, 290, 0, 610)
		h.step(t, b, kv, 10, 290, 611)
		if got, want := kv.Bytes(), full(dt, 300); got != want {
			t.Errorf("%s: Bytes() = %d with all 300 positions stored, want %d", dt, got, want)
		}
		free(t, b, kv)
	}
}

// testAttentionRollback attends again from an earlier offset: the
// positions after it must be forgotten.
func testAttentionRollback(t *testing.T, b tensor.Backend) {
	kv := newKV(t, b, 2, 16, 16, modelfile.F16)
	h := &history{heads: 4, kvHeads: 2, dim: 16, dtype: modelfile.F16}
	h.step(t, b, kv, 9, 0, 200)
	h.step(t, b, kv, 2, 4, 201)
	h.step(t, b, kv, 1, 6, 202)
	free(t, b, kv)
}

// testAttentionWindow runs sequences longer than the window: a first
// prefill longer than it, decode steps past it, prefill chunks that start
// after cached positions (some of them outside every query's window, some
// inside the first queries' only), and windows of 1 (each query sees only
// itself) and larger than the sequence (no effect).
func testAttentionWindow(t *testing.T, b tensor.Backend) {
	for i, c := range []struct{ heads, kvHeads, dim, window int }{
		{4, 2, 16, 3}, {4, 4, 8, 5}, {6, 2, 32, 1}, {4, 1, 16, 4}, {4, 2, 16, 40},
	} {
		dt := kvDTypes[i%len(kvDTypes)]
		kv := newKV(t, b, c.kvHeads, c.dim, 32, dt)
		h := &history{heads: c.heads, kvHeads: c.kvHeads, dim: c.dim, window: c.window, dtype: dt}
		offset := 0
		for i, n := range []int{7, 1, 1, 1, 2, 6, 1, 11} {
			h.step(t, b, kv, n, offset, uint64(300+i))
			offset += n
		}
		free(t, b, kv)
	}
}

// testAttentionWindowRollback rolls back to offsets inside and before the
// window of the last position: the forgotten positions must not be seen.
func testAttentionWindowRollback(t *testing.T, b tensor.Backend) {
	kv := newKV(t, b, 2, 16, 24, modelfile.BF16)
	h := &history{heads: 4, kvHeads: 2, dim: 16, window: 4, dtype: modelfile.BF16}
	h.step(t, b, kv, 12, 0, 400)
	h.step(t, b, kv, 1, 10, 401)
	h.step(t, b, kv, 5, 3, 402)
	h.step(t, b, kv, 1, 6, 403)
	h.step(t, b, kv, 1, 7, 404)
	free(t, b, kv)
}

// testAttentionSinks checks attention sinks alone, with grouped-query
// heads, and together with a sliding window, over prefill chunks, decode
// steps and a rollback.
func testAttentionSinks(t *testing.T, b tensor.Backend) {
	for i, c := range []struct{ heads, kvHeads, dim, window int }{{4, 4, 16, 0}, {6, 2, 16, 0}, {4, 2, 16, 3}} {
		dt := kvDTypes[i%len(kvDTypes)]
		kv := newKV(t, b, c.kvHeads, c.dim, 24, dt)
		h := &history{heads: c.heads, kvHeads: c.kvHeads, dim: c.dim, window: c.window, dtype: dt}
		h.withSinks(t, b, uint64(500+i))
		h.step(t, b, kv, 6, 0, 510)
		h.step(t, b, kv, 1, 6, 511)
		h.step(t, b, kv, 4, 7, 512)
		h.step(t, b, kv, 1, 5, 513)
		free(t, b, kv, h.sinkW)
	}
}

// prefix is the history of the first n positions, as a copy of a cache's
// first n positions holds them.
func (h *history) prefix(n int) *history {
	width := h.kvHeads * h.dim
	c := *h
	c.k, c.v = slices.Clone(h.k[:n*width]), slices.Clone(h.v[:n*width])
	return &c
}

func copyKV(t *testing.T, b tensor.Backend, src tensor.KVCache, n int) tensor.KVCache {
	t.Helper()
	var kv tensor.KVCache
	run(t, b, func() (err error) {
		kv, err = b.CopyKVCache(src, n)
		return err
	})
	if kv.MaxLen() != src.MaxLen() {
		t.Errorf("copy: MaxLen() = %d, want the source's %d", kv.MaxLen(), src.MaxLen())
	}
	return kv
}

// testKVCacheCopy copies the first positions of a cache that grew past a
// growth step: attention over the copy sees exactly the copied positions
// and those stored after them, the copy's memory is that of its
// positions, and the source and the copy are independent (writing one,
// or freeing it, leaves the other as it was). A copy of nothing is an
// empty cache.
func testKVCacheCopy(t *testing.T, b tensor.Backend) {
	const kvHeads, dim = 2, 16
	bytes := func(dt modelfile.DType, positions int) int64 { return 2 * int64(positions*kvHeads*dim*dt.Size()) }
	for i, dt := range kvDTypes {
		seed := uint64(700 + 10*i)
		src := newKV(t, b, kvHeads, dim, 600, dt)
		h := &history{heads: 4, kvHeads: kvHeads, dim: dim, dtype: dt}
		h.step(t, b, src, 300, 0, seed)
		cp := copyKV(t, b, src, 270)
		if got := cp.Bytes(); got < bytes(dt, 270) || got > src.Bytes() {
			t.Errorf("%s: a copy of 270 positions holds %d bytes; want at least %d, at most the source's %d", dt, got, bytes(dt, 270), src.Bytes())
		}
		hc := h.prefix(270)
		hc.step(t, b, cp, 4, 270, seed+1) // overwrites what the source holds at 270..273
		h.step(t, b, src, 1, 300, seed+2) // the source still holds its 300
		free(t, b, src)
		hc.step(t, b, cp, 1, 274, seed+3)
		hc.step(t, b, cp, 300, 275, seed+4) // grows the copy
		whole := copyKV(t, b, cp, 575)      // every position stored
		hc.step(t, b, whole, 1, 575, seed+5)
		free(t, b, cp, whole)

		empty := newKV(t, b, kvHeads, dim, 16, dt)
		none := copyKV(t, b, empty, 0)
		if none.Bytes() != 0 {
			t.Errorf("%s: a copy of 0 positions holds %d bytes", dt, none.Bytes())
		}
		he := &history{heads: 4, kvHeads: kvHeads, dim: dim, dtype: dt}
		he.step(t, b, none, 5, 0, seed+6)
		free(t, b, empty, none)
	}
}

// testKVCacheCopyErrors asks for more positions than a cache has memory
// for, fewer than none, and a copy of a freed cache.
func testKVCacheCopyErrors(t *testing.T, b tensor.Backend) {
	kv := newKV(t, b, 2, 16, 24, modelfile.F16)
	h := &history{heads: 4, kvHeads: 2, dim: 16, dtype: modelfile.F16}
	h.step(t, b, kv, 5, 0, 800)
	gone := newKV(t, b, 2, 16, 24, modelfile.F16)
	free(t, b, gone)
	for what, c := range map[string]struct {
		src tensor.KVCache
		n   int
	}{"more than MaxLen": {kv, 25}, "negative": {kv, -1}, "freed": {gone, 0}} {
		run(t, b, func() error {
			if cp, err := b.CopyKVCache(c.src, c.n); err == nil {
				t.Errorf("%s: no error", what)
				cp.Free()
			}
			return nil
		})
	}
	free(t, b, kv)
}
