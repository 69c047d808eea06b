package bench

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/llama"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
)

// installedLlamaCpp returns the node-llama-cpp the bench installed, or
// skips the test saying how to install it.
func installedLlamaCpp(t *testing.T) *LlamaCpp {
	t.Helper()
	dir, err := LlamaCppDir()
	if err != nil {
		t.Skipf("no cache dir for node-llama-cpp: %v", err)
	}
	l, err := FindLlamaCpp(dir)
	if err != nil {
		t.Skipf("llama.cpp is not installed, so modelbar is not checked against it (`modelbar bench --llamacpp install` installs node-llama-cpp %s into %s): %v",
			NodeLlamaCppVersion, dir, err)
	}
	return l
}

// logitTol is how far below modelbar's best logit llama.cpp's greedy token
// may score. llama.cpp rounds the activations to 8 bits (q8_1) before its
// Q4_1 dot products and sums in another order, so where two tokens' logits
// are that close (these models' logits spread over about ±2) the two
// engines may pick different ones; on the same Q4_1 weights anything
// further apart is a real disagreement (a wrong weight, layout or
// hyperparameter moves logits by far more).
const logitTol = 0.1

// llama.cpp loads the GGUF file written from modelbar's Q4_1 weights and
// greedy-decodes what modelbar does: the first tokens exactly, and at
// every step a token modelbar scores within logitTol of its best when fed
// llama.cpp's tokens.
func TestLlamaCpp_GreedyMatchesModelbar(t *testing.T) {
	l := installedLlamaCpp(t)
	for _, tc := range []struct {
		seed  uint64
		group int
	}{{3, 32}, {4, 64}, {5, 128}} {
		files := openModel(t, qwen2Spec(tc.seed, tc.group))
		path := filepath.Join(t.TempDir(), "m.gguf")
		if _, err := WriteGGUF(path, files, Q4_1); err != nil {
			t.Fatal(err)
		}
		prompt := []int{12, 300, 7, 45, 260, 99, 3, 181}
		res, err := l.Run(context.Background(), path, prompt, 8, 1) // one thread: the tokens do not depend on it, and it is fast on a busy machine
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Tokens) != 9 || res.Prefill <= 0 || res.Decode <= 0 {
			t.Fatalf("seed %d: llama.cpp gave %d tokens in %v + %v, want 9", tc.seed, len(res.Tokens), res.Prefill, res.Decode)
		}
		ours := teacherForced(t, files, prompt, res.Tokens)
		for i, logits := range ours {
			best, theirs := slices.Max(logits), logits[res.Tokens[i]]
			if i < 3 && argmax(logits) != res.Tokens[i] {
				t.Errorf("seed %d g%d: token %d: llama.cpp %d, modelbar %d (logits %.4f vs %.4f)", tc.seed, tc.group, i, res.Tokens[i], argmax(logits), theirs, best)
			}
			if best-theirs > logitTol {
				t.Errorf("seed %d g%d: token %d: llama.cpp's %d scores %.4f in modelbar, %.4f below its best %d", tc.seed, tc.group, i, res.Tokens[i], theirs, best-theirs, argmax(logits))
			}
		}
		t.Logf("seed %d g%d: llama.cpp %v", tc.seed, tc.group, res.Tokens)
	}
}

// teacherForced runs modelbar's CPU backend on prompt then on tokens (all
// but the last), returning the logits before each of tokens.
func teacherForced(t *testing.T, files *modelfile.Model, prompt, tokens []int) [][]float32 {
	t.Helper()
	m, err := llama.Load(files.Config(), files, cpu.New())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c, err := m.NewCache(len(prompt) + len(tokens))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	logits, err := m.Forward(prompt, c)
	out := [][]float32{slices.Clone(logits)}
	for _, tok := range tokens[:len(tokens)-1] {
		if err != nil {
			t.Fatal(err)
		}
		logits, err = m.Forward([]int{tok}, c)
		out = append(out, slices.Clone(logits))
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Q4_0 (requantized) loads and runs too.
func TestLlamaCpp_RunsQ4_0(t *testing.T) {
	l := installedLlamaCpp(t)
	files := openModel(t, qwen2Spec(1, 64))
	path := filepath.Join(t.TempDir(), "m.gguf")
	if _, err := WriteGGUF(path, files, Q4_0); err != nil {
		t.Fatal(err)
	}
	res, err := l.Run(context.Background(), path, []int{1, 2, 3}, 2, 1)
	if err != nil || len(res.Tokens) != 3 || res.Build != "prebuilt" {
		t.Fatalf("Run = %+v, %v; want 3 tokens from the prebuilt binary", res, err)
	}
}

// modelbar bench prints llama.cpp's rates and modelbar's ratios for both
// formats when node-llama-cpp is installed.
func TestEngine_ComparesLlamaCpp(t *testing.T) {
	installedLlamaCpp(t)
	var out bytes.Buffer
	o := Options{Dir: filepath.Join(t.TempDir(), "m"), Spec: qwen2Spec(1, 64), Prefill: 8, Decode: 4, Backends: []string{"cpu"}}
	if err := Engine(&out, o); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"llama.cpp Q4_0 (requantized", "llama.cpp Q4_1 (bit-identical", "threads=2: prefill 8 tokens", "threads=1: prefill 8 tokens", "cpu (threads=2) right before it: prefill ", "cpu (threads=1) right before it: prefill ", "modelbar ÷ llama.cpp Q4_0, each at its best: prefill ", "modelbar ÷ llama.cpp Q4_1, each at its best: prefill "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	t.Log(out.String())
}

// With --llamacpp off nothing is said of llama.cpp; in auto mode a model
// GGUF cannot hold is named, not an error; an unknown mode is an error
// naming it.
func TestEngine_LlamaCppModes(t *testing.T) {
	var out bytes.Buffer
	o := Options{Dir: filepath.Join(t.TempDir(), "m"), Spec: qwen2Spec(1, 64), Prefill: 2, Decode: 1, Backends: []string{"cpu"}, LlamaCpp: "off"}
	if err := Engine(&out, o); err != nil || strings.Contains(out.String(), "llama.cpp") {
		t.Errorf("off: %v\n%s", err, out.String())
	}
	out.Reset()
	llama := Options{Dir: filepath.Join(t.TempDir(), "l"), Spec: testmodel.Spec{Seed: 1}, Prefill: 2, Decode: 1, Backends: []string{"cpu"}}
	if err := Engine(&out, llama); err != nil || !strings.Contains(out.String(), "llama.cpp: not measured: ") {
		t.Errorf("auto on a llama model: %v\n%s", err, out.String())
	}
	o.LlamaCpp = "sometimes"
	if err := Engine(&bytes.Buffer{}, o); err == nil || !strings.Contains(err.Error(), `"sometimes"`) {
		t.Errorf("Engine with mode sometimes = %v, want an error naming it", err)
	}
}
