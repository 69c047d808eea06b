package server

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/auth"
)

// modes returns the mode of dir and of everything directly in it (not
// following symbolic links), by name; "." is dir.
func modes(t *testing.T, dir string) map[string]fs.FileMode {
	t.Helper()
	m := map[string]fs.FileMode{}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	m["."] = fi.Mode().Perm()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = fi.Mode().Perm()
		if e.Type()&fs.ModeSymlink != 0 {
			m[e.Name()] = fs.ModeSymlink
		}
	}
	return m
}

// startQuietly starts a server on dir with the file secret store.
func startQuietly(t *testing.T, dir string) *Server {
	t.Helper()
	s, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", DataDir: dir, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Whoever created the data dir and its files, and with whatever modes, a
// started server has the dir at 0700 and every file directly in it at
// 0600 (the database's -wal and -shm included), and leaves symbolic links,
// their targets and subdirectories alone.
func TestStart_MakesTheDataDirPrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes on windows")
	}
	t.Setenv("MODELBAR_SECRETS", "file")
	outside := filepath.Join(t.TempDir(), "outside.txt")
	if err := os.WriteFile(outside, []byte("not modelbar's"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
	}{
		// modelbar.db does not exist yet: it must not be created with the umask's mode.
		{"new 0755 dir", func(t *testing.T, dir string) {}},
		// An earlier run (or a crash) left every file 0644.
		{"earlier files 0644", func(t *testing.T, dir string) {
			s := startQuietly(t, dir)
			token, err := auth.LoadToken(dir)
			if err != nil {
				t.Fatal(err)
			}
			admin(t, s, token, http.MethodPut, "/api/providers/p", `{"type":"openai","api_key":"sk-perms-test-1234"}`)
			if err := s.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"modelbar.db-wal", "modelbar.db-shm", "notes.txt"} {
				if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if err := os.Chmod(filepath.Join(dir, e.Name()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
				t.Fatal(err)
			}
			tt.prepare(t, dir)
			if err := os.Mkdir(filepath.Join(dir, "models"), 0o755); err != nil && !os.IsExist(err) {
				t.Fatal(err)
			}
			os.Chmod(filepath.Join(dir, "models"), 0o755)
			if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
				t.Fatal(err)
			}
			os.Chmod(dir, 0o755)

			s := startQuietly(t, dir)
			defer s.Shutdown(context.Background())
			got := modes(t, dir)
			want := map[string]fs.FileMode{".": 0o700, "models": 0o755, "link": fs.ModeSymlink}
			for name := range got {
				if _, ok := want[name]; !ok {
					want[name] = 0o600
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("modes (-want +got):\n%s", diff)
			}
			for _, name := range []string{"modelbar.db", "modelbar.db-wal", "modelbar.db-shm", "admin-token", "secrets.key"} {
				if _, ok := got[name]; !ok {
					t.Errorf("%s missing; found %s", name, strings.Join(keys(got), ", "))
				}
			}
			if fi, err := os.Stat(outside); err != nil || fi.Mode().Perm() != 0o644 {
				t.Errorf("the symbolic link was followed: target %v, %v", fi, err)
			}
		})
	}
}

func keys(m map[string]fs.FileMode) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
