// Package cpu is the pure-Go tensor backend: eager float32 arithmetic on
// the weights as they are stored (F16 and BF16 converted as they are
// used, MLX 4- and 8-bit affine groups dequantized inside the matmul
// kernel, never expanded in memory), with matrix products and attention
// heads split over a pool of GOMAXPROCS goroutines. Products with
// quantized weights round their activations to 8 bits and run as integer
// dot products in assembly where the CPU has AVX2 (q8.go,
// q8_amd64.s); the portable Go kernels are the fallback and the oracle
// the assembly is tested against. After its first steps
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
	mu       sync.Mutex // serializes Run; holds while fn runs
	closed   bool       // guarded by mu
	threads  int
	portable bool // the portable kernels even where SIMD ones exist
	vnni     bool // the VPDPBUSD kernels where the CPU has them (not Options.NoVNNI)
	exact    bool // guarded by mu: quantized products on float32 activations (SetExactActivations)

	// Below: owned by the goroutine inside Run.
	err     error
	arena   arena
	pool    *pool
	scratch [][]float32 // per-worker scratch, sized before each dispatch
	sums    []float32   // group sums of x for quantized decode
	sinks   []float32   // attention sinks of the current Attention
	q8      q8Buffers   // activations rounded to 8 bits for quantized products
	poison  *array      // returned by operations once err is set

	mm    matmulJob
	multi multiMatmul // MatMuls, and MatMul on 8-bit activations
	att   attentionJob
	rows  rowJob
	elem  elemJob  // Scale, Tanh, GELUTanh (dense.go)
	moe   moeState // Added for mixture-of-experts (issue 16).
}

// New returns a backend that uses GOMAXPROCS goroutines for its kernels.
func New() *Backend { return NewThreads(runtime.GOMAXPROCS(0)) }

// NewThreads returns a backend that splits its kernels over n goroutines
// (n < 1 means 1).
func NewThreads(n int) *Backend { return NewWithOptions(Options{Threads: n}) }

// Options configure a Backend.
type Options struct {
	// Threads is the number of goroutines kernels are split over; < 1
	// means GOMAXPROCS.
	Threads int
	// Portable runs the portable Go kernels even where SIMD ones exist
	// (AVX2 on amd64): the oracle the SIMD kernels are tested against,
	// and the baseline benchmarks compare them with.
	Portable bool
	// NoVNNI runs the AVX2 kernels where the CPU also has the AVX-512
	// VNNI ones that replace some of them: the baseline benchmarks
	// compare those with.
	NoVNNI bool
	// Activations chooses how quantized weights multiply activations (see
	// SetExactActivations); the zero value rounds them to 8 bits where
	// this CPU has SIMD kernels for it and Portable is not set (the
	// portable integer kernels are no faster than float32 ones).
	Activations Activations
}

// Activations is how a quantized matrix product takes its activations.
type Activations int

const (
	ActivationsAuto Activations = iota // ActivationsQ8 where SIMD kernels run, else ActivationsF32
	ActivationsQ8                      // rounded to 8 bits per 32 values
	ActivationsF32                     // float32, exact
)

// NewWithOptions returns a backend configured by o.
func NewWithOptions(o Options) *Backend {
	n := o.Threads
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	exact := o.Activations == ActivationsF32 ||
		o.Activations == ActivationsAuto && (o.Portable || simdName() == "")
	b := &Backend{threads: n, pool: newPool(n), scratch: make([][]float32, n), portable: o.Portable, exact: exact,
		vnni: !o.Portable && !o.NoVNNI && vnniName() != ""}
	b.poison = &array{buf: &buffer{}, b: b}
	return b
}

// SetExactActivations chooses how quantized weights multiply activations.
// With false (the default where the CPU has SIMD kernels) the activations of a product with quantized weights
// are rounded to 8 bits per 32 values, as llama.cpp does, and multiplied
// as integers (SIMD where the CPU has it): several times faster, each
// activation within 1/254 of its block's largest magnitude (logits move
// by about 1e-2 of their scale; see llamatest.Q8LogitTol). true keeps them
// float32, the path the float64 reference checks to 1e-4 (the
// conformance suites turn it on). Safe for concurrent use; takes effect
// from the next Run.
func (b *Backend) SetExactActivations(exact bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.exact = exact
}

// Name reports "cpu", the number of threads and the SIMD kernels used.
func (b *Backend) Name() string {
	if k := simdName(); k != "" && !b.portable {
		if b.vnni {
			k += ", " + vnniName()
		}
		return fmt.Sprintf("cpu (%d threads, %s)", b.threads, k)
	}
	return fmt.Sprintf("cpu (%d threads)", b.threads)
}

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
	b.q8.forget()
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
