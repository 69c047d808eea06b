package cli

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// `modelbar bench --llamacpp` takes auto, install or off; anything else is
// a usage error naming the value, before any model is written.
func TestBench_LlamaCppFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"bench", "--llamacpp", "sometimes"}, Env{Stdout: &stdout, Stderr: &stderr, Getenv: os.Getenv})
	if code != 2 || !strings.Contains(stderr.String(), `--llamacpp "sometimes": want auto, install or off`) || stdout.Len() != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}
