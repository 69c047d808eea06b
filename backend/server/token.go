package server

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

// AdminToken returns the admin API token kept in <dataDir>/admin-token,
// creating it (32 random bytes, hex, mode 0600) on first start. A token file
// readable by others is tightened to 0600.
func AdminToken(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "admin-token")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createToken(path)
	}
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

// createToken writes a new token to a temporary file and links it into
// place, so a concurrent start never reads a half-written token: the loser
// of the race finds the winner's whole file and uses it.
func createToken(path string) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate admin token: %w", err)
	}
	token := hex.EncodeToString(raw)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".admin-token-*")
	if err != nil {
		return "", fmt.Errorf("create admin token: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(token + "\n")
	if serr := tmp.Sync(); werr == nil {
		werr = serr
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return "", fmt.Errorf("write admin token: %w", werr)
	}
	// CreateTemp made the file 0600.
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return AdminToken(filepath.Dir(path))
	} else if err != nil {
		return "", fmt.Errorf("create admin token: %w", err)
	}
	return token, nil
}
