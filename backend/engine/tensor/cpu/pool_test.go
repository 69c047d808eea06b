package cpu

import "testing"

type nopKernel struct{}

func (nopKernel) run(lo, hi, worker int) {}

// BenchmarkPoolDispatch is the cost of handing one job to the pool's
// goroutines and waiting for it: what a decode step pays per matrix
// product (about 170 for Qwen2.5-0.5B), the cost fusing q/k/v and
// gate/up into one dispatch each would save two or three times a layer.
func BenchmarkPoolDispatch(b *testing.B) {
	p := newPool(2)
	defer p.close()
	var k nopKernel
	for b.Loop() {
		p.parallel(k, 64, 16)
	}
}
