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
	// The bad library is reported as skipped (the missing file is not: it
	// was never found), without the CPU fallback, which did not happen.
	skipped := lib.Skipped()
	if len(skipped) != 1 || skipped[0].Path != bad || !strings.Contains(skipped[0].Reason, `"0.30.0"`) ||
		strings.Contains(skipped[0].Reason, "CPU backend") {
		t.Errorf("Skipped() = %+v, want only %s with its version", skipped, bad)
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

// release lays out a release directory in a temp dir: an "executable" file
// (never run: the loader only looks beside it) and, if libVersion is set, a
// fake libmlxc reporting that version in lib/. It returns the executable's
// path and the lib/ library's path.
func release(t *testing.T, libVersion string) (exe, lib string) {
	t.Helper()
	dir := t.TempDir()
	exe = filepath.Join(dir, "modelbar")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	lib = filepath.Join(dir, "lib", mlx.LibName())
	if libVersion == "" {
		return exe, lib
	}
	if err := os.Mkdir(filepath.Dir(lib), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(mlxfake.Build(t, libVersion, false, ""), lib); err != nil {
		t.Fatal(err)
	}
	return exe, lib
}

// TestOpenFrom_LibBesideExecutable: an unpacked release's lib/ is found,
// also when the executable is reached through a symlink elsewhere (a link
// in ~/bin or /usr/local/bin).
func TestOpenFrom_LibBesideExecutable(t *testing.T) {
	exe, want := release(t, "0.31.1")
	link := filepath.Join(t.TempDir(), "bin", "modelbar")
	if err := os.Mkdir(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(exe, link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{exe, link} {
		lib, err := mlx.OpenFrom("", path)
		if err != nil {
			t.Fatalf("OpenFrom(%s): %v", path, err)
		}
		if lib.Path() != want || len(lib.Skipped()) != 0 {
			t.Errorf("OpenFrom(%s) loaded %s, skipping %v; want %s, the first place", path, lib.Path(), lib.Skipped(), want)
		}
		lib.Close()
	}
}

// TestOpenFrom_EnvWins: MODELBAR_MLX_LIB is used even when lib/ beside the
// executable holds a library, and when it points nowhere nothing else is
// tried (the user asked for that file).
func TestOpenFrom_EnvWins(t *testing.T) {
	exe, _ := release(t, "0.31.1")
	env := mlxfake.Build(t, "0.31.2", false, "")
	lib, err := mlx.OpenFrom(env, exe)
	if err != nil {
		t.Fatalf("OpenFrom: %v", err)
	}
	defer lib.Close()
	if lib.Path() != env || lib.Version() != "0.31.2" {
		t.Errorf("loaded %s (MLX %s), want %s (MLX 0.31.2)", lib.Path(), lib.Version(), env)
	}

	missing := filepath.Join(t.TempDir(), mlx.LibName())
	_, err = mlx.OpenFrom(missing, exe)
	var nf *mlx.NotFoundError
	if !errors.As(err, &nf) || len(nf.Tried) != 1 || nf.Tried[0].Path != missing {
		t.Fatalf("OpenFrom(missing env) = %v, want a *NotFoundError that tried only %s", err, missing)
	}
}

// TestOpenFrom_WrongLibBesideExecutable: a wrong library in lib/ does not
// stop the search, and is what the error reports when nothing else loads.
func TestOpenFrom_WrongLibBesideExecutable(t *testing.T) {
	exe, lib := release(t, "0.30.0")
	_, err := mlx.OpenFrom("", exe)
	var ve *mlx.VersionError
	if !errors.As(err, &ve) {
		if err == nil {
			t.Skip("a libmlxc installed on this machine loaded: the search cannot end empty here")
		}
		t.Fatalf("OpenFrom = %v, want the *VersionError of %s", err, lib)
	}
	if ve.Path != lib || ve.Found != "0.30.0" {
		t.Errorf("VersionError = %+v, want the one of %s", ve, lib)
	}
}

// TestOpenFrom_NotFoundListsEveryPlace: with nothing to load, the error
// names every place looked, in the search order.
func TestOpenFrom_NotFoundListsEveryPlace(t *testing.T) {
	exe, _ := release(t, "")
	lib, err := mlx.OpenFrom("", exe)
	if err == nil {
		lib.Close()
		t.Skipf("a libmlxc installed on this machine loaded (%s): the search cannot end empty here", lib.Path())
	}
	var nf *mlx.NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("OpenFrom = %v, want a *NotFoundError", err)
	}
	want := mlx.Candidates("", exe)
	if want[0] != filepath.Join(filepath.Dir(exe), "lib", mlx.LibName()) {
		t.Fatalf("first candidate %s is not lib/ beside %s", want[0], exe)
	}
	var got []string
	for _, a := range nf.Tried {
		got = append(got, a.Path)
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("tried %v, want %v", got, want)
	}
	for _, p := range want {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("message %q does not name %s", err, p)
		}
	}
}
