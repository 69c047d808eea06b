package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// TokenFile is the admin token's file name in the data dir.
const TokenFile = "admin-token"

// TokenPath is the admin token file of dataDir.
func TokenPath(dataDir string) string { return filepath.Join(dataDir, TokenFile) }

// LoadToken returns the admin API token kept in <dataDir>/admin-token,
// creating it (32 random bytes, hex, mode 0600) on first start. A token file
// readable by others is tightened to 0600.
func LoadToken(dataDir string) (string, error) {
	token, err := ReadToken(dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return createToken(TokenPath(dataDir))
	}
	return token, err
}

// ReadToken reads the admin token without creating it; the error wraps
// fs.ErrNotExist when there is none yet. A token file readable by others is
// tightened to 0600.
func ReadToken(dataDir string) (string, error) {
	path := TokenPath(dataDir)
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read admin token: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("admin token file %s is empty: delete it and modelbar makes a new one", path)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return "", fmt.Errorf("restrict admin token file: %w", err)
		}
	}
	return token, nil
}

// RotateFile writes a new admin token to <dataDir>/admin-token, replacing
// the old one atomically (a reader sees the old file or the new one, whole).
// It is for when no modelbar runs: a running one keeps the token it loaded,
// so rotate through its admin API (Keeper.Rotate) instead.
func RotateFile(dataDir string) error {
	_, err := replaceToken(TokenPath(dataDir))
	return err
}

func newToken() string {
	raw := make([]byte, 32)
	rand.Read(raw) // never fails (crypto/rand crashes the program instead)
	return hex.EncodeToString(raw)
}

// writeTemp writes token to a new 0600 temporary file beside path, synced,
// and returns its name.
func writeTemp(path, token string) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".admin-token-*") // mode 0600
	if err != nil {
		return "", fmt.Errorf("create admin token: %w", err)
	}
	_, werr := tmp.WriteString(token + "\n")
	if serr := tmp.Sync(); werr == nil {
		werr = serr
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("write admin token: %w", werr)
	}
	return tmp.Name(), nil
}

// createToken writes a new token to a temporary file and links it into
// place, so a concurrent start never reads a half-written token: the loser
// of the race finds the winner's whole file and uses it.
func createToken(path string) (string, error) {
	token := newToken()
	tmp, err := writeTemp(path, token)
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		return ReadToken(filepath.Dir(path))
	} else if err != nil {
		return "", fmt.Errorf("create admin token: %w", err)
	}
	return token, nil
}

// replaceToken writes a new token and renames it over path, then syncs the
// directory so the rename survives a crash.
func replaceToken(path string) (string, error) {
	token := newToken()
	tmp, err := writeTemp(path, token)
	if err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("replace admin token: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return token, nil
}
