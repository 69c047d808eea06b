//go:build cgo && (linux || darwin)

package server

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/tensor/mlx"
	"github.com/modelbar/modelbar/backend/engine/tensor/mlx/mlxfake"
)

// TestTensorBackend_FallsBackToCPU: every way libmlxc can be unusable
// leaves the CPU backend running with a reason naming the cause, unless
// MODELBAR_BACKEND=mlx demands MLX, which then fails the start.
func TestTensorBackend_FallsBackToCPU(t *testing.T) {
	cases := []struct {
		name, force, lib string
		device           string   // MODELBAR_MLX_DEVICE
		reason           []string // substrings of the reason (or of the error when forced)
		wantErr          bool
	}{
		{name: "not found", lib: filepath.Join(t.TempDir(), "libmlxc.so"), reason: []string{"libmlxc not found", "no such file"}},
		{name: "wrong version", lib: mlxfake.Build(t, "0.30.0", false, ""), reason: []string{`"0.30.0"`, "0.31.x"}},
		{name: "symbol missing", lib: mlxfake.Build(t, "0.31.1", false, "mlx_fast_rope"), reason: []string{"mlx_fast_rope"}},
		{name: "forced cpu", force: "cpu", lib: mlxfake.Build(t, "0.31.1", false, ""), reason: []string{"MODELBAR_BACKEND=cpu"}},
		{name: "forced mlx, not found", force: "mlx", lib: filepath.Join(t.TempDir(), "libmlxc.so"), reason: []string{"MODELBAR_BACKEND=mlx", "not found"}, wantErr: true},
		{name: "forced mlx, wrong version", force: "mlx", lib: mlxfake.Build(t, "0.32.0", false, ""), reason: []string{"0.32.0"}, wantErr: true},
		{name: "unknown", force: "tpu", reason: []string{`"tpu"`}, wantErr: true},
		{name: "gpu asked, no Metal", device: "gpu", lib: mlxfake.Build(t, "0.31.1", false, ""), reason: []string{"MODELBAR_MLX_DEVICE=gpu", "Metal GPU device is not available"}},
		{name: "forced mlx, gpu asked, no Metal", force: "mlx", device: "gpu", lib: mlxfake.Build(t, "0.31.1", false, ""), reason: []string{"MODELBAR_MLX_DEVICE=gpu", "not available"}, wantErr: true},
		{name: "unknown device", device: "metal", lib: mlxfake.Build(t, "0.31.1", true, ""), reason: []string{`MODELBAR_MLX_DEVICE="metal"`, "use cpu or gpu"}, wantErr: true},
		{name: "unknown device, forced cpu", force: "cpu", device: "npu", reason: []string{`MODELBAR_MLX_DEVICE="npu"`}, wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(mlx.EnvLib, c.lib)
			t.Setenv(mlx.EnvDevice, c.device)
			b, reason, err := tensorBackend(c.force, 1<<30)
			if c.wantErr {
				if err == nil {
					b.Close()
					t.Fatalf("tensorBackend(%q) = %s, want an error", c.force, b.Name())
				}
				reason = err.Error()
			} else {
				if err != nil {
					t.Fatalf("tensorBackend(%q): %v", c.force, err)
				}
				defer b.Close()
				if !strings.HasPrefix(b.Name(), "cpu") {
					t.Errorf("backend %s, want the CPU backend", b.Name())
				}
			}
			for _, s := range c.reason {
				if !strings.Contains(reason, s) {
					t.Errorf("reason %q does not contain %q", reason, s)
				}
			}
		})
	}
}
