//go:build linux

package secrets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	dbus "github.com/keybase/dbus"
	ss "github.com/keybase/go-keychain/secretservice"
)

// nativeBackend is the OS secret store Open tries before the file.
const nativeBackend = backendSecretService

// secretServiceTimeout bounds connecting to the session bus, opening a
// session and the probe search in openSecretService.
const secretServiceTimeout = time.Second

// userRuntimeDir is where a systemd user session puts its bus socket
// ("bus"); a variable so tests can point it at an empty directory.
var userRuntimeDir = func() string { return "/run/user/" + strconv.Itoa(os.Getuid()) }

func openNative(ctx context.Context) (Store, error) { return openSecretService(ctx) }

// secretService is a Store on the freedesktop Secret Service (gnome-keyring,
// KWallet, KeePassXC) through the default collection. Items are labelled
// "modelbar: <account>" with attributes service=modelbar, account=<account>.
//
// The library's calls are not safe for concurrent use and ignore contexts, so
// every call runs alone (sem) on its own goroutine: a caller whose ctx ends
// stops waiting, and the call finishes in the background before the next one
// starts. An unlock prompt waits at most 30s (the library's limit).
type secretService struct {
	sem     chan struct{} // one token; held for the whole of a D-Bus exchange
	srv     *ss.SecretService
	session *ss.Session // DH-AES: secrets cross the bus encrypted; replaced (under sem) when its key does not match the service's
}

var _ Store = (*secretService)(nil)

// openSecretService connects to the session bus, opens a DH-AES session and
// checks that the default collection answers, all within secretServiceTimeout.
// It never autolaunches a bus: with no DBUS_SESSION_BUS_ADDRESS and no
// user bus socket it fails at once. If it times out, the goroutine doing the
// work is left to finish on its own (the library has no way to cancel it).
func openSecretService(ctx context.Context) (*secretService, error) {
	if err := sessionBusKnown(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, secretServiceTimeout)
	defer cancel()
	type result struct {
		s   *secretService
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := dialSecretService()
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		return r.s, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("secret service: no answer within %s: %w", secretServiceTimeout, ctx.Err())
	}
}

// sessionBusKnown reports whether the library would find a session bus
// without running dbus-launch, which would start a stray bus (and set
// DBUS_SESSION_BUS_ADDRESS in this process).
func sessionBusKnown() error {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return nil
	}
	dir := userRuntimeDir()
	for _, name := range []string{"bus", "dbus-session"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return nil
		}
	}
	return errors.New("secret service: no session bus (DBUS_SESSION_BUS_ADDRESS is unset)")
}

func dialSecretService() (*secretService, error) {
	srv, err := ss.NewService()
	if err != nil {
		return nil, fmt.Errorf("secret service: %w", err)
	}
	srv.SetSessionOpenTimeout(secretServiceTimeout)
	session, err := srv.OpenSession(ss.AuthenticationDHAES)
	if err != nil {
		return nil, fmt.Errorf("secret service: open session: %w", err)
	}
	if _, err := srv.SearchCollection(ss.DefaultCollection, ss.Attributes{"service": Service}); err != nil {
		srv.CloseSession(session)
		return nil, fmt.Errorf("secret service: default collection: %w", err)
	}
	return &secretService{sem: make(chan struct{}, 1), srv: srv, session: session}, nil
}

// Backend returns "secret-service".
func (s *secretService) Backend() string { return backendSecretService }

// Get returns the secret for account, or an error wrapping ErrNotFound.
func (s *secretService) Get(ctx context.Context, account string) (string, error) {
	if err := checkAccount("get", account); err != nil {
		return "", err
	}
	var secret string
	err := s.do(ctx, func() error {
		items, err := s.find(account)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return ErrNotFound
		}
		return s.withSession(func(session *ss.Session) error {
			b, err := s.srv.GetSecret(items[0], *session)
			if err != nil {
				return err
			}
			if !readable(b) {
				return errUnreadableSecret
			}
			secret = string(b)
			return nil
		})
	})
	if err != nil {
		return "", fmt.Errorf("get secret for %q: %w", account, err)
	}
	return secret, nil
}

// Set stores secret for account, replacing any previous one.
func (s *secretService) Set(ctx context.Context, account, secret string) error {
	if err := checkSet(account, secret); err != nil {
		return err
	}
	if !readable([]byte(secret)) { // what Get could not tell from a wrong key's noise
		return fmt.Errorf("set secret for %q: the Secret Service store takes text without NUL bytes", account)
	}
	err := s.do(ctx, func() error {
		if err := s.srv.Unlock([]dbus.ObjectPath{ss.DefaultCollection}); err != nil {
			return err
		}
		var item dbus.ObjectPath
		err := s.withSession(func(session *ss.Session) error {
			enc, err := session.NewSecret([]byte(secret))
			if err != nil {
				return err
			}
			props := ss.NewSecretProperties("modelbar: "+account, attributes(account))
			item, err = s.srv.CreateItem(ss.DefaultCollection, props, enc, ss.ReplaceBehaviorReplace)
			return err
		})
		if err != nil {
			return err
		}
		return s.deleteAll(account, item) // in case the service did not replace
	})
	if err != nil {
		return fmt.Errorf("set secret for %q: %w", account, err)
	}
	return nil
}

// Delete removes the secret for account; it is not an error if there is none.
func (s *secretService) Delete(ctx context.Context, account string) error {
	if err := checkAccount("delete", account); err != nil {
		return err
	}
	err := s.do(ctx, func() error {
		if err := s.srv.Unlock([]dbus.ObjectPath{ss.DefaultCollection}); err != nil {
			return err
		}
		return s.deleteAll(account, "")
	})
	if err != nil {
		return fmt.Errorf("delete secret for %q: %w", account, err)
	}
	return nil
}

// errUnreadableSecret: the library could not decrypt what the service sent.
var errUnreadableSecret = errors.New("secret service returned a secret this session cannot read")

// readable reports whether b, the library's decryption of a secret, is
// one: it returns nil when the padding is wrong, but with a wrong key the
// padding checks out by chance about one time in 128 (its unpadding takes
// a last byte of 0 as no padding at all), and then it returns noise. The
// secrets modelbar stores are text: never empty, valid UTF-8, no NUL (a
// last byte of 0 is never real padding, so that noise always ends in one).
func readable(b []byte) bool {
	return len(b) > 0 && utf8.Valid(b) && bytes.IndexByte(b, 0) < 0
}

// withSession runs op with the session, and once more with a new session
// when the two ends do not share a key. The library derives the session
// key from the Diffie-Hellman secret without its leading zero bytes, and
// the service with them, so about one session in 256 cannot carry a
// secret either way: gnome-keyring refuses what it sends ("The secret was
// transferred or encrypted in an invalid way") and what it receives does
// not decrypt. A new session has a new key pair. Called inside do.
func (s *secretService) withSession(op func(*ss.Session) error) error {
	err := op(s.session)
	if !sessionKeyMismatch(err) {
		return err
	}
	session, oerr := s.srv.OpenSession(ss.AuthenticationDHAES)
	if oerr != nil {
		return errors.Join(err, fmt.Errorf("open a new session: %w", oerr))
	}
	s.srv.CloseSession(s.session)
	s.session = session
	return op(s.session)
}

// sessionKeyMismatch reports whether err says the service and this
// session do not share a key.
func sessionKeyMismatch(err error) bool {
	return err != nil && (errors.Is(err, errUnreadableSecret) || strings.Contains(err.Error(), "encrypted in an invalid way"))
}

// find unlocks the default collection and returns the account's items.
func (s *secretService) find(account string) ([]dbus.ObjectPath, error) {
	if err := s.srv.Unlock([]dbus.ObjectPath{ss.DefaultCollection}); err != nil {
		return nil, err
	}
	return s.srv.SearchCollection(ss.DefaultCollection, attributes(account))
}

// deleteAll deletes the account's items except keep.
func (s *secretService) deleteAll(account string, keep dbus.ObjectPath) error {
	items, err := s.srv.SearchCollection(ss.DefaultCollection, attributes(account))
	if err != nil {
		return err
	}
	for _, item := range items {
		if item == keep {
			continue
		}
		if err := s.srv.DeleteItem(item); err != nil {
			return err
		}
	}
	return nil
}

// do runs fn alone, on its own goroutine, and returns early if ctx ends;
// fn does not start once ctx has ended.
func (s *secretService) do(ctx context.Context, fn func() error) error {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := ctx.Err(); err != nil {
		<-s.sem
		return err
	}
	done := make(chan error, 1)
	go func() {
		defer func() { <-s.sem }()
		done <- fn()
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func attributes(account string) ss.Attributes {
	return ss.Attributes{"service": Service, "account": account}
}
