package cpu

// The inner loops. Go does not vectorize, so each keeps several
// independent accumulators to hide floating-point latency, and re-slices
// its operands once per step so the compiler drops the bounds checks.

// dotF32 is Σ w[i]·x[i] (len(x) ≥ len(w)).
func dotF32(w, x []float32) float32 {
	var s0, s1, s2, s3 float32
	x = x[:len(w)]
	i := 0
	for ; i+4 <= len(w); i += 4 {
		ww, xx := w[i:i+4:i+4], x[i:i+4:i+4]
		s0 += ww[0] * xx[0]
		s1 += ww[1] * xx[1]
		s2 += ww[2] * xx[2]
		s3 += ww[3] * xx[3]
	}
	for ; i < len(w); i++ {
		s0 += w[i] * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// dotBF16 is Σ bf16(w[i])·x[i].
func dotBF16(w []uint16, x []float32) float32 {
	var s0, s1, s2, s3 float32
	x = x[:len(w)]
	i := 0
	for ; i+4 <= len(w); i += 4 {
		ww, xx := w[i:i+4:i+4], x[i:i+4:i+4]
		s0 += bf16(ww[0]) * xx[0]
		s1 += bf16(ww[1]) * xx[1]
		s2 += bf16(ww[2]) * xx[2]
		s3 += bf16(ww[3]) * xx[3]
	}
	for ; i < len(w); i++ {
		s0 += bf16(w[i]) * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// dotF16 is Σ f16(w[i])·x[i].
func dotF16(w []uint16, x []float32) float32 {
	var s0, s1, s2, s3 float32
	x = x[:len(w)]
	i := 0
	for ; i+4 <= len(w); i += 4 {
		ww, xx := w[i:i+4:i+4], x[i:i+4:i+4]
		s0 += f16(ww[0]) * xx[0]
		s1 += f16(ww[1]) * xx[1]
		s2 += f16(ww[2]) * xx[2]
		s3 += f16(ww[3]) * xx[3]
	}
	for ; i < len(w); i++ {
		s0 += f16(w[i]) * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// dotF16Table is Σ f16(w[i])·x[i] through halfTable.
func dotF16Table(w []uint16, x []float32) float32 {
	var s0, s1, s2, s3 float32
	x = x[:len(w)]
	t := halfTable
	i := 0
	for ; i+4 <= len(w); i += 4 {
		ww, xx := w[i:i+4:i+4], x[i:i+4:i+4]
		s0 += t[ww[0]] * xx[0]
		s1 += t[ww[1]] * xx[1]
		s2 += t[ww[2]] * xx[2]
		s3 += t[ww[3]] * xx[3]
	}
	for ; i < len(w); i++ {
		s0 += t[w[i]] * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// levels4 and levels8 turn a quantized field into its float32 value by a
// table load, which Go compiles to fewer instructions than a conversion.
var levels4, levels8 = func() (l4 [16]float32, l8 [256]float32) {
	for i := range l8 {
		l8[i] = float32(i)
	}
	copy(l4[:], l8[:16])
	return l4, l8
}()

// dotQ4 is the dot product of a row of 4-bit values (8 per word, the
// first in the lowest bits) in groups of group values with x: per group,
// scale·Σq·x + bias·Σx, with Σx given in sums. One running index over
// words and x keeps the loop's state in registers.
func dotQ4(q []uint32, scales, biases, x, sums []float32, group int) float32 {
	per := group / 8
	biases, sums = biases[:len(scales)], sums[:len(scales)]
	x = x[:8*len(q)]
	var acc float32
	i := 0
	for g, sc := range scales {
		var s0, s1, s2, s3 float32
		for end := i + per; i < end; i++ {
			w := q[i]
			xx := x[i*8 : i*8+8 : i*8+8]
			s0 += levels4[w&15]*xx[0] + levels4[w>>16&15]*xx[4]
			s1 += levels4[w>>4&15]*xx[1] + levels4[w>>20&15]*xx[5]
			s2 += levels4[w>>8&15]*xx[2] + levels4[w>>24&15]*xx[6]
			s3 += levels4[w>>12&15]*xx[3] + levels4[w>>28]*xx[7]
		}
		acc += sc*((s0+s1)+(s2+s3)) + biases[g]*sums[g]
	}
	return acc
}

// dotQ8 is dotQ4 for 8-bit values, 4 per word.
func dotQ8(q []uint32, scales, biases, x, sums []float32, group int) float32 {
	per := group / 4
	biases, sums = biases[:len(scales)], sums[:len(scales)]
	x = x[:4*len(q)]
	var acc float32
	i := 0
	for g, sc := range scales {
		var s0, s1, s2, s3 float32
		for end := i + per; i < end; i++ {
			w := q[i]
			xx := x[i*4 : i*4+4 : i*4+4]
			s0 += levels8[uint8(w)] * xx[0]
			s1 += levels8[uint8(w>>8)] * xx[1]
			s2 += levels8[uint8(w>>16)] * xx[2]
			s3 += levels8[w>>24] * xx[3]
		}
		acc += sc*((s0+s1)+(s2+s3)) + biases[g]*sums[g]
	}
	return acc
}

// dot4 returns the dot products of x with four rows of equal length,
// reading x once. Two elements per step go into each of four
// accumulators: more accumulators would spill out of Go's 15 usable
// floating-point registers.
func dot4(x, w0, w1, w2, w3 []float32) [4]float32 {
	var a, b, c, d float32
	n := len(x)
	w0, w1, w2, w3 = w0[:n], w1[:n], w2[:n], w3[:n]
	for i := 1; i < n; i += 2 {
		x0, x1 := x[i-1], x[i]
		a += x0*w0[i-1] + x1*w0[i]
		b += x0*w1[i-1] + x1*w1[i]
		c += x0*w2[i-1] + x1*w2[i]
		d += x0*w3[i-1] + x1*w3[i]
	}
	if n%2 == 1 {
		v := x[n-1]
		a += v * w0[n-1]
		b += v * w1[n-1]
		c += v * w2[n-1]
		d += v * w3[n-1]
	}
	return [4]float32{a, b, c, d}
}
