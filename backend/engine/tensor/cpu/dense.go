package cpu

import (
	"math"

	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// The operations added for gemma3 and phi3 (issue 16): elementwise
// Scale, Tanh and GELUTanh, and the partial rotary embedding.

// Scale multiplies x by s.
func (b *Backend) Scale(xa tensor.Array, s float32) tensor.Array {
	return b.elementwise(xa, elemScale, s)
}

// Tanh is tanh(x), computed in float64.
func (b *Backend) Tanh(xa tensor.Array) tensor.Array { return b.elementwise(xa, elemTanh, 0) }

// GELUTanh is 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³))), computed in
// float64.
func (b *Backend) GELUTanh(xa tensor.Array) tensor.Array { return b.elementwise(xa, elemGELUTanh, 0) }

func (b *Backend) elementwise(xa tensor.Array, op elemOp, s float32) tensor.Array {
	x, out, ok := b.unary(xa)
	if !ok {
		return b.poison
	}
	b.elem = elemJob{op: op, s: s, x: x, out: out}
	b.pool.parallel(&b.elem, x.rows*x.cols, 1<<14)
	b.elem = elemJob{}
	return out
}

type elemOp int

const (
	elemScale elemOp = iota
	elemTanh
	elemGELUTanh
)

// elemJob is an elementwise operation of one input over a range of flat
// indices.
type elemJob struct {
	op     elemOp
	s      float32
	x, out *array
}

// geluC is sqrt(2/π).
var geluC = math.Sqrt(2 / math.Pi)

func (j *elemJob) run(lo, hi, _ int) {
	o, x := j.out.data()[lo:hi], j.x.data()[lo:hi]
	switch j.op {
	case elemScale:
		for i, v := range x {
			o[i] = v * j.s
		}
	case elemTanh:
		for i, v := range x {
			o[i] = float32(math.Tanh(float64(v)))
		}
	case elemGELUTanh:
		for i, v := range x {
			f := float64(v)
			o[i] = float32(0.5 * f * (1 + math.Tanh(geluC*(f+0.044715*f*f*f))))
		}
	}
}

// RopePartial rotates the first r.Dims() values of each headDim-wide head
// as Rope does and copies the rest.
func (b *Backend) RopePartial(xa tensor.Array, rt tensor.Rope, headDim, offset int) tensor.Array {
	x, out, ok := b.unary(xa)
	if !ok {
		return b.poison
	}
	r, isRope := rt.(*rope)
	if !isRope || r.b != b || r.freed {
		return b.fail("RopePartial: freed or foreign Rope")
	}
	if err := tensor.CheckRopePartial(x.cols, headDim, r.dims, offset); err != nil {
		return b.fail("%v", err)
	}
	half := r.dims / 2
	for i := range x.rows {
		r.angles(offset + i)
		xr, or := x.row(i), out.row(i)
		for h := 0; h < x.cols; h += headDim {
			rotate(xr[h:h+r.dims], or[h:h+r.dims], r.cos, r.sin, half)
			copy(or[h+r.dims:h+headDim], xr[h+r.dims:h+headDim])
		}
	}
	return out
}
