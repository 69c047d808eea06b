// Package bench measures the local engine on this machine: prefill and
// decode tokens/s of a generated model of realistic shape on every tensor
// backend available (the pure-Go CPU backend, MLX on its CPU device and on
// the Metal GPU), next to the memory bandwidth measured in the same run
// (decode reads every weight once per token, so bandwidth bounds it), and
// for MLX the share of each decode step spent outside MLX's evaluation.
package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/modelbar/modelbar/backend/engine/llama"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/engine/tensor"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
	"github.com/modelbar/modelbar/backend/engine/tensor/mlx"
)

// Options configure a run.
type Options struct {
	Dir     string         // where the model is written (kept for the next run); "" uses a temp dir
	Spec    testmodel.Spec // zero: testmodel.Realistic() (Qwen2.5-0.5B-Instruct-4bit's shape)
	Prefill int            // prompt tokens; 0: 128
	Decode  int            // generated tokens; 0: 32
	// Backends names the backends to measure ("cpu", "cpu-portable",
	// "mlx"); empty: every one that is available, saying why the others
	// are not. cpu-portable is the CPU backend on its portable Go kernels
	// and float32 activations (what it runs without SIMD kernels, and what
	// it ran before them): the baseline of the SIMD kernels' speed-up.
	Backends []string
	// LlamaCpp says whether to measure llama.cpp next to modelbar's CPU
	// backend (llamacpp.go): "auto" or "" when node-llama-cpp is installed,
	// "install" installing it first, "off" never.
	LlamaCpp string
}

// Engine runs the benchmark and writes its report to w.
func Engine(w io.Writer, o Options) error {
	if o.Spec == (testmodel.Spec{}) {
		o.Spec = testmodel.Realistic()
	}
	if o.Prefill <= 0 {
		o.Prefill = 128
	}
	if o.Decode <= 0 {
		o.Decode = 32
	}
	dir, cleanup, err := modelDir(w, o)
	if err != nil {
		return err
	}
	defer cleanup()
	files, err := modelfile.Open(dir)
	if err != nil {
		return err
	}
	defer files.Close()
	cfg := files.Config()
	quant := "unquantized"
	if q := cfg.Quantization; q != nil {
		quant = fmt.Sprintf("%d-bit g%d", q.Bits, q.GroupSize)
	}
	size := files.SizeOnDisk()
	bw := cpu.MemoryBandwidth(512<<20, runtime.GOMAXPROCS(0), 3)
	fmt.Fprintf(w, "model: %s, %d layers, hidden %d, vocab %d, %s, %.0f MB on disk\n",
		cfg.Architecture, cfg.NumLayers, cfg.HiddenSize, cfg.VocabSize, quant, float64(size)/1e6)
	fmt.Fprintf(w, "machine: %s/%s, %d threads; memory bandwidth (same run): %.1f GB/s\n",
		runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), bw/1e9)
	backends, err := available(w, o.Backends, []string{"cpu-portable", "cpu", "mlx"})
	if err != nil {
		return err
	}
	var baseline, portable result
	baseName := ""
	for _, b := range backends {
		r, err := run(files, b.Backend, o)
		b.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", b.name, err)
		}
		weightRate := float64(size) * r.decodeRate()
		fmt.Fprintf(w, "%s: prefill %d tokens = %.1f tokens/s; decode %d tokens = %.1f tokens/s, reading %.2f GB/s of weights = %.1f%% of the bandwidth",
			b.name, o.Prefill, r.prefillRate(o.Prefill), o.Decode, r.decodeRate(), weightRate/1e9, 100*weightRate/bw)
		switch {
		case b.portable:
			portable = r
		case baseName == "":
			baseline, baseName = r, b.name
			if portable.tokens != 0 {
				fmt.Fprintf(w, "; %.2f× the portable kernels' decode rate, %.2f× their prefill rate",
					r.decodeRate()/portable.decodeRate(), r.prefillRate(o.Prefill)/portable.prefillRate(o.Prefill))
			}
		default:
			fmt.Fprintf(w, ", %.2f× the decode rate of %s", r.decodeRate()/baseline.decodeRate(), baseName)
		}
		if r.timed {
			fmt.Fprintf(w, "; %.1f%% of each decode step outside MLX's evaluation (Go, cgo, graph building)", 100*r.outside())
		}
		fmt.Fprintln(w)
	}
	return compareLlamaCpp(w, files, o)
}

// measured is a backend to measure and the name it is reported under.
type measured struct {
	tensor.Backend
	name     string
	portable bool // the CPU backend's portable baseline
}

// available starts the backends asked for (all when names is empty),
// reporting those that cannot run; a backend named explicitly that cannot
// run is an error. The portable CPU baseline, when in defaults, comes
// first, so that the CPU backend's line can give its speed-up.
func available(w io.Writer, names, defaults []string) ([]measured, error) {
	all := len(names) == 0
	if all {
		names = defaults
	}
	var out []measured
	for _, n := range names {
		switch n {
		case "cpu":
			b := cpu.New()
			out = append(out, measured{Backend: b, name: b.Name()})
		case "cpu-portable":
			b := cpu.NewWithOptions(cpu.Options{Portable: true, Activations: cpu.ActivationsF32})
			name := strings.TrimSuffix(b.Name(), ")") + ", portable kernels, float32 activations)"
			out = append(out, measured{Backend: b, name: name, portable: true})
		case "mlx":
			bs, err := mlxBackends()
			if err != nil && !all {
				return nil, err
			}
			if err != nil {
				fmt.Fprintf(w, "mlx: not measured: %v\n", err)
			}
			for _, b := range bs {
				out = append(out, measured{Backend: b, name: b.Name()})
			}
		default:
			return nil, fmt.Errorf("unknown backend %q: use cpu, cpu-portable or mlx", n)
		}
	}
	return out, nil
}

// mlxBackends starts MLX on its CPU device and, with Metal, on the GPU;
// on the one device MODELBAR_MLX_DEVICE names when it is set.
func mlxBackends() ([]tensor.Backend, error) {
	only, err := mlx.DeviceFromEnv()
	if err != nil {
		return nil, err
	}
	lib, err := mlx.Open()
	if err != nil {
		return nil, err
	}
	devices := []string{"cpu"}
	if metal, err := lib.MetalAvailable(); err == nil && metal {
		devices = append(devices, "gpu")
	}
	if only != "" {
		devices = []string{only}
	}
	var out []tensor.Backend
	for _, d := range devices {
		b, err := mlx.NewBackend(lib, mlx.Options{Device: d})
		if err != nil {
			return out, err
		}
		out = append(out, b)
	}
	return out, nil
}

// modelDir writes the model unless o.Dir already holds it.
func modelDir(w io.Writer, o Options) (string, func(), error) {
	dir, cleanup := o.Dir, func() {}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "modelbar-bench-")
		if err != nil {
			return "", nil, err
		}
		dir, cleanup = filepath.Join(tmp, "model"), func() { os.RemoveAll(tmp) }
	}
	if _, err := os.Stat(filepath.Join(dir, modelfile.ConfigFile)); err == nil {
		return dir, cleanup, nil
	}
	fmt.Fprintf(w, "writing a %s model of random weights to %s\n", o.Spec.Architecture, dir)
	if err := testmodel.Write(dir, o.Spec); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("write benchmark model: %w", err)
	}
	return dir, cleanup, nil
}

// result is one backend's measurement.
type result struct {
	prefill, decode time.Duration
	tokens          int
	compute         time.Duration // decode time inside MLX's evaluation
	timed           bool          // compute was measured
}

func (r result) decodeRate() float64            { return float64(r.tokens) / r.decode.Seconds() }
func (r result) prefillRate(tokens int) float64 { return float64(tokens) / r.prefill.Seconds() }
func (r result) outside() float64               { return 1 - r.compute.Seconds()/r.decode.Seconds() }

// timer is implemented by backends that account for their compute time
// (MLX).
type timer interface{ Timing() time.Duration }

// run loads the model on b, prefills the prompt and decodes greedily.
func run(files *modelfile.Model, b tensor.Backend, o Options) (result, error) {
	m, err := llama.Load(files.Config(), files, b)
	if err != nil {
		return result{}, err
	}
	defer m.Close()
	c, err := m.NewCache(o.Prefill + o.Decode)
	if err != nil {
		return result{}, err
	}
	defer c.Close()
	vocab := files.Config().VocabSize
	prompt := make([]int, o.Prefill)
	for i := range prompt {
		prompt[i] = (i*7919 + 11) % vocab
	}
	r := result{tokens: o.Decode}
	start := time.Now()
	logits, err := m.Forward(prompt, c)
	if err != nil {
		return result{}, err
	}
	r.prefill = time.Since(start)
	t, timed := b.(timer)
	var before time.Duration
	if timed {
		before = t.Timing()
	}
	start = time.Now()
	tok := []int{argmax(logits)}
	for range o.Decode {
		if logits, err = m.Forward(tok, c); err != nil {
			return result{}, err
		}
		tok[0] = argmax(logits)
	}
	r.decode = time.Since(start)
	if timed {
		r.compute, r.timed = t.Timing()-before, true
	}
	return r, nil
}

func argmax(xs []float32) int {
	best := 0
	for i, x := range xs {
		if x > xs[best] {
			best = i
		}
	}
	return best
}
