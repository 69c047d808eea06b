// Package secrets keeps provider API keys in the OS secret store, or an encrypted file when there is none.
//
// Secrets never reach the database, a log line or an error message: errors
// name the account (the provider) and the operation, never the value.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
)

// ErrNotFound is wrapped by Store.Get when no secret is stored for the account.
var ErrNotFound = errors.New("secret not found")

// ErrUnreadable is wrapped by the file backend's Get and Delete when
// secrets.enc cannot be read back: it is not the envelope modelbar writes,
// it was truncated or tampered with, or it was encrypted with another
// secrets.key. The secrets it held are lost to this key; File.Set recovers
// by moving the file aside and starting a new one. A file of a newer format
// version is not unreadable in this sense (its error does not wrap
// ErrUnreadable): a newer modelbar can read it, so it is refused and kept.
var ErrUnreadable = errors.New("secrets file unreadable")

// Store holds one secret per account (modelbar uses "<provider>#<random hex>",
// a fresh account for each key, see config). Safe for concurrent use.
//
// Methods may block on the OS secret store, which can show the user an unlock
// prompt; ctx is checked before the store is touched and, where the backend
// allows, bounds the wait. An empty account is an error; so is Set with an
// empty secret (use Delete).
type Store interface {
	Get(ctx context.Context, account string) (string, error) // wraps ErrNotFound when absent
	Set(ctx context.Context, account, secret string) error   // create or replace
	Delete(ctx context.Context, account string) error        // nil when absent
	Backend() string                                         // "keychain" | "secret-service" | "file"
}

// Service is the keychain service and the Secret Service "service" attribute of every item.
const Service = "modelbar"

// Backend names, as returned by Store.Backend and accepted by MODELBAR_SECRETS.
const (
	backendKeychain      = "keychain"
	backendSecretService = "secret-service"
	backendFile          = "file"
)

// envBackend forces a backend; see Open.
const envBackend = "MODELBAR_SECRETS"

// Open picks the backend: env MODELBAR_SECRETS=keychain|secret-service|file forces one (error if unavailable);
// otherwise keychain on darwin, secret-service on linux when a session bus answers and the service opens a session
// within ~1s, else the file backend in dataDir. It logs (slog) which one and, for a fallback, why — never a secret.
// A nil log discards.
func Open(ctx context.Context, dataDir string, log *slog.Logger) (Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch want := os.Getenv(envBackend); want {
	case "":
		return openDefault(ctx, dataDir, log)
	case backendFile:
		return openFile(ctx, dataDir, log, slog.LevelInfo, "forced by "+envBackend)
	case backendKeychain, backendSecretService:
		if want != nativeBackend {
			return nil, fmt.Errorf("open secrets: %s=%s: not available on %s", envBackend, want, runtime.GOOS)
		}
		s, err := openNative(ctx)
		if err != nil {
			return nil, fmt.Errorf("open secrets: %s=%s: %w", envBackend, want, err)
		}
		log.InfoContext(ctx, "secrets backend", "backend", s.Backend(), "reason", "forced by "+envBackend)
		return s, nil
	default:
		return nil, fmt.Errorf("open secrets: %s=%q: want keychain, secret-service or file", envBackend, want)
	}
}

// openDefault tries the platform's secret store and falls back to the file.
func openDefault(ctx context.Context, dataDir string, log *slog.Logger) (Store, error) {
	if nativeBackend == "" {
		return openFile(ctx, dataDir, log, slog.LevelInfo, "no OS secret store supported on "+runtime.GOOS)
	}
	s, err := openNative(ctx)
	if err == nil {
		log.InfoContext(ctx, "secrets backend", "backend", s.Backend())
		return s, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("open secrets: %w", ctx.Err())
	}
	return openFile(ctx, dataDir, log, slog.LevelWarn, nativeBackend+" unavailable: "+err.Error())
}

// openFile opens the file backend and logs why at level: Warn when an OS
// secret store was expected but failed.
func openFile(ctx context.Context, dataDir string, log *slog.Logger, level slog.Level, reason string) (Store, error) {
	f, err := newFile(dataDir, log)
	if err != nil {
		return nil, fmt.Errorf("open secrets: %w", err)
	}
	log.Log(ctx, level, "secrets backend", "backend", backendFile, "path", filepath.Join(dataDir, fileName), "reason", reason)
	return f, nil
}

// Hint returns the last 4 characters of a key for display, as the admin
// API promises, or "" for a key of 4 characters or fewer (the hint would be
// the whole key). Characters are runes, so a multi-byte key is never cut
// inside a character.
func Hint(key string) string {
	r := []rune(key)
	if len(r) <= 4 {
		return ""
	}
	return string(r[len(r)-4:])
}

var (
	errEmptyAccount = errors.New("empty account")
	errEmptySecret  = errors.New("empty secret (use Delete to remove one)")
)

// checkAccount validates the account of every operation.
func checkAccount(op, account string) error {
	if account == "" {
		return fmt.Errorf("%s secret: %w", op, errEmptyAccount)
	}
	return nil
}

// checkSet validates the arguments of Set.
func checkSet(account, secret string) error {
	if err := checkAccount("set", account); err != nil {
		return err
	}
	if secret == "" {
		return fmt.Errorf("set secret for %q: %w", account, errEmptySecret)
	}
	return nil
}
