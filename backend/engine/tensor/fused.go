package tensor

// MultiMatMul is implemented by backends that compute several products of
// one x in a single dispatch. On the CPU backend the products of a decode
// step are small (a 0.5B model's key and value projections have 128 rows
// each), so waking the workers and waiting for them costs a noticeable
// share of each; q, k and v (and gate and up) computed as one parallel
// job pay that once, and round x to 8 bits once.
type MultiMatMul interface {
	// MatMuls sets out[i] to x·ws[i]ᵀ, as MatMul does, for each i;
	// len(out) must equal len(ws).
	MatMuls(x Array, ws []Weight, out []Array)
}

// MatMuls sets out[i] to x·ws[i]ᵀ for each i: in one dispatch where the
// backend offers it (MultiMatMul), else one MatMul after another. A
// lazily evaluated backend (MLX) gains nothing from it and need not
// implement it.
func MatMuls(ops Ops, x Array, ws []Weight, out []Array) {
	if m, ok := ops.(MultiMatMul); ok {
		m.MatMuls(x, ws, out)
		return
	}
	for i, w := range ws {
		out[i] = ops.MatMul(x, w)
	}
}
