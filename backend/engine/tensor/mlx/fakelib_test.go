//go:build cgo && (linux || darwin)

package mlx_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/tensor/mlx"
	"github.com/modelbar/modelbar/backend/engine/tensor/mlx/mlxfake"
)

func TestOpenFakeSupported(t *testing.T) {
	p := mlxfake.Build(t, "0.31.1", true, "")
	t.Setenv(mlx.EnvLib, p)
	lib, err := mlx.Open()
	if err != nil {
		t.Fatalf("mlx.Open: %v", err)
	}
	if lib.Version() != "0.31.1" || lib.Path() != p {
		t.Errorf("Version() = %q, Path() = %q; want 0.31.1, %s", lib.Version(), lib.Path(), p)
	}
	metal, err := lib.MetalAvailable()
	if err != nil || !metal {
		t.Errorf("MetalAvailable() = %v, %v; want true, nil", metal, err)
	}
	if err := lib.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := lib.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := lib.MetalAvailable(); err == nil {
		t.Error("MetalAvailable after Close succeeded")
	}
}

func TestOpenFakeWrongVersion(t *testing.T) {
	p := mlxfake.Build(t, "0.30.0", false, "")
	_, err := mlx.OpenPath(p)
	var ve *mlx.VersionError
	if !errors.As(err, &ve) {
		t.Fatalf("mlx.OpenPath: %v, want *mlx.VersionError", err)
	}
	if ve.Found != "0.30.0" || ve.Supported != mlx.SupportedVersions {
		t.Errorf("mlx.VersionError = %+v", ve)
	}
	if !strings.Contains(err.Error(), "0.31.x") || !strings.Contains(err.Error(), "CPU backend") {
		t.Errorf("message %q does not name the supported range and the fallback", err)
	}
}

func TestOpenFakeMissingSymbol(t *testing.T) {
	for _, name := range []string{"mlx_quantized_matmul", "mlx_version"} {
		t.Run(name, func(t *testing.T) {
			p := mlxfake.Build(t, "0.31.1", false, name)
			_, err := mlx.OpenPath(p)
			var se *mlx.SymbolError
			if !errors.As(err, &se) || se.Name != name {
				t.Fatalf("mlx.OpenPath: %v, want *mlx.SymbolError{Name: %s}", err, name)
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("message %q does not name %s", err, name)
			}
		})
	}
}

// A wrong library found early in the search does not hide a good one later,
// but its error is reported when nothing loads.
func TestOpenFirstKeepsSearching(t *testing.T) {
	bad := mlxfake.Build(t, "0.30.0", false, "")
	good := mlxfake.Build(t, "0.31.1", false, "")
	lib, err := mlx.OpenFirst([]string{filepath.Join(t.TempDir(), "missing.so"), bad, good})
	if err != nil {
		t.Fatalf("openFirst: %v", err)
	}
	defer lib.Close()
	if lib.Path() != good {
		t.Errorf("loaded %s, want %s", lib.Path(), good)
	}
	_, err = mlx.OpenFirst([]string{bad, filepath.Join(t.TempDir(), "missing.so")})
	var ve *mlx.VersionError
	if !errors.As(err, &ve) {
		t.Errorf("mlx.OpenFirst(bad, missing) = %v, want *mlx.VersionError", err)
	}
}

// A file that exists but is not a shared library is reported as not found,
// with dlopen's reason.
func TestOpenPathNotALibrary(t *testing.T) {
	p := filepath.Join(t.TempDir(), mlx.LibName())
	if err := os.WriteFile(p, []byte("not an ELF"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := mlx.OpenPath(p)
	if !errors.Is(err, mlx.ErrNotFound) || !strings.Contains(err.Error(), p) {
		t.Fatalf("mlx.OpenPath(garbage) = %v, want mlx.ErrNotFound naming the path", err)
	}
}
