//go:build cgo && (linux || darwin)

package mlxload

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSource is a stand-in libmlxc with the mlx-c 0.6.0 signatures declared
// in mlxc.h. VERSION is the answer of mlx_version; OMIT names a function that
// is left out (compiled under another name).
const fakeSource = `
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct { void *ctx; } mlx_string;
typedef struct { void *ctx; } mlx_array;
typedef struct { void *ctx; } mlx_stream;
typedef struct { void *ctx; } mlx_vector_array;
typedef struct { int value; bool has_value; } mlx_optional_int;
typedef int mlx_dtype;
typedef void (*mlx_error_handler_func)(const char *msg, void *data);


static mlx_error_handler_func handler;
static void *handler_data;

void mlx_set_error_handler(mlx_error_handler_func h, void *data, void (*dtor)(void *)) {
	(void)dtor; handler = h; handler_data = data;
}
mlx_string mlx_string_new(void) { mlx_string s = {NULL}; return s; }
const char *mlx_string_data(mlx_string s) { return (const char *)s.ctx; }
int mlx_string_free(mlx_string s) { free(s.ctx); return 0; }
int mlx_version(mlx_string *s) {
	if (s->ctx) free(s->ctx);
	s->ctx = strdup(VERSION);
	return 0;
}
int mlx_metal_is_available(bool *res) { *res = METAL; return 0; }
mlx_array mlx_array_new_data(const void *data, const int *shape, int dim, mlx_dtype dtype) {
	(void)data; (void)shape; (void)dim; (void)dtype; mlx_array a = {NULL}; return a;
}
int mlx_array_free(mlx_array a) { (void)a; return 0; }
int mlx_eval(const mlx_vector_array outputs) { (void)outputs; return 0; }
int mlx_quantized_matmul(mlx_array *res, const mlx_array x, const mlx_array w,
	const mlx_array scales, const mlx_array biases, bool transpose,
	mlx_optional_int group_size, mlx_optional_int bits, const char *mode,
	const mlx_stream s) {
	(void)res; (void)x; (void)w; (void)scales; (void)biases; (void)transpose;
	(void)group_size; (void)bits; (void)mode; (void)s;
	if (handler) handler("not implemented in the fake", handler_data);
	return 1;
}
`

// buildFake compiles the fake library into dir and returns its path. omit, if
// set, is a function renamed away so the library lacks it.
func buildFake(t *testing.T, version string, metal bool, omit string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found: cannot build the fake libmlxc for the loader tests")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "fake.c")
	code := fakeSource
	if omit != "" {
		code = strings.Replace(code, " "+omit+"(", " renamed_"+omit+"(", 1)
	}
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, libName())
	m := "false"
	if metal {
		m = "true"
	}
	cmd := exec.Command(gcc, "-shared", "-fPIC", "-o", out, src,
		fmt.Sprintf("-DVERSION=%q", version), "-DMETAL="+m)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	return out
}

func TestOpenFakeSupported(t *testing.T) {
	p := buildFake(t, "0.31.1", true, "")
	t.Setenv(EnvLib, p)
	lib, err := Open()
	if err != nil {
		t.Fatalf("Open: %v", err)
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
	p := buildFake(t, "0.30.0", false, "")
	_, err := OpenPath(p)
	var ve *VersionError
	if !errors.As(err, &ve) {
		t.Fatalf("OpenPath: %v, want *VersionError", err)
	}
	if ve.Found != "0.30.0" || ve.Supported != SupportedVersions {
		t.Errorf("VersionError = %+v", ve)
	}
	if !strings.Contains(err.Error(), "0.31.x") || !strings.Contains(err.Error(), "CPU backend") {
		t.Errorf("message %q does not name the supported range and the fallback", err)
	}
}

func TestOpenFakeMissingSymbol(t *testing.T) {
	for _, name := range []string{"mlx_quantized_matmul", "mlx_version"} {
		t.Run(name, func(t *testing.T) {
			p := buildFake(t, "0.31.1", false, name)
			_, err := OpenPath(p)
			var se *SymbolError
			if !errors.As(err, &se) || se.Name != name {
				t.Fatalf("OpenPath: %v, want *SymbolError{Name: %s}", err, name)
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
	bad := buildFake(t, "0.30.0", false, "")
	good := buildFake(t, "0.31.1", false, "")
	lib, err := openFirst([]string{filepath.Join(t.TempDir(), "missing.so"), bad, good})
	if err != nil {
		t.Fatalf("openFirst: %v", err)
	}
	defer lib.Close()
	if lib.Path() != good {
		t.Errorf("loaded %s, want %s", lib.Path(), good)
	}
	_, err = openFirst([]string{bad, filepath.Join(t.TempDir(), "missing.so")})
	var ve *VersionError
	if !errors.As(err, &ve) {
		t.Errorf("openFirst(bad, missing) = %v, want *VersionError", err)
	}
}

// A file that exists but is not a shared library is reported as not found,
// with dlopen's reason.
func TestOpenPathNotALibrary(t *testing.T) {
	p := filepath.Join(t.TempDir(), libName())
	if err := os.WriteFile(p, []byte("not an ELF"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := OpenPath(p)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), p) {
		t.Fatalf("OpenPath(garbage) = %v, want ErrNotFound naming the path", err)
	}
}
