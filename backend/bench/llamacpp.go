package bench

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"
)

// This file measures llama.cpp next to modelbar in the same run: the
// prebuilt CPU build that the npm package node-llama-cpp ships (installed
// on demand into a cache directory, never built here), driven by a small
// Node script (llamacpp/run.mjs), on a GGUF file written from the weights
// modelbar runs (gguf.go).

// NodeLlamaCppVersion is the node-llama-cpp release the bench installs
// (pinned: its prebuilt llama.cpp is what the figures are measured against).
const NodeLlamaCppVersion = "3.22.1"

//go:embed llamacpp/run.mjs
var llamaCppScript []byte

// ErrNoLlamaCpp is returned when node-llama-cpp is not installed.
var ErrNoLlamaCpp = errors.New("node-llama-cpp is not installed")

// LlamaCppDir is where the bench installs node-llama-cpp:
// <user cache dir>/modelbar/bench/llamacpp.
func LlamaCppDir() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("llama.cpp: %w", err)
	}
	return filepath.Join(cache, "modelbar", "bench", "llamacpp"), nil
}

// prebuiltPackage is node-llama-cpp's package of prebuilt llama.cpp
// binaries for this platform (the CPU one; on macOS arm64 the Metal build,
// run with the GPU off).
func prebuiltPackage() (string, error) {
	names := map[string]string{
		"linux/amd64": "linux-x64", "linux/arm64": "linux-arm64", "darwin/arm64": "mac-arm64-metal",
		"darwin/amd64": "mac-x64", "windows/amd64": "win-x64", "windows/arm64": "win-arm64",
	}
	p, ok := names[runtime.GOOS+"/"+runtime.GOARCH]
	if !ok {
		return "", fmt.Errorf("llama.cpp: node-llama-cpp has no prebuilt binary for %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	return "@node-llama-cpp/" + p, nil
}

// LlamaCpp runs llama.cpp through node-llama-cpp installed in a directory.
type LlamaCpp struct {
	dir  string // holds node_modules/node-llama-cpp and the script
	node string // the node executable
}

// FindLlamaCpp returns the node-llama-cpp installed in dir at
// NodeLlamaCppVersion with its prebuilt binary; ErrNoLlamaCpp (wrapped)
// when it is not there, another error when Node.js is missing.
func FindLlamaCpp(dir string) (*LlamaCpp, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("llama.cpp: runs through Node.js, which is not on PATH: %w", err)
	}
	pkg, err := prebuiltPackage()
	if err != nil {
		return nil, err
	}
	for _, p := range []string{"node-llama-cpp", pkg} {
		var meta struct{ Version string }
		data, err := os.ReadFile(filepath.Join(dir, "node_modules", p, "package.json"))
		if err == nil {
			err = json.Unmarshal(data, &meta)
		}
		if err != nil || meta.Version != NodeLlamaCppVersion {
			return nil, fmt.Errorf("llama.cpp: %w at version %s in %s (%s %q)", ErrNoLlamaCpp, NodeLlamaCppVersion, dir, p, meta.Version)
		}
	}
	return &LlamaCpp{dir: dir, node: node}, nil
}

// InstallLlamaCpp installs node-llama-cpp and its prebuilt binary for this
// platform into dir with npm: exact versions, no install scripts (which
// would try to download or compile llama.cpp) and no other platforms'
// optional binaries (the CUDA and Vulkan ones are hundreds of MB).
func InstallLlamaCpp(ctx context.Context, w io.Writer, dir string) (*LlamaCpp, error) {
	pkg, err := prebuiltPackage()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("llama.cpp: %w", err)
	}
	manifest := filepath.Join(dir, "package.json")
	if _, err := os.Stat(manifest); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(manifest, []byte(`{"name": "modelbar-bench-llamacpp", "private": true}`+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("llama.cpp: %w", err)
		}
	}
	fmt.Fprintf(w, "installing node-llama-cpp %s (prebuilt llama.cpp) into %s\n", NodeLlamaCppVersion, dir)
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--omit=optional", "--save-exact",
		"node-llama-cpp@"+NodeLlamaCppVersion, pkg+"@"+NodeLlamaCppVersion)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_LLAMA_CPP_SKIP_DOWNLOAD=true")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("llama.cpp: npm install: %w\n%s", err, out)
	}
	return FindLlamaCpp(dir)
}

// LlamaCppResult is one llama.cpp run.
type LlamaCppResult struct {
	Prefill time.Duration // the prompt up to the first greedy token
	Decode  time.Duration // the decode tokens after it, one at a time
	Tokens  []int         // the first greedy token, then the decoded ones
	Build   string        // node-llama-cpp's kind of llama.cpp build: "prebuilt" (or "localBuild")
}

// Run loads the GGUF file on llama.cpp's CPU build with threads threads,
// evaluates prompt (token ids) in one batch and generates decode more
// tokens greedily after the first.
func (l *LlamaCpp) Run(ctx context.Context, gguf string, prompt []int, decode, threads int) (LlamaCppResult, error) {
	script := filepath.Join(l.dir, "modelbar-run.mjs") // beside node_modules, so the import resolves
	if err := os.WriteFile(script, llamaCppScript, 0o644); err != nil {
		return LlamaCppResult{}, fmt.Errorf("llama.cpp: %w", err)
	}
	ids, err := json.Marshal(prompt)
	if err != nil {
		return LlamaCppResult{}, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, l.node, script, gguf, string(ids), strconv.Itoa(decode), strconv.Itoa(threads))
	cmd.Dir, cmd.Stdout, cmd.Stderr = l.dir, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return LlamaCppResult{}, fmt.Errorf("llama.cpp: %w\n%s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var out struct {
		PrefillMs, DecodeMs float64
		Tokens              []int
		Build               string
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return LlamaCppResult{}, fmt.Errorf("llama.cpp: read the script's output %q: %w\n%s", stdout.String(), err, stderr.String())
	}
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	return LlamaCppResult{Prefill: ms(out.PrefillMs), Decode: ms(out.DecodeMs), Tokens: out.Tokens, Build: out.Build}, nil
}
