package tensortest

import (
	"math"
	"math/cmplx"
)

// The reference operations: float64, straight from the formulas, sharing
// no code with any backend. They are exported for the model tests.

// MatMulT is x·wᵀ for x n×k and w m×k, with, per output, Σ|x·w| (the
// scale float32 rounding errors are proportional to).
func MatMulT(x, w []float64, n, k, m int) (out, mag []float64) {
	out, mag = make([]float64, n*m), make([]float64, n*m)
	for r := range n {
		for o := range m {
			var s, a float64
			for i := range k {
				p := x[r*k+i] * w[o*k+i]
				s += p
				a += math.Abs(p)
			}
			out[r*m+o], mag[r*m+o] = s, a
		}
	}
	return out, mag
}

// RMSNorm is x/sqrt(mean(x²)+eps)·w for each row of x.
func RMSNorm(x, w []float64, eps float64) []float64 {
	n := len(w)
	out := make([]float64, len(x))
	for r := 0; r < len(x); r += n {
		var ss float64
		for _, v := range x[r : r+n] {
			ss += v * v
		}
		inv := 1 / math.Sqrt(ss/float64(n)+eps)
		for i := range n {
			out[r+i] = x[r+i] * inv * w[i]
		}
	}
	return out
}

// Rope turns, in every dims-wide head of each row (row i at position
// offset+i), the pair (x[j], x[j+dims/2]) as the complex number
// x[j] + i·x[j+dims/2] by the angle position·invFreq[j].
func Rope(x []float64, cols, dims, offset int, invFreq []float64) []float64 {
	out := make([]float64, len(x))
	half := dims / 2
	for r := 0; r*cols < len(x); r++ {
		pos := float64(offset + r)
		for h := 0; h < cols; h += dims {
			base := r*cols + h
			for j := range half {
				z := complex(x[base+j], x[base+j+half]) * cmplx.Rect(1, pos*invFreq[j])
				out[base+j], out[base+j+half] = real(z), imag(z)
			}
		}
	}
	return out
}

// Attention is causal grouped-query attention: q is n×heads·dim at
// positions start..start+n-1, keys and values are T×kvHeads·dim for
// positions 0..T-1 (T ≥ start+n), and query head h uses kv head
// h·kvHeads/heads.
func Attention(q, k, v []float64, n, start, heads, kvHeads, dim int, scale float64) []float64 {
	return AttentionWith(q, k, v, n, start, heads, kvHeads, dim, scale, 0, nil)
}

// AttentionWith is Attention with a sliding window and attention sinks.
// With window > 0 the query at position p sees the keys j with
// p−window < j ≤ p, as transformers' sliding_window_overlay masks them
// (kv_idx > q_idx − sliding_window) and mlx-lm's create_causal_mask does.
// sinks, when not nil, holds one logit per query head that joins the
// head's softmax and carries no value: softmax over [sink, scores…] with
// the sink's column dropped, as gpt-oss's eager_attention_forward writes
// it (the sink is not scaled).
func AttentionWith(q, k, v []float64, n, start, heads, kvHeads, dim int, scale float64, window int, sinks []float64) []float64 {
	out := make([]float64, n*heads*dim)
	for i := range n {
		p := start + i
		first := 0
		if window > 0 {
			first = max(0, p-window+1)
		}
		for h := range heads {
			g := h * kvHeads / heads
			qh := q[(i*heads+h)*dim : (i*heads+h+1)*dim]
			var w []float64
			if sinks != nil {
				w = append(w, sinks[h])
			}
			for j := first; j <= p; j++ {
				kj := k[(j*kvHeads+g)*dim : (j*kvHeads+g+1)*dim]
				var s float64
				for d := range dim {
					s += qh[d] * kj[d] * scale
				}
				w = append(w, s)
			}
			w = Softmax(w)
			if sinks != nil {
				w = w[1:]
			}
			for jj, wj := range w {
				j := first + jj
				for d := range dim {
					out[(i*heads+h)*dim+d] += wj * v[(j*kvHeads+g)*dim+d]
				}
			}
		}
	}
	return out
}

// Softmax is exp(x−max)/Σexp(x−max).
func Softmax(x []float64) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, v)
	}
	out := make([]float64, len(x))
	var sum float64
	for i, v := range x {
		out[i] = math.Exp(v - m)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// SiLU is x/(1+e^−x).
func SiLU(x float64) float64 { return x / (1 + math.Exp(-x)) }
