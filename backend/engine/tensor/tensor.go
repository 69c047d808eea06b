// Package tensor is the contract between the local engine's model code and
// the backends that compute it: the small set of operations a Llama-family
// forward pass needs, shaped so that an eager backend (the pure-Go CPU
// backend, package cpu) and a lazily evaluated one bound to a single OS
// thread (MLX through cgo) fit it equally well.
//
// # Values
//
// Every activation is an Array: a row-major float matrix of rows×cols
// whose rows are token positions (a whole forward pass is token-major:
// [tokens, hidden], [tokens, heads*headDim], ...). The backend chooses the
// element type it computes in; values are read back as float32.
//
// Long-lived values are resources: a Weight (a model parameter, dense or
// MLX-affine quantized), a Rope (the rotary frequencies of a model) and a
// KVCache (one layer's keys and values for one sequence).
//
// # Threads, blocking and evaluation
//
// A Backend is driven by one goroutine at a time: every method except
// Name, Run and Close, and every resource's Free, must be called from
// inside a function passed to Run. Run is safe for concurrent use: calls
// are serialized and each blocks until its function has returned. An MLX
// backend runs the function on its one OS-locked worker thread; the CPU
// backend runs it on the caller's goroutine under a lock.
//
// Operations may be eager (the CPU backend computes before returning) or
// lazy (MLX records a graph and returns at once). Code must not care: a
// value is only observable through Read and Argmax, which block until it
// is computed, and Eval forces computation without reading (the point
// where a lazy backend runs its graph; a no-op on an eager one).
//
// # Errors
//
// Operations do not return errors. A failing operation (mismatched
// shapes, an index out of range, a device error) records the backend's
// first error, and later operations in the same Run return placeholders
// without computing. Eval, Read and Argmax return the recorded error, and
// so does Run when its function returns nil; the error is cleared when Run
// returns.
//
// # Ownership
//
// An Array returned by an operation belongs to the caller. It stays valid
// until the caller passes it to Release or the Run that created it
// returns, whichever comes first; then the backend may reuse its memory
// (the CPU backend recycles buffers; MLX frees the handle). Operations
// never take ownership of their inputs, and an Array and the views made
// from it (Reshape, SliceRows) may be released in any order: storage lives
// as long as any of them. Releasing early is how a forward pass keeps its
// working set to one layer; forgetting to is never a leak beyond one Run.
//
// Resources live until their Free method is called (inside a Run); each
// must be freed exactly once and not used afterwards. A Weight may keep
// referring to the bytes of the modelfile.Tensor it was loaded from (the
// CPU backend computes on them in place), so those bytes must stay valid
// and unchanged until the Weight is freed.
package tensor

import "github.com/modelbar/modelbar/backend/engine/modelfile"

// Backend computes the operations of a Llama-family forward pass. See the
// package documentation for the threading, evaluation, error and
// ownership contract every implementation follows.
type Backend interface {
	// Name says which backend and device run, for logs and /api/status
	// ("cpu", "mlx gpu", ...). Safe for concurrent use.
	Name() string
	// Run calls fn where the backend's operations may be used and returns
	// fn's error or, if fn returned nil, the first error an operation
	// recorded. Arrays still held when fn returns are released. Safe for
	// concurrent use; calls are serialized. fn must not call Run.
	Run(fn func() error) error
	// Close stops the backend. Resources must have been freed; Close must
	// not be called inside Run or while a Run is in progress.
	Close() error

	Loader
	Ops
}

// Loader creates resources. Its methods validate their inputs and return
// errors (naming the tensor) rather than recording them.
type Loader interface {
	// LoadDense loads an F32, F16 or BF16 tensor of one or two dimensions
	// (a 1-D tensor of n values has shape 1×n).
	LoadDense(t modelfile.Tensor) (Weight, error)
	// LoadQuantized loads an MLX affine-quantized matrix: w is U32 of
	// shape [rows, cols*bits/32], scales and biases are F32, F16 or BF16
	// of shape [rows, cols/groupSize]; element (r, c) is
	// scale[r][c/groupSize]*q + bias[r][c/groupSize] where q is the
	// bits-wide field c%(32/bits) (lowest bits first) of word
	// w[r][c*bits/32]. Every backend supports 4 and 8 bits.
	LoadQuantized(w, scales, biases modelfile.Tensor, groupSize, bits int) (Weight, error)
	// NewRope makes the rotary embedding of dims-wide heads that turns
	// pair i (elements i and i+dims/2 of each head, the non-traditional
	// layout Llama uses) by the angle position*invFreq[i];
	// len(invFreq) must be dims/2.
	NewRope(dims int, invFreq []float64) (Rope, error)
	// NewKVCache makes storage for the keys and values of kvHeads heads
	// of headDim values at positions 0..maxLen-1 of one sequence, stored
	// as dtype: F16 or BF16 (what models use: keys and values are rounded
	// to it as they are stored and attention computes in float32 on the
	// rounded values), or F32. Memory is taken as positions are stored,
	// not reserved for maxLen up front.
	NewKVCache(kvHeads, headDim, maxLen int, dtype modelfile.DType) (KVCache, error)

	// Added for mixture-of-experts (issue 16).

	// LoadExperts loads one projection of a layer's experts: a stack of
	// equally shaped matrices, dense or quantized (see ExpertTensors).
	LoadExperts(t ExpertTensors) (Experts, error)
	// LoadMXFP4 loads a matrix in MLX's mxfp4 quantization (one expert's
	// layout in ExpertTensors: w U32 [rows, cols/8], scales U8
	// [rows, cols/32]) for MatMul and Embed, as gpt-oss models keep some
	// of their linear layers.
	LoadMXFP4(w, scales modelfile.Tensor) (Weight, error)

	// Added for sequences that share a prefix (the prefix cache).

	// CopyKVCache makes a new cache of src's heads, head size, MaxLen and
	// dtype holding a copy of src's positions 0..n-1, as if they had been
	// stored in it: its memory is that of n positions (as Bytes counts
	// them), not src's. n may not exceed the positions src has memory
	// for; positions src never stored copy as unspecified values. src is
	// unchanged, and the two are independent from then on: either may be
	// written, rolled back or freed. A copy moves memory, it computes
	// nothing: far cheaper than storing the positions again.
	CopyKVCache(src KVCache, n int) (KVCache, error)
}

// Ops are the operations on Arrays. They are called inside Run; failures
// are recorded (see the package documentation). "Rows" are token
// positions; each operation states the shapes it accepts.
type Ops interface {
	// FromFloat32 makes a rows×cols Array holding a copy of data.
	FromFloat32(rows, cols int, data []float32) Array
	// Embed gathers rows ids of w (the embedding table): len(ids)×cols.
	Embed(w Weight, ids []int) Array
	// MatMul is x·wᵀ: x is n×k and w is m×k (dense or quantized,
	// dequantized as it is used), the result n×m.
	MatMul(x Array, w Weight) Array
	// AddBias adds the 1×cols weight b to every row of x.
	AddBias(x Array, b Weight) Array
	// RMSNorm scales each row of x to unit root mean square (with eps
	// added to the mean square) and multiplies it by the 1×cols weight w.
	RMSNorm(x Array, w Weight, eps float32) Array
	// Rope rotates each dims-wide head of each row of x (cols a multiple
	// of the Rope's dims); row i is at position offset+i.
	Rope(x Array, r Rope, offset int) Array
	// Attention stores k and v (n×kvHeads*headDim each) at positions
	// offset..offset+n-1 of kv, then returns, for the n queries q
	// (n×heads*headDim, heads a multiple of kvHeads, query i at position
	// offset+i), softmax(opts.Scale·q·kᵀ)·v over the positions 0..offset+i
	// of kv (fewer with opts.Window; see AttentionOpts): causal attention
	// where query head h reads kv head h/(heads/kvHeads). Positions after
	// offset+n-1 are ignored, so a sequence is rolled back by attending
	// again from a smaller offset.
	Attention(q, k, v Array, kv KVCache, offset int, opts AttentionOpts) Array
	// Softmax is the softmax of each row.
	Softmax(x Array) Array
	// SiLU is x·sigmoid(x), elementwise.
	SiLU(x Array) Array
	// Mul and Add are elementwise on Arrays of the same shape.
	Mul(x, y Array) Array
	Add(x, y Array) Array
	// Reshape views x's rows*cols values as a rows×cols Array.
	Reshape(x Array, rows, cols int) Array
	// SliceRows views rows start..start+n-1 of x.
	SliceRows(x Array, start, n int) Array
	// Release ends the caller's use of x (see Ownership).
	Release(x Array)
	// Eval computes x (and everything it depends on, KVCache writes
	// included) and blocks until it is done.
	Eval(x Array) error
	// Read computes x and copies its rows*cols values into dst, which
	// must have exactly that length.
	Read(x Array, dst []float32) error
	// Argmax computes x and stores the index of the largest value of each
	// row in dst (len(dst) = rows; the first index among equals).
	Argmax(x Array, dst []int) error

	// Added for gemma3 (issue 16).

	// Scale multiplies every element of x by s (gemma3's embedding scale
	// sqrt(hidden_size)).
	Scale(x Array, s float32) Array
	// Tanh is tanh(x), elementwise (with Scale, gemma3's logit
	// soft-capping c·tanh(x/c)).
	Tanh(x Array) Array
	// GELUTanh is GELU's tanh approximation, elementwise:
	// 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³))) (PyTorch's
	// gelu(approximate="tanh"), gemma3's gelu_pytorch_tanh).
	GELUTanh(x Array) Array
	// RopePartial rotates the first r.Dims() values of each headDim-wide
	// head of each row of x as Rope rotates a whole head (pair i is
	// elements i and i+r.Dims()/2), and copies the head's other values
	// (phi3's partial_rotary_factor). cols must be a multiple of headDim
	// and r.Dims() ≤ headDim; row i is at position offset+i.
	RopePartial(x Array, r Rope, headDim, offset int) Array

	// Added for mixture-of-experts (issue 16).

	// MoE is a sparse mixture-of-experts MLP: each row of x (n×hidden) is
	// routed by its row of logits (n×experts, the router's output) to
	// m.TopK experts, and the result (n×hidden) is the sum of their
	// outputs weighted by the routing weights (see MoE). Only the chosen
	// experts are computed. The choice is made on the backend (MLX does
	// not stop to read the logits).
	MoE(x, logits Array, m MoE) Array
}

// Array is a backend's rows×cols float matrix.
type Array interface {
	Shape() (rows, cols int)
}

// Resource is a long-lived backend value.
type Resource interface {
	// Free releases the resource's backend memory. It must be called
	// inside Run, exactly once.
	Free()
}

// Weight is a model parameter: a rows×cols matrix (a vector is 1×cols),
// dense or quantized.
type Weight interface {
	Resource
	Shape() (rows, cols int)
}

// Rope is a model's rotary position embedding (see Loader.NewRope).
type Rope interface {
	Resource
	Dims() int
}

// KVCache holds one layer's keys and values for one sequence.
type KVCache interface {
	Resource
	// MaxLen is the number of positions it holds.
	MaxLen() int
	// Bytes is the backend memory the cache holds now, for the memory
	// budget: its capacity in positions (it grows as positions are
	// stored, never beyond MaxLen) times the element size of its dtype.
	Bytes() int64
}

// AttentionOpts shape one Attention call.
type AttentionOpts struct {
	// Scale multiplies q·kᵀ (usually 1/sqrt(head_dim)).
	Scale float32
	// Window, when positive, limits query i (at position p = offset+i) to
	// the Window most recent positions, itself included:
	// p-Window+1..p (sliding-window attention as transformers masks it).
	// 0 attends to every position 0..p.
	Window int
	// Sinks, when set, is a 1×heads dense weight: head h's softmax gets an
	// extra term exp(Sinks[h]) in its denominator that carries no value
	// (gpt-oss's attention sinks).
	Sinks Weight
}

// MemoryLimiter is implemented by backends that manage device memory of
// their own (MLX): the engine passes the memory budget on to them.
type MemoryLimiter interface {
	// SetMemoryLimit caps the backend's memory at bytes. Safe for
	// concurrent use; not inside Run.
	SetMemoryLimit(bytes int64) error
}
