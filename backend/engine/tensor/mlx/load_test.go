package mlx

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestSupportedVersion(t *testing.T) {
	for v, want := range map[string]bool{
		"0.31.0": true, "0.31.1": true, "0.31.12": true, "0.31.1.dev20260101+abc": true,
		"0.30.0": false, "0.32.0": false, "1.31.1": false, "0.31": false, "0.31.": false,
		"0.310.1": false, "": false,
	} {
		if got := supportedVersion(v); got != want {
			t.Errorf("supportedVersion(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestCandidates(t *testing.T) {
	if got := candidates("/x/libmlxc.so", "/app/Contents/MacOS/modelbar"); len(got) != 1 || got[0] != "/x/libmlxc.so" {
		t.Fatalf("env set: candidates = %v, want only the env path", got)
	}
	got := candidates("", "/app/Contents/MacOS/modelbar")
	name := libName()
	want := []string{
		filepath.Join("/app/Contents/MacOS/lib", name),
		filepath.Join("/app/Contents/Frameworks", name),
		"/opt/homebrew/lib/" + name,
		"/usr/local/lib/" + name,
		name,
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("candidates = %v, want %v", got, want)
	}
	if got := candidates("", ""); strings.Join(got, "|") != strings.Join(want[2:], "|") {
		t.Fatalf("no executable: candidates = %v, want %v", got, want[2:])
	}
}

func TestErrorMessagesNameFallback(t *testing.T) {
	for _, err := range []error{
		&NotFoundError{Tried: []Attempt{{Path: "/p", Reason: "no such file"}}},
		&VersionError{Found: "0.30.0", Supported: SupportedVersions, Path: "/p"},
		&SymbolError{Name: "mlx_eval", Path: "/p"},
	} {
		if !strings.Contains(err.Error(), "falls back to the CPU backend") {
			t.Errorf("%T message %q does not mention the CPU fallback", err, err)
		}
	}
	if !errors.Is(&NotFoundError{}, ErrNotFound) {
		t.Error("NotFoundError does not match ErrNotFound")
	}
}

func TestOpenPathMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope", "libmlxc.so")
	_, err := OpenPath(p)
	var nf *NotFoundError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &nf) {
		t.Fatalf("OpenPath(missing) = %v, want ErrNotFound", err)
	}
	if len(nf.Tried) != 1 || nf.Tried[0].Path != p || !strings.Contains(err.Error(), p) {
		t.Fatalf("error %q does not list the path %s", err, p)
	}
}

func TestOpenEnvPointingNowhere(t *testing.T) {
	p := filepath.Join(t.TempDir(), "libmlxc-missing.so")
	t.Setenv(EnvLib, p)
	_, err := Open()
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), p) {
		t.Fatalf("Open() with %s=%s: %v, want ErrNotFound naming the path", EnvLib, p, err)
	}
}
