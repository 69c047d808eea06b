package llamatest

import (
	"math"

	"github.com/modelbar/modelbar/backend/engine/tensor/tensortest"
)

// gptOSSAttention is GptOssAttention of transformers' modeling_gpt_oss:
// q/k/v/o projections with biases, RoPE with YaRN (cos and sin scaled by
// the attention factor), causal attention limited to the layer's sliding
// window, and the per-head sink logit joining each softmax without a
// value.
func (r *Reference) gptOSSAttention(p string, x []float64, n int) []float64 {
	c := r.c
	hd, heads, kvHeads := c.HeadDim, c.NumHeads, c.NumKVHeads
	q := r.linear(p+"self_attn.q_proj", x, n, c.HiddenSize, heads*hd)
	k := r.linear(p+"self_attn.k_proj", x, n, c.HiddenSize, kvHeads*hd)
	v := r.linear(p+"self_attn.v_proj", x, n, c.HiddenSize, kvHeads*hd)
	// transformers scales cos and sin by the attention factor, i.e. q and
	// k each by it; here the scores are scaled by its square instead, so
	// that k is what a KV cache holds (the engine does the same).
	inv, factor := yarnInvFreq(r)
	q, k = rotateHalf(q, n, heads, hd, inv, 1), rotateHalf(k, n, kvHeads, hd, inv, 1)
	k, v = tensortest.Round(r.kv, k), tensortest.Round(r.kv, v)
	var sinks []float64
	if c.AttentionSinks {
		sinks = r.vector(p + "self_attn.sinks")
	}
	window := 0
	if c.LayerWindows != nil {
		window = c.LayerWindows[layerIndex(p)]
	}
	out := make([]float64, n*heads*hd)
	scale := factor * factor / math.Sqrt(float64(hd))
	for i := range n {
		for h := range heads {
			g := h / (heads / kvHeads)
			var logits []float64
			var keys []int
			for j := 0; j <= i; j++ {
				if window > 0 && i-j >= window {
					continue
				}
				var s float64
				for d := range hd {
					s += q[(i*heads+h)*hd+d] * k[(j*kvHeads+g)*hd+d]
				}
				logits, keys = append(logits, s*scale), append(keys, j)
			}
			if sinks != nil {
				logits = append(logits, sinks[h])
			}
			probs := tensortest.Softmax(logits)
			for a, j := range keys {
				for d := range hd {
					out[(i*heads+h)*hd+d] += probs[a] * v[(j*kvHeads+g)*hd+d]
				}
			}
		}
	}
	return r.linear(p+"self_attn.o_proj", out, n, heads*hd, c.HiddenSize)
}

// rotateHalf applies transformers' apply_rotary_pos_emb to rows of
// heads×hd values at positions 0..n-1: x·cos + rotate_half(x)·sin, with
// cos and sin of position·inv_freq (repeated over both halves) times the
// attention factor.
func rotateHalf(x []float64, n, heads, hd int, inv []float64, factor float64) []float64 {
	out := make([]float64, len(x))
	half := hd / 2
	for i := range n {
		for h := range heads {
			row := x[(i*heads+h)*hd : (i*heads+h+1)*hd]
			o := out[(i*heads+h)*hd : (i*heads+h+1)*hd]
			for d := range hd {
				angle := float64(i) * inv[d%half]
				cos, sin := math.Cos(angle)*factor, math.Sin(angle)*factor
				var rot float64
				if d < half {
					rot = -row[d+half]
				} else {
					rot = row[d-half]
				}
				o[d] = row[d]*cos + rot*sin
			}
		}
	}
	return out
}

// yarnInvFreq is transformers' _compute_yarn_parameters: the inverse
// frequencies blended between extrapolation (1/pos_freq) and
// interpolation (1/(factor·pos_freq)) by a linear ramp over the
// correction range, and the attention factor get_mscale(factor).
func yarnInvFreq(r *Reference) ([]float64, float64) {
	c := r.c
	s := c.RopeScaling
	dim, base := float64(c.HeadDim), c.RopeTheta
	inv := make([]float64, c.HeadDim/2)
	for i := range inv {
		inv[i] = 1 / math.Pow(base, float64(2*i)/dim)
	}
	if s == nil || s.Type != "yarn" {
		return inv, 1
	}
	findDim := func(rot float64) float64 {
		return dim * math.Log(float64(s.OriginalMaxPositionEmbeddings)/(rot*2*math.Pi)) / (2 * math.Log(base))
	}
	low, high := findDim(s.BetaFast), findDim(s.BetaSlow)
	if !s.NoTruncate {
		low, high = math.Floor(low), math.Ceil(high)
	}
	low, high = math.Max(low, 0), math.Min(high, dim-1)
	if low == high {
		high += 0.001
	}
	for i, f := range inv {
		ramp := math.Min(math.Max((float64(i)-low)/(high-low), 0), 1)
		extrapolation := 1 - ramp
		inv[i] = f/s.Factor*(1-extrapolation) + f*extrapolation
	}
	factor := 1.0
	if s.Factor > 1 {
		factor = 0.1*math.Log(s.Factor) + 1
	}
	return inv, factor
}

func layerIndex(p string) int {
	var i int
	for _, ch := range p[len("model.layers."):] {
		if ch < '0' || ch > '9' {
			break
		}
		i = 10*i + int(ch-'0')
	}
	return i
}
