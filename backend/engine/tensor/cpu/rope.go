package cpu

import (
	"fmt"
	"math"

	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// rope holds a rotary embedding's inverse frequencies.
type rope struct {
	b       *Backend
	dims    int
	invFreq []float64
	cos     []float32 // per-row angles' cosines and sines, reused
	sin     []float32
	freed   bool
}

// Dims is the width of the heads it rotates.
func (r *rope) Dims() int { return r.dims }

// Free forgets the frequencies.
func (r *rope) Free() { *r = rope{b: r.b, freed: true} }

// NewRope makes a rotary embedding of dims-wide heads.
func (b *Backend) NewRope(dims int, invFreq []float64) (tensor.Rope, error) {
	if err := tensor.CheckRope(dims, invFreq); err != nil {
		return nil, fmt.Errorf("cpu: %w", err)
	}
	half := dims / 2
	return &rope{b: b, dims: dims, invFreq: append([]float64(nil), invFreq...),
		cos: make([]float32, half), sin: make([]float32, half)}, nil
}

// Rope rotates the halves of each head of each row of x: with θ the angle
// of pair i at the row's position, (a, b) = (x[i], x[i+dims/2]) becomes
// (a·cosθ − b·sinθ, a·sinθ + b·cosθ). Angles are computed in float64.
func (b *Backend) Rope(xa tensor.Array, rt tensor.Rope, offset int) tensor.Array {
	x, out, ok := b.unary(xa)
	if !ok {
		return b.poison
	}
	r, isRope := rt.(*rope)
	if !isRope || r.b != b || r.freed {
		return b.fail("Rope: freed or foreign Rope")
	}
	if x.cols%r.dims != 0 || offset < 0 {
		return b.fail("Rope: %d columns in heads of %d at offset %d", x.cols, r.dims, offset)
	}
	half := r.dims / 2
	for i := range x.rows {
		r.angles(offset + i)
		xr, or := x.row(i), out.row(i)
		for h := 0; h < x.cols; h += r.dims {
			rotate(xr[h:h+r.dims], or[h:h+r.dims], r.cos, r.sin, half)
		}
	}
	return out
}

// angles fills cos and sin for position pos.
func (r *rope) angles(pos int) {
	for i, f := range r.invFreq {
		s, c := math.Sincos(float64(pos) * f)
		r.cos[i], r.sin[i] = float32(c), float32(s)
	}
}

func rotate(x, out, cos, sin []float32, half int) {
	a, bb := x[:half], x[half:2*half]
	oa, ob := out[:half], out[half:2*half]
	cos, sin = cos[:half], sin[:half]
	for i := range half {
		oa[i] = a[i]*cos[i] - bb[i]*sin[i]
		ob[i] = a[i]*sin[i] + bb[i]*cos[i]
	}
}
