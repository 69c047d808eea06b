package cpu

import (
	"sync"
	"sync/atomic"
)

// kernel is a job split into chunks of an index range; worker (0..n-1)
// says whose scratch buffer to use. Jobs are preallocated fields of the
// Backend, so dispatching one allocates nothing.
type kernel interface {
	run(lo, hi, worker int)
}

// pool runs a kernel over [0, total) on n goroutines: the caller and n-1
// helpers that take chunks of grain indices from a shared counter.
type pool struct {
	n     int
	wake  []chan struct{} // one per helper
	done  sync.WaitGroup
	k     kernel
	total int
	grain int
	next  atomic.Int64
}

func newPool(n int) *pool {
	p := &pool{n: n, wake: make([]chan struct{}, n-1)}
	for i := range p.wake {
		p.wake[i] = make(chan struct{})
		go p.helper(i+1, p.wake[i])
	}
	return p
}

func (p *pool) helper(worker int, wake chan struct{}) {
	for range wake {
		p.work(worker)
		p.done.Done()
	}
}

// parallel runs k over [0, total) in chunks of grain and returns when all
// chunks are done. Small ranges run on the caller alone.
func (p *pool) parallel(k kernel, total, grain int) {
	grain = max(grain, 1)
	if p.n == 1 || total <= grain {
		k.run(0, total, 0)
		return
	}
	p.k, p.total, p.grain = k, total, grain
	p.next.Store(0)
	helpers := min(p.n-1, (total+grain-1)/grain-1)
	p.done.Add(helpers)
	for _, w := range p.wake[:helpers] {
		w <- struct{}{}
	}
	p.work(0)
	p.done.Wait()
	p.k = nil
}

func (p *pool) work(worker int) {
	for {
		lo := int(p.next.Add(int64(p.grain))) - p.grain
		if lo >= p.total {
			return
		}
		p.k.run(lo, min(lo+p.grain, p.total), worker)
	}
}

func (p *pool) close() {
	for _, w := range p.wake {
		close(w)
	}
	p.wake = nil
}
