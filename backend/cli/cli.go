// Package cli parses modelbar's command line and runs the chosen command.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/modelbar/modelbar/backend/bench"
	"github.com/modelbar/modelbar/backend/server"
)

// Version is set at build time with -ldflags "-X github.com/modelbar/modelbar/backend/cli.Version=...".
var Version = "dev"

// Env is the process environment the CLI reads, injectable for tests.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Desktop runs the desktop app (`modelbar` with no command, or with
	// only flags: --hidden, --addr, --data-dir, --log-level). It lives in package main, the
	// one place that may import Wails.
	Desktop func(ctx context.Context, args []string, stderr io.Writer) int
	// UI is the built web frontend, served at /ui/ (nil: none).
	UI fs.FS
	// OpenURL opens a URL in the default browser (`modelbar ui`); nil:
	// `open` on macOS, `xdg-open` elsewhere.
	OpenURL func(url string) error
}

const usage = `modelbar: one local endpoint for language models

Usage:
  modelbar [--hidden] [--addr A] [--data-dir D]              start the desktop app (window and menu-bar icon)
  modelbar serve [--addr 127.0.0.1:11500] [--data-dir DIR]   run the gateway headless
  modelbar ui [--addr A] [--data-dir D] [--no-open]          open the running modelbar's UI in the browser: prints
                                                             a login link that works once, within 60 s, and opens it
  modelbar rotate-token [--addr A] [--data-dir D]            replace the admin token; every browser is signed out
  modelbar bench [engine] [--dir DIR] [--prefill 128] [--decode 32] [--backend cpu|mlx] [--llamacpp auto|install|off]   measure the local engine on this machine
  modelbar bench agent [--prefix 6000] [--new 200] [--answer 32] [--shape realistic|small] [--dir DIR] [--backend cpu|mlx]
                                       time to first token of an agent's first and second turn (prefix cache)
  modelbar bench gateway [--requests 500] [--rates 500,1000,2000] [--duration 5s] [--streams 50]
                                       measure what the gateway adds, next to a direct call and a null proxy
  modelbar pull org/name[@revision] [--addr A] [--data-dir D]   download a model from the Hugging Face Hub into its cache
  modelbar ls [--addr A] [--data-dir D]                      list the models on disk and the downloads not finished
  modelbar rm org/name [--addr A] [--data-dir D]             remove a model from the disk (unloaded first)
  modelbar version                                           print the version
  modelbar help                                              this text

Environment: MODELBAR_ADDR and MODELBAR_DATA_DIR set the same as the flags
(flags win). The local engine: MODELBAR_BACKEND=cpu|mlx forces a backend,
MODELBAR_MLX_LIB names the libmlxc file to load, MODELBAR_MLX_DEVICE=cpu|gpu
picks MLX's device (unset: the GPU when Metal is available),
MODELBAR_MEMORY_BUDGET_MB sets the default model memory budget. The admin API token is in <data-dir>/admin-token; a browser
signs in with a login link from ` + "`modelbar ui`" + `, never with the token.
`

// desktopFlag reports whether a first argument is one of the desktop app's
// flags (`modelbar --hidden --data-dir D`) rather than a command.
func desktopFlag(arg string) bool {
	switch arg {
	case "--version", "-version", "--help", "-help", "-h":
		return false
	}
	return strings.HasPrefix(arg, "-")
}

// Main runs the command in args (without the program name) and returns the
// process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 || desktopFlag(args[0]) {
		if env.Desktop == nil {
			fmt.Fprintln(env.Stderr, "modelbar: no desktop app in this build; run the gateway headless with `modelbar serve`")
			return 2
		}
		return env.Desktop(ctx, args, env.Stderr)
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], env)
	case "ui":
		return uiCmd(ctx, args[1:], env)
	case "rotate-token":
		return rotateTokenCmd(ctx, args[1:], env)
	case "bench":
		return benchCmd(args[1:], env)
	case "pull":
		return pullCmd(ctx, args[1:], env)
	case "ls":
		return lsCmd(ctx, args[1:], env)
	case "rm":
		return rmCmd(ctx, args[1:], env)
	case "version", "--version", "-version":
		fmt.Fprintln(env.Stdout, "modelbar", Version)
		return 0
	case "help", "--help", "-help", "-h":
		fmt.Fprint(env.Stdout, usage)
		return 0
	}
	fmt.Fprintf(env.Stderr, "modelbar: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func serve(ctx context.Context, args []string, env Env) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	addr := fs.String("addr", envOr(env, "MODELBAR_ADDR", server.DefaultAddr), "listen address (env MODELBAR_ADDR)")
	dataDir := fs.String("data-dir", envOr(env, "MODELBAR_DATA_DIR", ""), "data directory (env MODELBAR_DATA_DIR; default <user config dir>/modelbar)")
	logLevel := fs.String("log-level", envOr(env, "MODELBAR_LOG_LEVEL", "info"), "debug, info, warn or error")
	logJSON := fs.Bool("log-json", false, "log JSON lines instead of text")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "modelbar serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	log, err := newLogger(env.Stderr, *logLevel, *logJSON)
	if err != nil {
		fmt.Fprintln(env.Stderr, "modelbar serve:", err)
		return 2
	}
	if *dataDir == "" {
		if *dataDir, err = defaultDataDir(); err != nil {
			fmt.Fprintln(env.Stderr, "modelbar serve:", err)
			return 1
		}
	}
	return run(ctx, server.Options{Addr: *addr, DataDir: *dataDir, Version: Version, Log: log, UI: env.UI}, env)
}

// run serves until SIGINT/SIGTERM (or ctx ends), then shuts down gracefully:
// in-flight requests get up to 30 seconds, a second signal cuts them off.
func run(ctx context.Context, opts server.Options, env Env) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.Start(ctx, opts)
	if err != nil {
		fmt.Fprintln(env.Stderr, "modelbar serve:", err)
		return 1
	}
	link, _ := srv.LoginLink()
	opts.Log.Info("open the UI in a browser", "url", link,
		"note", "the link works once, within 60 s; `modelbar ui` prints and opens a new one")
	code := 0
	select {
	case <-ctx.Done():
	case err := <-srv.Done():
		opts.Log.Error("server stopped", "err", err)
		code = 1
	}
	stop() // a second signal now kills the process the default way
	opts.Log.Info("shutting down: waiting for in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		opts.Log.Error("shutdown", "err", err)
		return 1
	}
	opts.Log.Info("stopped")
	return code
}

func envOr(env Env, key, def string) string {
	if v := env.Getenv(key); v != "" {
		return v
	}
	return def
}

func defaultDataDir() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the user config dir (set --data-dir): %w", err)
	}
	return filepath.Join(dir, "modelbar"), nil
}

func newLogger(w io.Writer, level string, asJSON bool) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	hopts := &slog.HandlerOptions{Level: lv}
	if asJSON {
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	}
	return slog.New(slog.NewTextHandler(w, hopts)), nil
}

// benchCmd measures the local engine: prefill and decode of a generated
// model of Qwen2.5-0.5B-Instruct-4bit's shape on each tensor backend, with
// the memory bandwidth.
func benchCmd(args []string, env Env) int {
	if len(args) > 0 && args[0] == "gateway" {
		return gatewayBenchCmd(args[1:], env)
	}
	if len(args) > 0 && args[0] == "null-proxy" {
		return nullProxyCmd(args[1:], env)
	}
	if len(args) > 0 && args[0] == "agent" {
		return agentBenchCmd(args[1:], env)
	}
	if len(args) > 0 && args[0] == "engine" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	dir := fs.String("dir", "", "where to write (and keep) the generated model; default a temporary dir")
	prefill := fs.Int("prefill", 128, "prompt tokens")
	decode := fs.Int("decode", 32, "generated tokens")
	backend := fs.String("backend", "", "measure only these tensor backends, comma-separated: cpu, cpu-portable (the portable kernels on float32 activations, the baseline) or mlx (default: every one available)")
	llamacpp := fs.String("llamacpp", "auto", "measure llama.cpp (node-llama-cpp's prebuilt CPU build) next to the cpu backend: auto (when installed), install (install it first), off")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if !slices.Contains(bench.LlamaCppModes, *llamacpp) {
		fmt.Fprintf(env.Stderr, "modelbar bench: --llamacpp %q: want auto, install or off\n", *llamacpp)
		return 2
	}
	o := bench.Options{Dir: *dir, Prefill: *prefill, Decode: *decode, Backends: backends(*backend), LlamaCpp: *llamacpp}
	if err := bench.Engine(env.Stdout, o); err != nil {
		fmt.Fprintln(env.Stderr, "modelbar bench:", err)
		return 1
	}
	return 0
}

// agentBenchCmd measures an agent's two turns through the engine: the
// second starts sooner by what the prefix cache reuses.
func agentBenchCmd(args []string, env Env) int {
	fs := flag.NewFlagSet("bench agent", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	prefix := fs.Int("prefix", 6000, "the first turn's prompt tokens (system prompt and tools); smaller for a quick run")
	answer := fs.Int("answer", 32, "tokens the first turn answers")
	more := fs.Int("new", 200, "tokens the second turn adds after the answer")
	shape := fs.String("shape", "realistic", "the generated model: realistic (Qwen2.5-0.5B-Instruct-4bit's shape) or small (a tiny shape, for CPUs)")
	dir := fs.String("dir", "", "where to write (and keep) the generated model; default a temporary dir")
	backend := fs.String("backend", "", "measure only these tensor backends, comma-separated: cpu or mlx (default: every one available)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	o := bench.AgentOptions{Dir: *dir, Shape: *shape, Prefix: *prefix, Answer: *answer, New: *more, Backends: backends(*backend)}
	if err := bench.Agent(env.Stdout, o); err != nil {
		fmt.Fprintln(env.Stderr, "modelbar bench agent:", err)
		return 1
	}
	return 0
}

// gatewayBenchCmd measures what modelbar adds to a request next to a direct
// call and a null proxy, against a fake provider.
func gatewayBenchCmd(args []string, env Env) int {
	fs := flag.NewFlagSet("bench gateway", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	requests := fs.Int("requests", 500, "requests at concurrency 1, per path")
	rates := fs.String("rates", "500,1000,2000", "open-loop request rates per second, comma-separated")
	duration := fs.Duration("duration", 5*time.Second, "length of each open-loop run")
	streams := fs.Int("streams", 50, "streams of 64 events measured per path")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var rs []int
	for _, f := range strings.Split(*rates, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || r <= 0 {
			fmt.Fprintf(env.Stderr, "modelbar bench gateway: --rates %q: want positive numbers, comma-separated\n", *rates)
			return 2
		}
		rs = append(rs, r)
	}
	o := bench.GatewayOptions{Sequential: *requests, Rates: rs, Duration: *duration, Streams: *streams}
	if err := bench.Gateway(env.Stdout, o); err != nil {
		fmt.Fprintln(env.Stderr, "modelbar bench gateway:", err)
		return 1
	}
	return 0
}

// nullProxyCmd serves the null proxy that `modelbar bench gateway` starts
// in a process of its own (not meant to be run by hand).
func nullProxyCmd(args []string, env Env) int {
	fs := flag.NewFlagSet("bench null-proxy", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	target := fs.String("target", "", "URL to proxy to")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench.NullProxy(ctx, *addr, *target); err != nil {
		fmt.Fprintln(env.Stderr, "modelbar bench null-proxy:", err)
		return 1
	}
	return 0
}

// backends turns the --backend flag into bench's list (empty: all).
func backends(flag string) []string {
	if flag == "" {
		return nil
	}
	var out []string
	for _, name := range strings.Split(flag, ",") {
		if name = strings.TrimSpace(name); name != "" {
			out = append(out, name)
		}
	}
	return out
}
