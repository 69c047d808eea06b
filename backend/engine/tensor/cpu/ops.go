package cpu

import (
	"math"

	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// FromFloat32 copies data into a new rows×cols Array.
func (b *Backend) FromFloat32(rows, cols int, data []float32) tensor.Array {
	if b.err != nil {
		return b.poison
	}
	if rows < 0 || cols < 0 || len(data) != rows*cols {
		return b.fail("FromFloat32: %d values for %d×%d", len(data), rows, cols)
	}
	out := b.arena.alloc(b, rows, cols)
	copy(out.data(), data)
	return out
}

// Embed gathers rows of w, converting or dequantizing them.
func (b *Backend) Embed(wt tensor.Weight, ids []int) tensor.Array {
	if b.err != nil {
		return b.poison
	}
	w, ok := b.weightArg(wt)
	if !ok {
		return b.poison
	}
	for _, id := range ids {
		if id < 0 || id >= w.rows {
			return b.fail("Embed: id %d outside [0, %d)", id, w.rows)
		}
	}
	out := b.arena.alloc(b, len(ids), w.cols)
	for i, id := range ids {
		w.rowInto(id, out.row(i))
	}
	return out
}

// AddBias adds the vector bt to each row of x.
func (b *Backend) AddBias(xa tensor.Array, bt tensor.Weight) tensor.Array {
	x, out, ok := b.unary(xa)
	w, ok2 := b.vector(bt, x, ok, "AddBias")
	if !ok2 {
		return b.poison
	}
	for r := range x.rows {
		o, xr := out.row(r), x.row(r)
		w.vals.into(o, 0)
		for i, v := range xr {
			o[i] += v
		}
	}
	return out
}

// RMSNorm normalizes each row of x to unit root mean square and scales it
// by w; the mean square is accumulated in float64.
func (b *Backend) RMSNorm(xa tensor.Array, wt tensor.Weight, eps float32) tensor.Array {
	x, out, ok := b.unary(xa)
	w, ok2 := b.vector(wt, x, ok, "RMSNorm")
	if !ok2 {
		return b.poison
	}
	for r := range x.rows {
		o, xr := out.row(r), x.row(r)
		var ss float64
		for _, v := range xr {
			ss += float64(v) * float64(v)
		}
		inv := float32(1 / math.Sqrt(ss/float64(len(xr))+float64(eps)))
		w.vals.into(o, 0)
		for i, v := range xr {
			o[i] *= v * inv
		}
	}
	return out
}

// vector checks that wt is a 1×cols weight matching x.
func (b *Backend) vector(wt tensor.Weight, x *array, ok bool, op string) (*weight, bool) {
	if !ok {
		return nil, false
	}
	w, ok := b.weightArg(wt)
	if !ok {
		return nil, false
	}
	if w.quantized() || w.rows != 1 || w.cols != x.cols {
		b.fail("%s: weight is %d×%d, want 1×%d dense", op, w.rows, w.cols, x.cols)
		return nil, false
	}
	return w, true
}

// Softmax of each row, accumulated in float64.
func (b *Backend) Softmax(xa tensor.Array) tensor.Array {
	x, out, ok := b.unary(xa)
	if !ok {
		return b.poison
	}
	for r := range x.rows {
		softmax(x.row(r), out.row(r))
	}
	return out
}

func softmax(x, out []float32) {
	m := float32(math.Inf(-1))
	for _, v := range x {
		m = max(m, v)
	}
	var sum float64
	for i, v := range x {
		e := math.Exp(float64(v - m))
		out[i] = float32(e)
		sum += e
	}
	inv := float32(1 / sum)
	for i := range out {
		out[i] *= inv
	}
}

// SiLU is x·sigmoid(x).
func (b *Backend) SiLU(xa tensor.Array) tensor.Array {
	x, out, ok := b.unary(xa)
	if !ok {
		return b.poison
	}
	b.rows = rowJob{op: opSiLU, x: x, out: out}
	b.pool.parallel(&b.rows, x.rows*x.cols, 1<<14)
	b.rows = rowJob{}
	return out
}

// Mul is x·y elementwise.
func (b *Backend) Mul(xa, ya tensor.Array) tensor.Array { return b.binary(xa, ya, opMul) }

// Add is x+y elementwise.
func (b *Backend) Add(xa, ya tensor.Array) tensor.Array { return b.binary(xa, ya, opAdd) }

func (b *Backend) binary(xa, ya tensor.Array, op rowOp) tensor.Array {
	x, out, ok := b.unary(xa)
	if !ok {
		return b.poison
	}
	y, ok := b.arr(ya)
	if !ok {
		return b.poison
	}
	if y.rows != x.rows || y.cols != x.cols {
		return b.fail("%s: shapes %d×%d and %d×%d", op, x.rows, x.cols, y.rows, y.cols)
	}
	b.rows = rowJob{op: op, x: x, y: y, out: out}
	b.pool.parallel(&b.rows, x.rows*x.cols, 1<<14)
	b.rows = rowJob{}
	return out
}

// unary checks x and allocates an output of its shape.
func (b *Backend) unary(xa tensor.Array) (x, out *array, ok bool) {
	if b.err != nil {
		return nil, nil, false
	}
	if x, ok = b.arr(xa); !ok {
		return nil, nil, false
	}
	return x, b.arena.alloc(b, x.rows, x.cols), true
}

type rowOp string

const (
	opSiLU rowOp = "SiLU"
	opMul  rowOp = "Mul"
	opAdd  rowOp = "Add"
)

// rowJob is an elementwise operation over a range of flat indices.
type rowJob struct {
	op        rowOp
	x, y, out *array
}

func (j *rowJob) run(lo, hi, _ int) {
	o, x := j.out.data()[lo:hi], j.x.data()[lo:hi]
	switch j.op {
	case opSiLU:
		for i, v := range x {
			o[i] = v / (1 + float32(math.Exp(float64(-v))))
		}
	case opMul:
		y := j.y.data()[lo:hi]
		for i, v := range x {
			o[i] = v * y[i]
		}
	case opAdd:
		y := j.y.data()[lo:hi]
		for i, v := range x {
			o[i] = v + y[i]
		}
	}
}
