package tensortest

import (
	"math"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// Attention outputs are convex combinations of values bounded by 1, so
// they are compared to 2e-6 absolute (scores of a few units, float32).
const attTol = 2e-6

// history is one sequence's keys and values as the reference sees them.
type history struct {
	heads, kvHeads, dim int
	k, v                []float64 // positions × kvHeads·dim
}

// step attends n new positions at offset on the backend and checks the
// output against the reference over the history truncated to offset.
func (h *history) step(t *testing.T, b tensor.Backend, kv tensor.KVCache, n, offset int, seed uint64) {
	t.Helper()
	rng := NewRand(seed)
	width := h.kvHeads * h.dim
	q := Random(rng, n*h.heads*h.dim, 1)
	k, v := Random(rng, n*width, 1), Random(rng, n*width, 1)
	h.k = append(h.k[:offset*width], F64(k)...)
	h.v = append(h.v[:offset*width], F64(v)...)
	scale := 1 / math.Sqrt(float64(h.dim))
	want := Attention(F64(q), h.k, h.v, n, offset, h.heads, h.kvHeads, h.dim, scale)
	var got []float32
	run(t, b, func() (err error) {
		qa := b.FromFloat32(n, h.heads*h.dim, q)
		ka, va := b.FromFloat32(n, width, k), b.FromFloat32(n, width, v)
		got, err = read(b, b.Attention(qa, ka, va, kv, offset, tensor.AttentionOpts{Scale: float32(scale)}))
		return err
	})
	what := name("Attention %d/%d heads, %d queries at %d", h.heads, h.kvHeads, n, offset)
	within(t, what, got, want, ones(len(want)), attTol, 0)
}

func newKV(t *testing.T, b tensor.Backend, kvHeads, dim, maxLen int) tensor.KVCache {
	t.Helper()
	var kv tensor.KVCache
	run(t, b, func() (err error) {
		kv, err = b.NewKVCache(kvHeads, dim, maxLen)
		return err
	})
	if kv.MaxLen() != maxLen {
		t.Errorf("MaxLen() = %d, want %d", kv.MaxLen(), maxLen)
	}
	return kv
}

// testAttentionCausal runs a prefill, decode steps and a second prefill
// chunk (several queries after cached positions) for multi-head,
// grouped-query and multi-query attention.
func testAttentionCausal(t *testing.T, b tensor.Backend) {
	for _, c := range []struct{ heads, kvHeads, dim int }{{4, 4, 16}, {6, 2, 32}, {4, 1, 8}} {
		kv := newKV(t, b, c.kvHeads, c.dim, 24)
		h := &history{heads: c.heads, kvHeads: c.kvHeads, dim: c.dim}
		offset := 0
		for i, n := range []int{5, 1, 1, 3, 14} {
			h.step(t, b, kv, n, offset, uint64(100+i))
			offset += n
		}
		free(t, b, kv)
	}
}

// testAttentionRollback attends again from an earlier offset: the
// positions after it must be forgotten.
func testAttentionRollback(t *testing.T, b tensor.Backend) {
	kv := newKV(t, b, 2, 16, 16)
	h := &history{heads: 4, kvHeads: 2, dim: 16}
	h.step(t, b, kv, 9, 0, 200)
	h.step(t, b, kv, 2, 4, 201)
	h.step(t, b, kv, 1, 6, 202)
	free(t, b, kv)
}
