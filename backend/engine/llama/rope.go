package llama

import (
	"fmt"
	"math"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
)

// ropeFrequencies returns the inverse frequencies of RoPE over headDim
// dimensions: pair i turns by position/period_i with period_i =
// theta^(2i/headDim), adjusted by the model's rope_scaling as mlx-lm's
// initialize_rope does ("default", "linear" and Llama 3's "llama3").
func ropeFrequencies(headDim int, theta float64, s *modelfile.RopeScaling) ([]float64, error) {
	periods := make([]float64, headDim/2)
	for i := range periods {
		periods[i] = math.Pow(theta, float64(2*i)/float64(headDim))
	}
	kind := ""
	if s != nil {
		kind = s.Type
	}
	switch kind {
	case "", "default":
	case "linear":
		if s.Factor <= 0 {
			return nil, fmt.Errorf("llama: linear rope_scaling factor %v", s.Factor)
		}
		for i := range periods {
			periods[i] *= s.Factor
		}
	case "llama3":
		if err := llama3Periods(periods, *s); err != nil {
			return nil, err
		}
	case "longrope": // phi3.go
		if err := longropePeriods(periods, *s); err != nil {
			return nil, err
		}
	case "yarn": // gpt-oss (issue 16)
		if err := yarnPeriods(periods, theta, *s); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("llama: rope_scaling type %q is not supported", kind)
	}
	inv := make([]float64, len(periods))
	for i, p := range periods {
		inv[i] = 1 / p
	}
	return inv, nil
}

// llama3Periods applies Llama 3's scaling (mlx-lm's Llama3RoPE): periods
// whose wavelength 2π·period exceeds original/low_freq_factor are
// stretched by factor, those under original/high_freq_factor kept, and
// those strictly between interpolated smoothly.
func llama3Periods(periods []float64, s modelfile.RopeScaling) error {
	low, high, orig := s.LowFreqFactor, s.HighFreqFactor, float64(s.OriginalMaxPositionEmbeddings)
	if low == 0 {
		low = 1 // mlx-lm's defaults
	}
	if high == 0 {
		high = 4
	}
	if orig == 0 {
		orig = 8192
	}
	if s.Factor <= 0 || high <= low {
		return fmt.Errorf("llama: llama3 rope_scaling factor %v, low_freq_factor %v, high_freq_factor %v", s.Factor, low, high)
	}
	lowWavelen, highWavelen := orig/low, orig/high
	for i, p := range periods {
		wavelen := 2 * math.Pi * p
		switch {
		case wavelen > lowWavelen:
			periods[i] = p * s.Factor
		case wavelen > highWavelen && wavelen < lowWavelen:
			smooth := (orig/wavelen - low) / (high - low)
			periods[i] = p / ((1-smooth)/s.Factor + smooth)
		}
	}
	return nil
}
