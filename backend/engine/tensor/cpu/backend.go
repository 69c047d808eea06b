// Package cpu is the pure-Go tensor backend: eager float32 arithmetic on
// the weights as they are stored (F16 and BF16 converted as they are
// used, MLX 4- and 8-bit affine groups dequantized inside the matmul
// kernel, never expanded in memory), with matrix products and attention
// heads split over a pool of GOMAXPROCS goroutines. After its first steps
// have sized the buffers, a decode step allocates nothing: Arrays come
// from recycled buffers and the work is handed to the pool through
// preallocated jobs.
package cpu

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/modelbar/modelbar/backend/engine/tensor"
)

var _ tensor.Backend = (*Backend)(nil)

// Backend is the CPU tensor backend. Run is safe for concurrent use; all
// other methods follow the tensor package's contract (inside Run only).
type Backend struct {
	mu      sync.Mutex // serializes Run; holds while fn runs
	closed  bool       // guarded by mu
	threads int

	// Below: owned by the goroutine inside Run.
	err     error
	arena   arena
	pool    *pool
	scratch [][]float32 // per-worker scratch, sized before each dispatch
	sums    []float32   // group sums of x for quantized decode
	sinks   []float32   // attention sinks of the current Attention
	poison  *array      // returned by operations once err is set

	mm   matmulJob
	att  attentionJob
	rows rowJob
	elem elemJob  // Scale, Tanh, GELUTanh (dense.go)
	moe  moeState // Added for mixture-of-experts (issue 16).
}

// New returns a backend that uses GOMAXPROCS goroutines for its kernels.
func New() *Backend { return NewThreads(runtime.GOMAXPROCS(0)) }

// NewThreads returns a backend that splits its kernels over n goroutines
// (n < 1 means 1).
func NewThreads(n int) *Backend {
	n = max(n, 1)
	b := &Backend{threads: n, pool: newPool(n), scratch: make([][]float32, n)}
	b.poison = &array{buf: &buffer{}, b: b}
	return b
}

// Name reports "cpu" and the number of threads.
func (b *Backend) Name() string { return fmt.Sprintf("cpu (%d threads)", b.threads) }

// Run calls fn with the backend locked, then releases every Array created
// during the call and clears the recorded error.
func (b *Backend) Run(fn func() error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	defer b.endRun()
	if err := fn(); err != nil {
		return err
	}
	return b.err
}

func (b *Backend) endRun() {
	b.arena.reset()
	b.err = nil
}

// ErrClosed is returned by Run after Close.
var ErrClosed = errors.New("cpu: backend closed")

// Close stops the worker goroutines; later Runs return ErrClosed.
// Closing twice does nothing.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		b.pool.close()
	}
	return nil
}

// fail records the first error of the current Run and returns the poison
// Array that operations return from then on.
func (b *Backend) fail(format string, args ...any) *array {
	if b.err == nil {
		b.err = fmt.Errorf("cpu: "+format, args...)
	}
	return b.poison
}

// errReleased is recorded when an operation is given a released Array.
var errReleased = errors.New("cpu: use of a released or foreign Array")

// arr converts an Array argument, recording an error for a released
// Array or one from another backend.
func (b *Backend) arr(x tensor.Array) (*array, bool) {
	a, ok := x.(*array)
	if !ok || a.b != b || !a.live {
		if b.err == nil {
			b.err = errReleased
		}
		return nil, false
	}
	return a, true
}

// scratchFor makes every worker's scratch buffer at least n long and
// returns the per-worker slices. Buffers grow by doubling, so a sequence
// growing one position per step reallocates only now and then.
func (b *Backend) scratchFor(n int) [][]float32 {
	for i, s := range b.scratch {
		if cap(s) < n {
			b.scratch[i] = make([]float32, max(n, 2*cap(s)))
		}
		b.scratch[i] = b.scratch[i][:n]
	}
	return b.scratch
}
