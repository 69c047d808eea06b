// Package release holds the scripts that build, lay out, check, sign and
// package a modelbar release, run by .github/workflows/release.yml and
// macos.yml (see README.md here). Its tests run what can run on Linux: the
// Linux tarball against fake MLX libraries, the version and Info.plist
// rendering, and the Homebrew cask; the macOS-only scripts run on the
// hosted runners alone.
package release

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// repoRoot is the module root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// need skips the test when a tool is missing; .ci/run installs each of
// them (gcc, patchelf; readelf and ldd come with binutils and libc-bin).
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found (.ci/run installs it): cannot test the Linux release layout", tool)
		}
	}
}

// fakeLibmlx stands in for MLX's libmlx.so: the one thing the fake libmlxc
// takes from it is the version string, so a version read through libmlxc
// proves that libmlx was found.
const fakeLibmlx = `const char *fake_mlx_core_version(void) { return "0.0.0-from-bundled-libmlx"; }`

// fakeLibmlxc has the functions the loader calls before it checks the
// version (mlx-c 0.6.0 signatures, as in backend/engine/tensor/mlx/mlxc.h).
// The version it reports comes from libmlx and is outside 0.31.x, so the
// loader refuses the library by name (a *VersionError) and modelbar runs on
// the CPU backend: nothing calls the empty rest of a fake.
const fakeLibmlxc = `
#include <stdlib.h>
#include <string.h>
typedef struct { void *ctx; } mlx_string;
typedef void (*mlx_error_handler_func)(const char *msg, void *data);
const char *fake_mlx_core_version(void);
void mlx_set_error_handler(mlx_error_handler_func h, void *data, void (*dtor)(void *)) {
	(void)h; (void)data; (void)dtor;
}
mlx_string mlx_string_new(void) { mlx_string s = {NULL}; return s; }
const char *mlx_string_data(mlx_string s) { return (const char *)s.ctx; }
int mlx_string_free(mlx_string s) { free(s.ctx); return 0; }
int mlx_version(mlx_string *s) {
	if (s->ctx) free(s->ctx);
	s->ctx = strdup(fake_mlx_core_version());
	return 0;
}
`

// fakeInstall says how buildFakeMLX links the fake libraries.
type fakeInstall struct {
	// runpath is the libraries' run path: "$ORIGIN", as
	// .github/actions/build-mlx installs them (CMAKE_INSTALL_RPATH), or
	// none, as `cmake --install` leaves them without INSTALL_RPATH (CMake
	// drops the build tree's run paths on install).
	runpath string
	// unlinked leaves libmlxc without its NEEDED libmlx (a broken build).
	unlinked bool
}

// installedByAction is what build-mlx's `cmake --install` leaves in
// PREFIX/lib: each library with the run path $ORIGIN.
var installedByAction = fakeInstall{runpath: "$ORIGIN"}

// buildFakeMLX compiles libmlx.so and a libmlxc.so linked against it into
// dir, as an MLX + mlx-c install leaves them in PREFIX/lib (see fakeInstall).
func buildFakeMLX(t *testing.T, dir string, how fakeInstall) {
	t.Helper()
	gcc := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc %v: %v\n%s", args, err, out)
		}
	}
	for name, src := range map[string]string{"mlx.c": fakeLibmlx, "mlxc.c": fakeLibmlxc} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var flags []string
	if how.runpath != "" {
		// No shell in between: $ORIGIN reaches the linker as written.
		flags = append(flags, "-Wl,-rpath,"+how.runpath)
	}
	gcc(append([]string{"-shared", "-fPIC", "-o", filepath.Join(dir, "libmlx.so"), filepath.Join(dir, "mlx.c")}, flags...)...)
	if !how.unlinked {
		flags = append(flags, "-L"+dir, "-lmlx")
	}
	gcc(append([]string{"-shared", "-fPIC", "-o", filepath.Join(dir, "libmlxc.so"), filepath.Join(dir, "mlxc.c")}, flags...)...)
}

// buildModelbar builds the real binary (package main embeds frontend/dist,
// which .ci/run builds before the tests).
func buildModelbar(t *testing.T, out string) {
	t.Helper()
	root := repoRoot(t)
	if _, err := os.Stat(filepath.Join(root, "frontend", "dist", "index.html")); err != nil {
		t.Skip("frontend/dist not built (.ci/run builds it first; or npm ci && npm run build in frontend/): cannot build modelbar")
	}
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
}

// TestBundleLinux lays out the Linux tarball from the real modelbar binary
// and fake MLX libraries, then checks what a user gets: the files, the
// checksum, the run paths, and that the unpacked binary, started through a
// symlink with the libraries' install directory gone, loads lib/libmlxc.so
// and through it lib/libmlx.so. It does so with the libraries as
// build-mlx installs them ($ORIGIN already) and without any run path, so
// that bundle.sh's own setting of $ORIGIN is what the second case tests.
func TestBundleLinux(t *testing.T) {
	need(t, "gcc", "patchelf", "readelf", "ldd", "tar")
	bin := filepath.Join(t.TempDir(), "modelbar")
	buildModelbar(t, bin)
	for _, c := range []struct {
		name string
		how  fakeInstall
	}{
		{"installed by build-mlx", installedByAction},
		{"installed without a run path", fakeInstall{}},
	} {
		t.Run(c.name, func(t *testing.T) { testBundleLinux(t, bin, c.how) })
	}
}

func testBundleLinux(t *testing.T, bin string, how fakeInstall) {
	tmp := t.TempDir()
	mlxBuild := filepath.Join(tmp, "prefix", "lib")
	must(t, os.MkdirAll(mlxBuild, 0o755))
	buildFakeMLX(t, mlxBuild, how)

	out := filepath.Join(tmp, "dist")
	run(t, "bash", "bundle.sh", "linux", "1.2.3", "amd64", bin, mlxBuild, out)
	const name = "modelbar-1.2.3-linux-amd64"
	tarball := filepath.Join(out, name+".tar.gz")

	entries := tarEntries(t, tarball)
	want := map[string]int64{
		name + "/":               0o755,
		name + "/lib/":           0o755,
		name + "/lib/libmlx.so":  0o644,
		name + "/lib/libmlxc.so": 0o644,
		name + "/modelbar":       0o755,
	}
	if fmt.Sprint(entries) != fmt.Sprint(want) {
		t.Errorf("tarball entries (path: mode) = %v, want %v", entries, want)
	}
	checkSum(t, tarball)

	// Unpack as a user would, and remove everything else the libraries
	// could be found by.
	unpacked := filepath.Join(tmp, "opt")
	must(t, os.Mkdir(unpacked, 0o755))
	run(t, "tar", "-C", unpacked, "-xzf", tarball)
	must(t, os.RemoveAll(mlxBuild))
	must(t, os.RemoveAll(filepath.Join(out, name)))
	dir := filepath.Join(unpacked, name)

	for _, lib := range []string{"libmlxc.so", "libmlx.so"} {
		d := readelf(t, filepath.Join(dir, "lib", lib))
		if rp := d["RUNPATH"]; len(rp) != 1 || rp[0] != "$ORIGIN" {
			t.Errorf("%s RUNPATH = %q, want [$ORIGIN]", lib, rp)
		}
		if len(d["RPATH"]) != 0 {
			t.Errorf("%s keeps an RPATH %q", lib, d["RPATH"])
		}
	}
	if needed := readelf(t, filepath.Join(dir, "lib", "libmlxc.so"))["NEEDED"]; !slices.Contains(needed, "libmlx.so") {
		t.Errorf("libmlxc.so NEEDED = %q, want libmlx.so among them", needed)
	}

	link := filepath.Join(tmp, "bin", "modelbar")
	must(t, os.Mkdir(filepath.Dir(link), 0o755))
	must(t, os.Symlink(filepath.Join(dir, "modelbar"), link))
	reason := serveBackendReason(t, link)
	t.Logf("local.backend_reason: %s", reason)
	for _, s := range []string{filepath.Join(dir, "lib", "libmlxc.so"), "0.0.0-from-bundled-libmlx"} {
		if !strings.Contains(reason, s) {
			t.Errorf("local.backend_reason %q does not contain %q", reason, s)
		}
	}

	// check-bundle.sh, the workflows' version of this check, reads the
	// same reason from the start-up log; with the fake refused it must
	// fail and say why (a real library passes it on the hosted runners).
	cmd := exec.Command("bash", "check-bundle.sh", link, filepath.Join(dir, "lib", "libmlxc.so"))
	cmd.Env = cleanEnv(t)
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "did not load") || !strings.Contains(string(b), "0.0.0-from-bundled-libmlx") {
		t.Errorf("check-bundle.sh with the refused fake: err %v, output:\n%s\nwant a failure quoting the reason", err, b)
	}
	if !strings.Contains(string(b), "backend: cpu") {
		t.Errorf("check-bundle.sh did not report the CPU backend:\n%s", b)
	}
}

// TestBundleLinux_Refuses: missing inputs and a bad version stop the script
// with a message naming the problem, before anything is written.
func TestBundleLinux_Refuses(t *testing.T) {
	need(t, "patchelf", "readelf")
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "modelbar")
	must(t, os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755))
	for _, c := range []struct {
		name string
		args []string
		msg  string
	}{
		{"no libraries", []string{"linux", "1.2.3", "amd64", bin, tmp, tmp}, "libmlxc.so not found"},
		{"tag as version", []string{"linux", "v1.2.3", "amd64", bin, tmp, tmp}, "not like 1.2.3"},
		{"no binary", []string{"linux", "1.2.3", "amd64", filepath.Join(tmp, "nope"), tmp, tmp}, "not an executable"},
		{"arguments", []string{"linux", "1.2.3"}, "usage"},
		{"target", []string{"windows"}, "unknown target"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := exec.Command("bash", append([]string{"bundle.sh"}, c.args...)...).CombinedOutput()
			if err == nil || !strings.Contains(string(out), c.msg) {
				t.Errorf("bundle.sh %v: err %v, output %q; want a failure saying %q", c.args, err, out, c.msg)
			}
		})
	}
}

// TestBundleLinux_RefusesUnlinkedLibmlxc: a libmlxc that does not name
// libmlx among its NEEDED libraries would fail at dlopen on a user's
// machine; the script stops the release instead.
func TestBundleLinux_RefusesUnlinkedLibmlxc(t *testing.T) {
	need(t, "gcc", "patchelf", "readelf", "ldd")
	tmp := t.TempDir()
	buildFakeMLX(t, tmp, fakeInstall{runpath: "$ORIGIN", unlinked: true})
	bin := filepath.Join(tmp, "modelbar")
	must(t, os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755))
	out, err := exec.Command("bash", "bundle.sh", "linux", "1.2.3", "amd64", bin, tmp, filepath.Join(tmp, "dist")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "does not name libmlx.so among its NEEDED") {
		t.Errorf("bundle.sh with an unlinked libmlxc: err %v, output %q; want a refusal", err, out)
	}
	if _, err := os.Stat(filepath.Join(tmp, "dist", "modelbar-1.2.3-linux-amd64.tar.gz")); err == nil {
		t.Error("a tarball was written anyway")
	}
}

// TestInstalledMLX_LoadsFromItsPrefix is the macOS workflow's case on
// Linux: MODELBAR_MLX_LIB names libmlxc in the install prefix itself, and
// libmlxc must find libmlx beside it by its own run path. With the run
// path build-mlx gives the libraries it does; without one (a plain cmake
// install) dlopen cannot resolve libmlx, which is why the action sets it.
func TestInstalledMLX_LoadsFromItsPrefix(t *testing.T) {
	need(t, "gcc")
	bin := filepath.Join(t.TempDir(), "modelbar")
	buildModelbar(t, bin)
	for _, c := range []struct {
		name string
		how  fakeInstall
		want string
	}{
		{"installed by build-mlx", installedByAction, "0.0.0-from-bundled-libmlx"},
		{"installed without a run path", fakeInstall{}, "libmlx.so: cannot open shared object file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			lib := filepath.Join(t.TempDir(), "lib")
			must(t, os.Mkdir(lib, 0o755))
			buildFakeMLX(t, lib, c.how)
			reason := serveBackendReason(t, bin, "MODELBAR_MLX_LIB="+filepath.Join(lib, "libmlxc.so"))
			if !strings.Contains(reason, c.want) {
				t.Errorf("local.backend_reason %q does not contain %q", reason, c.want)
			}
		})
	}
}

// serveBackendReason starts `modelbar serve` on a free loopback port with a
// fresh data dir and no MLX settings in its environment but env, and
// returns /api/status' local.backend_reason.
func serveBackendReason(t *testing.T, bin string, env ...string) string {
	t.Helper()
	data := t.TempDir()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", data, "--log-json")
	cmd.Env = append(cleanEnv(t), env...)
	stderr, err := cmd.StderrPipe()
	must(t, err)
	must(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "modelbar listening" {
				addr <- line.Addr
			}
		}
	}()
	var base string
	select {
	case base = <-addr:
	case <-time.After(30 * time.Second):
		t.Fatal("modelbar serve did not log \"modelbar listening\" within 30 s")
	}
	token, err := os.ReadFile(filepath.Join(data, "admin-token"))
	must(t, err)
	req, err := http.NewRequest("GET", base+"/api/status", nil)
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	var status struct {
		Local struct {
			Backend       string `json:"backend"`
			BackendReason string `json:"backend_reason"`
		} `json:"local"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&status); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/status: %s, %v", resp.Status, err)
	}
	if !strings.HasPrefix(status.Local.Backend, "cpu") {
		t.Errorf("local.backend = %q, want the CPU backend (the fake libmlxc is refused)", status.Local.Backend)
	}
	return status.Local.BackendReason
}

// cleanEnv is the test's environment without what could point modelbar at
// another library or data dir.
func cleanEnv(t *testing.T) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "MODELBAR_MLX_LIB", "MODELBAR_BACKEND", "MODELBAR_ADDR", "MODELBAR_DATA_DIR", "LD_LIBRARY_PATH", "HOME", "XDG_CONFIG_HOME":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+t.TempDir())
}

// tarEntries lists a .tar.gz's entries as path: permission bits.
func tarEntries(t *testing.T, path string) map[string]int64 {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	must(t, err)
	tr := tar.NewReader(gz)
	entries := map[string]int64{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries
		}
		must(t, err)
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s owned by %d:%d, want 0:0", h.Name, h.Uid, h.Gid)
		}
		entries[h.Name] = h.Mode & 0o7777
	}
}

// checkSum compares path's .sha256 file (sha256sum's format, the file named
// without its directory) with the file's digest.
func checkSum(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path + ".sha256")
	must(t, err)
	data, err := os.ReadFile(path)
	must(t, err)
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:]) + "  " + filepath.Base(path) + "\n"
	if string(b) != want {
		t.Errorf("%s.sha256 = %q, want %q", filepath.Base(path), b, want)
	}
}

// readelf returns an ELF file's dynamic-section entries by type (NEEDED,
// RUNPATH, RPATH), as readelf -d prints them.
func readelf(t *testing.T, path string) map[string][]string {
	t.Helper()
	out, err := exec.Command("readelf", "-d", path).Output()
	must(t, err)
	d := map[string][]string{}
	for _, line := range strings.Split(string(out), "\n") {
		open, close := strings.Index(line, "("), strings.Index(line, ")")
		lb, rb := strings.Index(line, "["), strings.LastIndex(line, "]")
		if open < 0 || close < open || lb < close || rb < lb {
			continue
		}
		kind := line[open+1 : close]
		d[kind] = append(d[kind], line[lb+1:rb])
	}
	return d
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestDarwinScripts_RefuseOffMac: the macOS-only steps stop with a message
// naming what they need instead of failing halfway on another OS.
func TestDarwinScripts_RefuseOffMac(t *testing.T) {
	if runtime.GOOS == "darwin" {
		t.Skip("on macOS these scripts run for real (release workflow)")
	}
	app := t.TempDir()
	for _, args := range [][]string{
		{"bundle.sh", "darwin", app, app},
		{"sign-darwin.sh", app},
		{"notarize-darwin.sh", app},
		{"package-darwin.sh", "1.2.3", app, app},
		{"keychain-darwin.sh", filepath.Join(app, "k.keychain-db")},
	} {
		out, err := exec.Command("bash", args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "needs macOS") {
			t.Errorf("%v on %s: err %v, output %q; want a refusal saying it needs macOS", args, runtime.GOOS, err, out)
		}
	}
}
