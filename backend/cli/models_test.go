package cli

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/hub/hubtest"
	"github.com/modelbar/modelbar/backend/server"
)

// modelHub serves a generated tiny model through the fake Hub and points
// HF_ENDPOINT and the cache at it and a temp dir.
func modelHub(t *testing.T) string {
	t.Setenv("MODELBAR_SECRETS", "file")
	t.Setenv("MODELBAR_BACKEND", "cpu")
	cache := hubtest.Isolate(t)
	dir := t.TempDir()
	if err := testmodel.Write(dir, testmodel.Spec{Seed: 5}); err != nil {
		t.Fatal(err)
	}
	files, err := hubtest.FilesFromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := hubtest.New(t, hubtest.Options{})
	h.AddModel("mlx-community/tiny-bf16", files, hubtest.ModelOptions{})
	t.Setenv("HF_ENDPOINT", h.URL)
	return cache
}

func runCLI(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), args, Env{Stdout: &stdout, Stderr: &stderr, Getenv: os.Getenv})
	return code, stdout.String(), stderr.String()
}

// With no modelbar running, pull, ls and rm work on the data dir and the
// cache in process.
func TestPullLsRm_InProcess(t *testing.T) {
	cache := modelHub(t)
	data := t.TempDir()
	flags := []string{"--addr", deadAddr(t), "--data-dir", data}
	code, out, errOut := runCLI(append([]string{"pull", "mlx-community/tiny-bf16@main"}, flags...)...)
	if code != 0 || !strings.Contains(out, `is ready: use the model name "mlx-community/tiny-bf16"`) || !strings.Contains(errOut, "this process") {
		t.Fatalf("pull: %d %q %q", code, out, errOut)
	}
	if !strings.Contains(out, "done 100%") {
		t.Errorf("pull off a terminal prints no plain progress line: %q", out)
	}
	if _, err := os.Stat(filepath.Join(cache, "models--mlx-community--tiny-bf16", "refs", "main")); err != nil {
		t.Errorf("no refs/main in the cache: %v", err)
	}
	code, out, errOut = runCLI(append([]string{"ls"}, flags...)...)
	if code != 0 || !strings.Contains(out, "mlx-community/tiny-bf16") || !strings.Contains(out, "ready") {
		t.Fatalf("ls: %d %q %q", code, out, errOut)
	}
	code, out, errOut = runCLI(append([]string{"rm", "mlx-community/tiny-bf16"}, flags...)...)
	if code != 0 || !strings.Contains(out, "removed mlx-community/tiny-bf16") {
		t.Fatalf("rm: %d %q %q", code, out, errOut)
	}
	if code, _, errOut = runCLI(append([]string{"rm", "mlx-community/tiny-bf16"}, flags...)...); code != 1 || !strings.Contains(errOut, "no local model") {
		t.Errorf("rm again: %d %q", code, errOut)
	}
	for _, tc := range []struct{ args, want string }{
		{"pull", "which model?"},
		{"pull mlx-community/nope", "no repo mlx-community/nope"},
		{"pull not-a-repo", "not a Hub model id"},
		{"rm", "which model?"},
	} {
		code, _, errOut := runCLI(append(strings.Fields(tc.args), flags...)...)
		if code == 0 || !strings.Contains(strings.ToLower(errOut), strings.ToLower(tc.want)) {
			t.Errorf("%s: %d %q, want %q", tc.args, code, errOut, tc.want)
		}
	}
}

// With a modelbar running, the commands go through its admin API.
func TestPullLsRm_ThroughTheServer(t *testing.T) {
	modelHub(t)
	data := t.TempDir()
	s, err := server.Start(context.Background(), server.Options{Addr: "127.0.0.1:0", DataDir: data, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	flags := []string{"--addr", s.Addr(), "--data-dir", data}
	code, out, errOut := runCLI(append([]string{"pull", "mlx-community/tiny-bf16"}, flags...)...)
	if code != 0 || !strings.Contains(out, "is ready") || !strings.Contains(errOut, "the modelbar at "+s.Addr()) {
		t.Fatalf("pull: %d %q %q", code, out, errOut)
	}
	code, out, _ = runCLI(append([]string{"ls"}, flags...)...)
	if code != 0 || !strings.Contains(out, "mlx-community/tiny-bf16") || !strings.Contains(out, "hf-cache") {
		t.Fatalf("ls: %d %q", code, out)
	}
	code, out, errOut = runCLI(append([]string{"rm", "mlx-community/tiny-bf16"}, flags...)...)
	if code != 0 {
		t.Fatalf("rm: %d %q %q", code, out, errOut)
	}
	if _, out, _ = runCLI(append([]string{"ls"}, flags...)...); strings.Contains(out, "tiny-bf16") {
		t.Errorf("ls after rm: %q", out)
	}
}
