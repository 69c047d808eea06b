//go:build cgo && (linux || darwin)

// Package mlxfake builds stand-in libmlxc files for tests of the MLX
// loader and of what the engine does when MLX cannot be used: a library
// reporting any version, with any one symbol missing. It needs gcc; tests
// are skipped without it.
package mlxfake

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/tensor/mlx"
)

// libName is the platform's file name of libmlxc.
var libName = map[bool]string{true: "libmlxc.dylib", false: "libmlxc.so"}[runtime.GOOS == "darwin"]

// fakeSource is a stand-in libmlxc: the functions the loader calls, with the
// mlx-c 0.6.0 signatures declared in mlxc.h (VERSION is the answer of
// mlx_version). Build adds an empty stand-in for every other required
// symbol: the loader only resolves them.
const fakeSource = `
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct { void *ctx; } mlx_string;
typedef void (*mlx_error_handler_func)(const char *msg, void *data);


void mlx_set_error_handler(mlx_error_handler_func h, void *data, void (*dtor)(void *)) {
	(void)h; (void)data; (void)dtor;
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
`

// Build compiles the fake library into dir and returns its path. omit, if
// set, is a function renamed away so the library lacks it.
func Build(t testing.TB, version string, metal bool, omit string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found: cannot build the fake libmlxc for the loader tests")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "fake.c")
	code := fakeSource
	for _, name := range mlx.RequiredSymbols() {
		if !strings.Contains(code, name+"(") {
			code += "void " + name + "(void) {}\n"
		}
	}
	if omit != "" {
		code = strings.Replace(code, " "+omit+"(", " renamed_"+omit+"(", 1)
	}
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, libName)
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
