package auth

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadToken_CreatedOnceWithMode0600(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadToken(dir)
	if err != nil || len(a) != 64 {
		t.Fatalf("token %q %v", a, err)
	}
	b, err := LoadToken(dir)
	if err != nil || a != b {
		t.Errorf("second read %q != %q (%v)", b, a, err)
	}
	path := filepath.Join(dir, "admin-token")
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stat %v, %v", fi, err)
	}
	os.Chmod(path, 0o644)
	if _, err := LoadToken(dir); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("loose mode not tightened: %v, %v", fi, err)
	}
	os.WriteFile(path, []byte("\n"), 0o600)
	if _, err := LoadToken(dir); err == nil {
		t.Error("empty token file accepted")
	}
}

func TestLoadToken_ConcurrentStartsAgree(t *testing.T) {
	dir := t.TempDir()
	tokens := make(chan string, 8)
	for range 8 {
		go func() {
			tok, err := LoadToken(dir)
			if err != nil {
				t.Error(err)
			}
			tokens <- tok
		}()
	}
	first := <-tokens
	for range 7 {
		if tok := <-tokens; tok != first || len(tok) != 64 {
			t.Errorf("token %q, want %q", tok, first)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestReadToken_DoesNotCreate(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadToken(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadToken of an empty dir: %v, want ErrNotExist", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("ReadToken created %v", entries)
	}
}

func TestRotateFile_WritesANewToken(t *testing.T) {
	dir := t.TempDir()
	for name, prepare := range map[string]func(){"no file yet": func() {}, "a file": func() { LoadToken(dir) }} {
		t.Run(name, func(t *testing.T) {
			prepare()
			before, _ := ReadToken(dir)
			if err := RotateFile(dir); err != nil {
				t.Fatal(err)
			}
			after, err := ReadToken(dir)
			if err != nil || after == before || len(after) != 64 {
				t.Errorf("after RotateFile: %q (before %q) %v", after, before, err)
			}
			if fi, err := os.Stat(TokenPath(dir)); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("mode %v %v", fi, err)
			}
		})
	}
}
