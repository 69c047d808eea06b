//go:build cgo && (linux || darwin)

package mlx

/*
#include "mlxc.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelbar/modelbar/backend/engine/tensor"
)

// Backend is the MLX tensor backend. Every MLX call runs on one worker
// goroutine locked to its OS thread, and the MLX work of all backends in
// the process takes turns: MLX 0.31's graph building is not safe for
// concurrent use.
//
// Activations are float32. Dense weights are converted to float32 when
// they are loaded; quantized weights stay packed (4 or 8 bits) on the
// device with float32 scales and biases, and MatMul uses MLX's quantized
// matmul on them. Work is lazy: operations build a graph that runs when an
// Array is evaluated, read or argmaxed, once per forward pass.
type Backend struct {
	name   string
	device string // "gpu" or "cpu"
	jobs   chan func()

	mu     sync.RWMutex // guards closed; Run holds it shared, Close exclusively
	closed bool
	exited chan struct{} // closed when the worker has returned

	compute   atomic.Int64 // nanoseconds spent evaluating graphs (see Timing)
	fileLoads atomic.Int64 // tensors read by MLX's safetensors loader

	// Touched only on the worker thread.
	stream C.mb_stream
	err    error    // first error recorded in the current Run
	live   []*array // arrays created in the current Run
}

// ErrClosed is returned by Run after Close.
var ErrClosed = errors.New("mlx: backend closed")

// New starts an MLX backend on lib's functions. A process uses one libmlxc:
// New with a second, different library fails.
func New(lib *Lib, opts Options) (*Backend, error) {
	if lib == nil {
		return nil, errors.New("mlx: no library")
	}
	metal, err := lib.MetalAvailable()
	if err != nil {
		return nil, err
	}
	device, err := chooseDevice(opts.Device, metal)
	if err != nil {
		return nil, err
	}
	if err := bindLib(lib); err != nil {
		return nil, err
	}
	b := &Backend{
		name:   "mlx " + device,
		device: device,
		jobs:   make(chan func()),
		exited: make(chan struct{}),
	}
	started := make(chan error, 1)
	go b.worker(started)
	if err := <-started; err != nil {
		return nil, err
	}
	if opts.MemoryLimit > 0 {
		if err := b.SetMemoryLimit(opts.MemoryLimit); err != nil {
			b.Close()
			return nil, err
		}
	}
	return b, nil
}

// mlxMu serializes the MLX work of every Backend in the process: MLX 0.31
// is not safe for concurrent use from several threads (its stream
// registry is process-wide), so backends take turns, each on its own
// locked thread.
var mlxMu sync.Mutex

// worker is the one goroutine that calls MLX, for the backend's lifetime.
func (b *Backend) worker(started chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(b.exited)
	mlxMu.Lock()
	if b.device == "gpu" {
		b.stream = C.mb_default_gpu_stream_new()
	} else {
		b.stream = C.mb_default_cpu_stream_new()
	}
	mlxMu.Unlock()
	if b.stream.ctx == nil {
		started <- fmt.Errorf("mlx: cannot create a %s stream: %s", b.device, lastError())
		return
	}
	started <- nil
	for job := range b.jobs {
		serialized(job)
	}
	mlxMu.Lock()
	C.mb_synchronize(b.stream)
	C.mb_stream_free(b.stream)
	mlxMu.Unlock()
}

// serialized runs job holding mlxMu, released even if job ends the
// goroutine.
func serialized(job func()) {
	mlxMu.Lock()
	defer mlxMu.Unlock()
	job()
}

// Name says "mlx gpu" or "mlx cpu".
func (b *Backend) Name() string { return b.name }

// Device is "gpu" or "cpu".
func (b *Backend) Device() string { return b.device }

// Run calls fn on the worker thread; see tensor.Backend. A panic in fn is
// raised again in the caller, as on the CPU backend.
func (b *Backend) Run(fn func() error) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	var (
		err      error
		panicked any
	)
	done := make(chan struct{})
	job := func() {
		returned := false
		defer func() {
			if p := recover(); p != nil {
				panicked = p
			} else if !returned {
				// fn called runtime.Goexit: the worker goroutine is ending.
				panicked = errWorkerExited
			}
			b.endRun()
			close(done)
		}()
		err = fn()
		if err == nil {
			err = b.err
		}
		returned = true
	}
	select {
	case b.jobs <- job:
	case <-b.exited:
		return errWorkerExited
	}
	<-done
	switch {
	case panicked == errWorkerExited:
		return errWorkerExited
	case panicked != nil:
		panic(panicked)
	}
	return err
}

// errWorkerExited: the worker goroutine ended (a function passed to Run
// called runtime.Goexit); the backend can do no more work.
var errWorkerExited = errors.New("mlx: the backend's worker exited")

// endRun frees the arrays still held and clears the recorded error.
func (b *Backend) endRun() {
	for _, x := range b.live {
		x.free()
	}
	clear(b.live)
	b.live = b.live[:0]
	b.err = nil
}

// Close stops the worker. Resources must have been freed.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	close(b.jobs)
	<-b.exited
	return nil
}

// SetMemoryLimit caps MLX's memory at bytes and its buffer cache (freed
// buffers MLX keeps for reuse) at a quarter of that, so a budget set for
// the model pool also bounds what MLX holds.
func (b *Backend) SetMemoryLimit(bytes int64) error {
	if bytes <= 0 {
		return fmt.Errorf("mlx: memory limit %d: want a positive number of bytes", bytes)
	}
	return b.Run(func() error {
		var prev C.size_t
		if C.mb_set_memory_limit(&prev, C.size_t(bytes)) != 0 {
			return b.mlxError("set_memory_limit")
		}
		if C.mb_set_cache_limit(&prev, C.size_t(bytes/4)) != 0 {
			return b.mlxError("set_cache_limit")
		}
		return nil
	})
}

// Timing returns the total time MLX has spent evaluating graphs (inside
// Eval, Read and Argmax) since the backend started. A step's time minus
// its share of this is what Go, cgo and graph building cost around MLX.
func (b *Backend) Timing() time.Duration { return time.Duration(b.compute.Load()) }

// evaluating runs an evaluating C call and adds its duration to Timing.
func (b *Backend) evaluating(call func() C.int) C.int {
	start := time.Now()
	rc := call()
	b.compute.Add(int64(time.Since(start)))
	return rc
}

// MemoryStats is what MLX reports of its memory, in bytes.
type MemoryStats struct {
	Active int64 // held by live arrays
	Cache  int64 // freed buffers kept for reuse
	Peak   int64 // largest Active since the process started
}

// Memory reports MLX's memory use.
func (b *Backend) Memory() (MemoryStats, error) {
	var m MemoryStats
	err := b.Run(func() error {
		var active, cache, peak C.size_t
		if C.mb_get_active_memory(&active) != 0 || C.mb_get_cache_memory(&cache) != 0 || C.mb_get_peak_memory(&peak) != 0 {
			return b.mlxError("memory statistics")
		}
		m = MemoryStats{Active: int64(active), Cache: int64(cache), Peak: int64(peak)}
		return nil
	})
	return m, err
}

// ClearCache returns MLX's cached buffers to the system.
func (b *Backend) ClearCache() error {
	return b.Run(func() error {
		if C.mb_clear_cache() != 0 {
			return b.mlxError("clear_cache")
		}
		return nil
	})
}

// mlxError turns the thread's last MLX error into a Go error.
func (b *Backend) mlxError(op string) error {
	msg := lastError()
	if msg == "" {
		msg = "failed"
	}
	return fmt.Errorf("mlx: %s: %s", op, msg)
}

// fail records the Run's first error and returns a placeholder of the
// given shape.
func (b *Backend) fail(rows, cols int, format string, args ...any) *array {
	if b.err == nil {
		b.err = fmt.Errorf("mlx: "+format, args...)
	}
	return &array{rows: rows, cols: cols}
}

// failMLX records the thread's last MLX error for op.
func (b *Backend) failMLX(rows, cols int, op string) *array {
	if b.err == nil {
		b.err = b.mlxError(op)
	}
	return &array{rows: rows, cols: cols}
}

// array is a handle to an MLX array of rows×cols float32 values.
type array struct {
	h          C.mb_array // nil ctx once released, or for a placeholder
	rows, cols int
}

// Shape reports rows and cols.
func (x *array) Shape() (rows, cols int) { return x.rows, x.cols }

func (x *array) free() {
	if x.h.ctx != nil {
		C.mb_free(x.h)
		x.h.ctx = nil
	}
}

// result wraps a fresh handle made by an operation.
func (b *Backend) result(h C.mb_array, rows, cols int) *array {
	x := &array{h: h, rows: rows, cols: cols}
	b.live = append(b.live, x)
	return x
}

// arg converts an Array argument, recording an error for a released or
// foreign one. It fails quietly when an error is already recorded.
func (b *Backend) arg(xa tensor.Array, op string) (*array, bool) {
	if b.err != nil {
		return nil, false
	}
	x, ok := xa.(*array)
	if !ok || x.h.ctx == nil {
		b.fail(0, 0, "%s: released or foreign Array", op)
		return nil, false
	}
	return x, true
}

func newBackend(lib *Lib, opts Options) (tensor.Backend, error) { return New(lib, opts) }
