package llama

import (
	"fmt"
	"math"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
)

// gpt-oss (issue 16): its attention sinks and alternating windows are
// per-layer settings of the forward pass (layer.sinks, layer.window), its
// experts a moeLayer with ClampedSwiGLU; what is left is YaRN RoPE.

// yarnPeriods applies YaRN (rope_type "yarn") as transformers'
// _compute_yarn_parameters does: frequencies whose rotations over the
// original context fall below beta_slow are interpolated (divided by
// factor), those above beta_fast kept, with a linear ramp between the
// correction dimensions (rounded outwards unless truncate is false).
func yarnPeriods(periods []float64, theta float64, s modelfile.RopeScaling) error {
	fast, slow := s.BetaFast, s.BetaSlow
	if fast == 0 {
		fast = 32
	}
	if slow == 0 {
		slow = 1
	}
	orig := float64(s.OriginalMaxPositionEmbeddings)
	if s.Factor <= 0 || orig <= 0 {
		return fmt.Errorf("llama: yarn rope_scaling factor %v, original_max_position_embeddings %v", s.Factor, orig)
	}
	dim := float64(2 * len(periods))
	corr := func(rot float64) float64 {
		return dim * math.Log(orig/(rot*2*math.Pi)) / (2 * math.Log(theta))
	}
	low, high := corr(fast), corr(slow)
	if !s.NoTruncate {
		low, high = math.Floor(low), math.Ceil(high)
	}
	low, high = max(low, 0), min(high, dim-1)
	if low == high {
		high += 0.001
	}
	for i, p := range periods {
		ramp := min(max((float64(i)-low)/(high-low), 0), 1)
		// Interpolated frequency 1/(factor·p) where ramp is 1, extrapolated 1/p where 0.
		inv := ramp/(s.Factor*p) + (1-ramp)/p
		periods[i] = 1 / inv
	}
	return nil
}

// yarnAttentionScale is what YaRN multiplies attention scores by: its
// attention factor 0.1·ln(factor)+1 scales both cos and sin, so queries
// and keys, and the scores by its square. 1 without YaRN.
func yarnAttentionScale(s *modelfile.RopeScaling) float64 {
	if s == nil || s.Type != "yarn" || s.Factor <= 1 {
		return 1
	}
	a := 0.1*math.Log(s.Factor) + 1
	return a * a
}
