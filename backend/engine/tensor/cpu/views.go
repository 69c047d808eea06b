package cpu

import "github.com/modelbar/modelbar/backend/engine/tensor"

// Reshape views x's values as rows×cols.
func (b *Backend) Reshape(xa tensor.Array, rows, cols int) tensor.Array {
	if b.err != nil {
		return b.poison
	}
	x, ok := b.arr(xa)
	if !ok {
		return b.poison
	}
	if rows < 0 || cols < 0 || rows*cols != x.rows*x.cols {
		return b.fail("Reshape: %d×%d to %d×%d", x.rows, x.cols, rows, cols)
	}
	return b.arena.view(x, 0, rows, cols)
}

// SliceRows views rows start..start+n-1 of x.
func (b *Backend) SliceRows(xa tensor.Array, start, n int) tensor.Array {
	if b.err != nil {
		return b.poison
	}
	x, ok := b.arr(xa)
	if !ok {
		return b.poison
	}
	if start < 0 || n < 0 || start+n > x.rows {
		return b.fail("SliceRows: rows %d..%d of %d", start, start+n-1, x.rows)
	}
	return b.arena.view(x, start*x.cols, n, x.cols)
}

// Release returns x's buffer for reuse once no view of it is live.
// Releasing an Array twice, or one already released by the end of its
// Run, does nothing.
func (b *Backend) Release(xa tensor.Array) {
	if x, ok := xa.(*array); ok && x.b == b && x != b.poison {
		b.arena.release(x)
	}
}

// Eval checks x: the CPU backend has already computed it.
func (b *Backend) Eval(xa tensor.Array) error {
	if b.err != nil {
		return b.err
	}
	b.arr(xa)
	return b.err
}

// Read copies x's values into dst.
func (b *Backend) Read(xa tensor.Array, dst []float32) error {
	if b.err != nil {
		return b.err
	}
	x, ok := b.arr(xa)
	if !ok {
		return b.err
	}
	if len(dst) != x.rows*x.cols {
		b.fail("Read: %d×%d into %d values", x.rows, x.cols, len(dst))
		return b.err
	}
	copy(dst, x.data())
	return nil
}

// Argmax stores the index of each row's largest value in dst. NaNs are
// never the largest.
func (b *Backend) Argmax(xa tensor.Array, dst []int) error {
	if b.err != nil {
		return b.err
	}
	x, ok := b.arr(xa)
	if !ok {
		return b.err
	}
	if len(dst) != x.rows || x.cols == 0 {
		b.fail("Argmax: %d×%d into %d indices", x.rows, x.cols, len(dst))
		return b.err
	}
	for r := range x.rows {
		best := 0
		row := x.row(r)
		for i, v := range row {
			if v > row[best] || row[best] != row[best] {
				best = i
			}
		}
		dst[r] = best
	}
	return nil
}
