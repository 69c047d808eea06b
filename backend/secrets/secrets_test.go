package secrets

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestHint_Cases(t *testing.T) {
	tests := []struct {
		name, key, want string
	}{
		{"empty", "", ""},
		{"short", "abc", ""},
		{"four", "1234", ""},
		{"five", "12345", "2345"},
		{"seven", "sk-1234", "1234"},
		{"openai", "sk-proj-abcdefghijklmnopWXYZ", "WXYZ"},
		{"runes", "ключ-абвгдежз", "дежз"},
		{"four runes of many bytes", "ключ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Hint(tt.key); got != tt.want {
				t.Errorf("Hint(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

// openWithEnv runs Open with MODELBAR_SECRETS=backend and returns the store
// (or error) and what it logged.
func openWithEnv(t *testing.T, backend string) (Store, string, error) {
	t.Helper()
	t.Setenv(envBackend, backend)
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	s, err := Open(context.Background(), t.TempDir(), log)
	return s, logBuf.String(), err
}

func TestOpen_ForcedFile(t *testing.T) {
	s, logged, err := openWithEnv(t, "file")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if s.Backend() != "file" {
		t.Errorf("Backend() = %q, want file", s.Backend())
	}
	for _, want := range []string{"backend=file", "forced by MODELBAR_SECRETS", "secrets.enc"} {
		if !strings.Contains(logged, want) {
			t.Errorf("log %q does not contain %q", logged, want)
		}
	}
}

func TestOpen_ForcedUnknownBackend(t *testing.T) {
	_, _, err := openWithEnv(t, "vault")
	if err == nil || !strings.Contains(err.Error(), "MODELBAR_SECRETS") {
		t.Fatalf("Open with MODELBAR_SECRETS=vault: err = %v, want an error naming the variable", err)
	}
}

func TestOpen_ForcedOtherPlatformsBackend(t *testing.T) {
	other := backendKeychain
	if nativeBackend == backendKeychain {
		other = backendSecretService
	}
	_, _, err := openWithEnv(t, other)
	if err == nil || !strings.Contains(err.Error(), "not available") {
		t.Fatalf("Open with MODELBAR_SECRETS=%s: err = %v, want not available", other, err)
	}
}
