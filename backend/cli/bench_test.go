package cli

import (
	"bytes"
	"context"
	"os"
	"slices"
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

// --backend takes one backend or several, comma-separated (the portable
// baseline next to the SIMD kernels: --backend cpu-portable,cpu).
func TestBench_BackendsFlag(t *testing.T) {
	for _, tt := range []struct {
		flag string
		want []string
	}{
		{"", nil},
		{"cpu", []string{"cpu"}},
		{"cpu-portable,cpu", []string{"cpu-portable", "cpu"}},
		{" cpu , mlx ,", []string{"cpu", "mlx"}},
	} {
		if got := backends(tt.flag); !slices.Equal(got, tt.want) {
			t.Errorf("backends(%q) = %q, want %q", tt.flag, got, tt.want)
		}
	}
}
