// Package bench measures the local engine on this machine: prefill and
// decode tokens/s of a generated model of realistic shape on the CPU
// backend, next to the memory bandwidth measured in the same run (decode
// reads every weight once per token, so bandwidth bounds it).
package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/modelbar/modelbar/backend/engine/llama"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
)

// Options configure a run.
type Options struct {
	Dir     string         // where the model is written (kept for the next run); "" uses a temp dir
	Spec    testmodel.Spec // zero: testmodel.Realistic() (Qwen2.5-0.5B-Instruct-4bit's shape)
	Prefill int            // prompt tokens; 0: 128
	Decode  int            // generated tokens; 0: 32
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
	b := cpu.New()
	defer b.Close()
	m, err := llama.Load(files.Config(), files, b)
	if err != nil {
		return err
	}
	defer m.Close()
	return measure(w, files, m, o)
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

func measure(w io.Writer, files *modelfile.Model, m *llama.Model, o Options) error {
	cfg := files.Config()
	c, err := m.NewCache(o.Prefill + o.Decode)
	if err != nil {
		return err
	}
	defer c.Close()
	prompt := make([]int, o.Prefill)
	for i := range prompt {
		prompt[i] = (i*7919 + 11) % cfg.VocabSize
	}
	bw := Bandwidth(512<<20, runtime.GOMAXPROCS(0))
	start := time.Now()
	logits, err := m.Forward(prompt, c)
	if err != nil {
		return err
	}
	prefill := time.Since(start)
	start = time.Now()
	tok := []int{argmax(logits)}
	for range o.Decode {
		if logits, err = m.Forward(tok, c); err != nil {
			return err
		}
		tok[0] = argmax(logits)
	}
	decode := time.Since(start)
	report(w, cfg, files.SizeOnDisk(), bw, o, prefill, decode)
	return nil
}

func report(w io.Writer, cfg modelfile.Config, size int64, bw float64, o Options, prefill, decode time.Duration) {
	quant := "unquantized"
	if q := cfg.Quantization; q != nil {
		quant = fmt.Sprintf("%d-bit g%d", q.Bits, q.GroupSize)
	}
	perTok := decode.Seconds() / float64(o.Decode)
	weightRate := float64(size) / perTok
	fmt.Fprintf(w, "model: %s, %d layers, hidden %d, vocab %d, %s, %.0f MB on disk\n",
		cfg.Architecture, cfg.NumLayers, cfg.HiddenSize, cfg.VocabSize, quant, float64(size)/1e6)
	fmt.Fprintf(w, "backend: cpu, %d threads, %s/%s\n", runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "memory bandwidth (same run): %.1f GB/s\n", bw/1e9)
	fmt.Fprintf(w, "prefill: %d tokens in %.2f s = %.1f tokens/s\n", o.Prefill, prefill.Seconds(), float64(o.Prefill)/prefill.Seconds())
	fmt.Fprintf(w, "decode: %d tokens in %.2f s = %.1f tokens/s, reading %.2f GB/s of weights = %.1f%% of the bandwidth\n",
		o.Decode, decode.Seconds(), 1/perTok, weightRate/1e9, 100*weightRate/bw)
}

// Bandwidth measures memory read bandwidth in bytes/s: threads goroutines
// sum disjoint parts of a buffer of size bytes, best of three passes.
func Bandwidth(size, threads int) float64 {
	buf := make([]uint32, size/4)
	for i := range buf {
		buf[i] = uint32(i)
	}
	best := 0.0
	for range 3 {
		start := time.Now()
		var wg sync.WaitGroup
		part := len(buf) / threads
		sums := make([]uint32, threads)
		for t := range threads {
			wg.Go(func() {
				var s uint32
				for _, v := range buf[t*part : (t+1)*part] {
					s += v
				}
				sums[t] = s
			})
		}
		wg.Wait()
		best = max(best, float64(part*threads*4)/time.Since(start).Seconds())
	}
	return best
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
