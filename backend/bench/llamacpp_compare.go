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
// llama.cpp runs with as many threads as modelbar and with one: its
// threads meet at a spinning barrier after every operation, which stalls
// when another process holds a core (a shared machine), so modelbar is
// compared with the faster of the two. In mode "auto" a missing
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

// compareFormat writes the model as q, runs modelbar's CPU backend, then
// llama.cpp with each thread count, and prints the rates and ratios.
func compareFormat(ctx context.Context, w io.Writer, l *LlamaCpp, files *modelfile.Model, o Options, q GGUFQuant, path string) error {
	stats, err := WriteGGUF(path, files, q)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	ours, err := run(files, cpu.New(), o)
	if err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	note := "bit-identical weights"
	switch {
	case q == Q4_0:
		note = "requantized, llama.cpp's fast path"
	case stats.Rounded > 0:
		note = fmt.Sprintf("the same weights but %d scales and biases rounded to float16", stats.Rounded)
	}
	prompt := benchPrompt(o.Prefill, files.Config().VocabSize)
	var bestPrefill, bestDecode rate
	for _, threads := range slices.Compact([]int{runtime.GOMAXPROCS(0), 1}) {
		theirs, err := l.Run(ctx, path, prompt, o.Decode, threads)
		if err != nil {
			return err
		}
		p := rate{float64(o.Prefill) / theirs.Prefill.Seconds(), threads}
		d := rate{float64(o.Decode) / theirs.Decode.Seconds(), threads}
		bestPrefill, bestDecode = bestPrefill.max(p), bestDecode.max(d)
		fmt.Fprintf(w, "llama.cpp %s (%s; node-llama-cpp %s, %s build), threads=%d: prefill %d tokens = %.1f tokens/s; decode %d tokens = %.1f tokens/s\n",
			q, note, NodeLlamaCppVersion, theirs.Build, threads, o.Prefill, p.perSecond, o.Decode, d.perSecond)
	}
	mPrefill, mDecode := float64(o.Prefill)/ours.prefill.Seconds(), ours.decodeRate()
	fmt.Fprintf(w, "  cpu (%d threads) next to it: prefill %.1f tokens/s = %.2f× llama.cpp %s's best (threads=%d); decode %.1f tokens/s = %.2f× llama.cpp %s's best (threads=%d)\n",
		runtime.GOMAXPROCS(0), mPrefill, mPrefill/bestPrefill.perSecond, q, bestPrefill.threads, mDecode, mDecode/bestDecode.perSecond, q, bestDecode.threads)
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
