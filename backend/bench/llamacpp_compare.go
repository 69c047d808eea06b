package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
)

// LlamaCppModes are the values of Options.LlamaCpp.
var LlamaCppModes = []string{"auto", "install", "off"}

// compareLlamaCpp measures llama.cpp on the model files hold, written as
// GGUF Q4_0 (llama.cpp's fast path, requantized) and Q4_1 (bit-identical
// to modelbar's weights), each right after modelbar's CPU backend on the
// same prompt, and prints modelbar's rates as a multiple of llama.cpp's.
// Each engine runs with all threads and with one, and each ratio compares
// two runs made back to back (see compareFormat). In mode "auto" a missing
// node-llama-cpp, or a model GGUF cannot hold, is reported, not an error.
func compareLlamaCpp(w io.Writer, files *modelfile.Model, o Options) error {
	ctx := context.Background()
	l, err := llamaCppFor(ctx, w, o.LlamaCpp)
	if l == nil || err != nil {
		return err
	}
	if err := ggufSupported(files); err != nil {
		if o.LlamaCpp == "install" {
			return err
		}
		fmt.Fprintf(w, "llama.cpp: not measured: %v\n", err)
		return nil
	}
	tmp, err := os.MkdirTemp("", "modelbar-bench-gguf-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, q := range []GGUFQuant{Q4_0, Q4_1} {
		if err := compareFormat(ctx, w, l, files, o, q, filepath.Join(tmp, "model-"+q.String()+".gguf")); err != nil {
			return err
		}
	}
	return nil
}

// compareFormat writes the model as q, then for each thread count runs
// modelbar's CPU backend and llama.cpp back to back, and prints the rates,
// the ratio at each thread count, and the ratio of each engine's best
// run. Both engines get one thread as well as all of them: a thread that
// another process keeps off its core stalls the others at every
// operation (llama.cpp's spinning barrier, modelbar's end of each
// parallel product), so on a shared machine either may be faster alone.
func compareFormat(ctx context.Context, w io.Writer, l *LlamaCpp, files *modelfile.Model, o Options, q GGUFQuant, path string) error {
	stats, err := WriteGGUF(path, files, q)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	note := "bit-identical weights"
	switch {
	case q == Q4_0:
		note = "requantized, llama.cpp's fast path"
	case stats.Rounded > 0:
		note = fmt.Sprintf("the same weights but %d scales and biases rounded to float16", stats.Rounded)
	}
	prompt := benchPrompt(o.Prefill, files.Config().VocabSize)
	var best [2]struct{ ours, theirs rate } // prefill, decode
	for _, threads := range slices.Compact([]int{runtime.GOMAXPROCS(0), 1}) {
		ours, err := run(files, cpu.NewThreads(threads), o)
		if err != nil {
			return fmt.Errorf("cpu: %w", err)
		}
		theirs, err := l.Run(ctx, path, prompt, o.Decode, threads)
		if err != nil {
			return err
		}
		op, od := rate{float64(o.Prefill) / ours.prefill.Seconds(), threads}, rate{ours.decodeRate(), threads}
		tp, td := rate{float64(o.Prefill) / theirs.Prefill.Seconds(), threads}, rate{float64(o.Decode) / theirs.Decode.Seconds(), threads}
		best[0].ours, best[0].theirs = best[0].ours.max(op), best[0].theirs.max(tp)
		best[1].ours, best[1].theirs = best[1].ours.max(od), best[1].theirs.max(td)
		fmt.Fprintf(w, "llama.cpp %s (%s; node-llama-cpp %s, %s build), threads=%d: prefill %d tokens = %.1f tokens/s; decode %d tokens = %.1f tokens/s\n",
			q, note, NodeLlamaCppVersion, theirs.Build, threads, o.Prefill, tp.perSecond, o.Decode, td.perSecond)
		fmt.Fprintf(w, "  cpu (threads=%d) right before it: prefill %.1f tokens/s = %.2f×; decode %.1f tokens/s = %.2f×\n",
			threads, op.perSecond, op.perSecond/tp.perSecond, od.perSecond, od.perSecond/td.perSecond)
	}
	p, d := best[0], best[1]
	fmt.Fprintf(w, "  modelbar ÷ llama.cpp %s, each at its best: prefill %.2f× (cpu threads=%d, llama.cpp threads=%d); decode %.2f× (cpu threads=%d, llama.cpp threads=%d)\n",
		q, p.ours.perSecond/p.theirs.perSecond, p.ours.threads, p.theirs.threads, d.ours.perSecond/d.theirs.perSecond, d.ours.threads, d.theirs.threads)
	return nil
}

// rate is tokens/s at a thread count.
type rate struct {
	perSecond float64
	threads   int
}

func (r rate) max(o rate) rate {
	if o.perSecond > r.perSecond {
		return o
	}
	return r
}

// llamaCppFor finds node-llama-cpp for mode, installing it in mode
// "install"; nil with no error when it is not measured (reported on w).
func llamaCppFor(ctx context.Context, w io.Writer, mode string) (*LlamaCpp, error) {
	switch mode {
	case "off":
		return nil, nil
	case "", "auto", "install":
	default:
		return nil, fmt.Errorf("llama.cpp: mode %q: want auto, install or off", mode)
	}
	dir, err := LlamaCppDir()
	if err != nil {
		return nil, err
	}
	l, err := FindLlamaCpp(dir)
	switch {
	case err == nil:
		return l, nil
	case mode == "install" && errors.Is(err, ErrNoLlamaCpp):
		return InstallLlamaCpp(ctx, w, dir)
	case mode == "install":
		return nil, err
	}
	fmt.Fprintf(w, "llama.cpp: not measured: %v (--llamacpp install installs it)\n", err)
	return nil, nil
}

// benchPrompt is the prompt run gives modelbar: token ids spread over the
// vocabulary.
func benchPrompt(n, vocab int) []int {
	prompt := make([]int, n)
	for i := range prompt {
		prompt[i] = (i*7919 + 11) % vocab
	}
	return prompt
}
