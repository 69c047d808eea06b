//go:build linux

package secrets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// requireSecretService opens the Secret Service on the session bus, skipping
// the test when there is none unless MODELBAR_TEST_SECRET_SERVICE=1.
func requireSecretService(t *testing.T) *secretService {
	t.Helper()
	s, err := openSecretService(context.Background())
	if err == nil {
		return s
	}
	if os.Getenv("MODELBAR_TEST_SECRET_SERVICE") == "1" {
		t.Fatalf("MODELBAR_TEST_SECRET_SERVICE=1 but the Secret Service is unreachable: %v", err)
	}
	t.Skipf("no Secret Service (org.freedesktop.secrets) on a session bus: %v; "+
		"run under dbus-run-session with gnome-keyring (see PLATFORM.md), MODELBAR_TEST_SECRET_SERVICE=1 makes this test mandatory", err)
	return nil
}

// testAccount returns an account no real modelbar uses and deletes it after the test.
func testAccount(t *testing.T, s Store, name string) string {
	account := fmt.Sprintf("modelbar-test-%s-%d", name, time.Now().UnixNano())
	t.Cleanup(func() { _ = s.Delete(context.Background(), account) })
	return account
}

func TestSecretService_RoundTrip(t *testing.T) {
	s := requireSecretService(t)
	if s.Backend() != "secret-service" {
		t.Errorf("Backend() = %q", s.Backend())
	}
	account := testAccount(t, s, "roundtrip")
	testRoundTrip(t, s, account)

	// Replacing leaves one item, labelled and attributed as documented.
	mustSet(t, s, account, "sk-one-0123456789")
	mustSet(t, s, account, "sk-two-0123456789")
	items, err := s.srv.SearchCollection("/org/freedesktop/secrets/aliases/default", attributes(account))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 {
		t.Fatalf("%d items for %s after replace, want 1", len(items), account)
	}
	attrs, err := s.srv.GetAttributes(items[0])
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"service": "modelbar", "account": account} {
		if attrs[k] != want {
			t.Errorf("attribute %s = %q, want %q", k, attrs[k], want)
		}
	}
	label, err := s.srv.Obj(items[0]).GetProperty("org.freedesktop.Secret.Item.Label")
	if err != nil {
		t.Fatal(err)
	}
	if got := label.Value(); got != "modelbar: "+account {
		t.Errorf("label = %v, want %q", got, "modelbar: "+account)
	}
}

func TestSecretService_ConcurrentUse(t *testing.T) {
	s := requireSecretService(t)
	const n = 8
	accounts := make([]string, n)
	for i := range accounts {
		accounts[i] = testAccount(t, s, fmt.Sprint("concurrent", i))
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, account := range accounts {
		wg.Go(func() {
			secret := fmt.Sprint("sk-concurrent-value-", i)
			if err := s.Set(context.Background(), account, secret); err != nil {
				errs[i] = err
				return
			}
			got, err := s.Get(context.Background(), account)
			if err == nil && got != secret {
				err = fmt.Errorf("Get = %q, want %q", got, secret)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if diff := cmp.Diff(make([]error, n), errs, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestSecretService_OpenPicksIt(t *testing.T) {
	requireSecretService(t)
	t.Setenv(envBackend, "")
	var logBuf bytes.Buffer
	s, err := Open(context.Background(), t.TempDir(), slog.New(slog.NewTextHandler(&logBuf, nil)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if s.Backend() != "secret-service" {
		t.Fatalf("Backend() = %q, want secret-service; log: %s", s.Backend(), logBuf.String())
	}
	if !strings.Contains(logBuf.String(), "backend=secret-service") {
		t.Errorf("log %q does not name the backend", logBuf.String())
	}
	t.Setenv(envBackend, "secret-service")
	if s, err := Open(context.Background(), t.TempDir(), nil); err != nil || s.Backend() != "secret-service" {
		t.Errorf("Open with MODELBAR_SECRETS=secret-service = %v, %v", s, err)
	}
}

// noSessionBus makes the session bus undiscoverable for the test.
func noSessionBus(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	os.Unsetenv("DBUS_SESSION_BUS_ADDRESS")
	empty := t.TempDir()
	old := userRuntimeDir
	userRuntimeDir = func() string { return empty }
	t.Cleanup(func() { userRuntimeDir = old })
}

// deadBusAddress returns a D-Bus address where nothing listens any more.
func deadBusAddress(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "bus")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	return "unix:path=" + path
}

func TestOpen_WithoutSessionBusPicksFileQuickly(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T)
		why   string // in the log
	}{
		{"unset address", noSessionBus, "no session bus"},
		{"dead bus", func(t *testing.T) { t.Setenv("DBUS_SESSION_BUS_ADDRESS", deadBusAddress(t)) }, "secret-service unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup(t)
			t.Setenv(envBackend, "")
			var logBuf bytes.Buffer
			start := time.Now()
			s, err := Open(context.Background(), t.TempDir(), slog.New(slog.NewJSONHandler(&logBuf, nil)))
			elapsed := time.Since(start)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if s.Backend() != "file" {
				t.Fatalf("Backend() = %q, want file", s.Backend())
			}
			if elapsed > 500*time.Millisecond {
				t.Errorf("Open took %s, want it quick", elapsed)
			}
			if !strings.Contains(logBuf.String(), tt.why) || !strings.Contains(logBuf.String(), `"backend":"file"`) {
				t.Errorf("log %s does not say file because %q", logBuf.String(), tt.why)
			}
		})
	}
}

func TestOpen_ForcedSecretServiceWithoutBusFails(t *testing.T) {
	noSessionBus(t)
	t.Setenv(envBackend, "secret-service")
	s, err := Open(context.Background(), t.TempDir(), nil)
	if err == nil {
		t.Fatalf("Open = %s backend, want an error", s.Backend())
	}
	if !strings.Contains(err.Error(), "MODELBAR_SECRETS=secret-service") {
		t.Errorf("error %q does not name the forced backend", err)
	}
}

func TestSecretService_CanceledContext(t *testing.T) {
	s := requireSecretService(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Set(ctx, testAccount(t, s, "canceled"), "sk-canceled-0123456789"); !errors.Is(err, context.Canceled) {
		t.Errorf("Set with canceled ctx: err = %v", err)
	}
}

// A session whose key does not match the service's (the library drops the
// shared secret's leading zero bytes, so one session in 256 is such) is
// replaced, and the call succeeds: a keyring that works for one start of
// modelbar works for every start.
func TestSecretService_RenewsAMismatchedSession(t *testing.T) {
	s := requireSecretService(t)
	account := testAccount(t, s, "rekey")
	mismatch := func() {
		key := bytes.Clone(s.session.AESKey)
		key[0] ^= 0xff // what a key derived from the wrong bytes is: another key
		s.session.AESKey = key
	}
	mismatch()
	mustSet(t, s, account, "sk-rekeyed-0123456789")
	mismatch()
	got, err := s.Get(context.Background(), account)
	if err != nil || got != "sk-rekeyed-0123456789" {
		t.Fatalf("Get after a mismatched session = %q, %v", got, err)
	}
}

// readable tells a secret from the noise a wrong session key decrypts to
// when the library's unpadding lets it through.
func TestReadable(t *testing.T) {
	for _, tt := range []struct {
		in   []byte
		want bool
	}{
		{[]byte("sk-0123456789"), true},
		{[]byte("clé-ünïcode"), true},
		{nil, false},
		{[]byte{}, false},
		{[]byte("sk-\x00"), false},
		{[]byte{0x63, 0x12, 0x68, 0xe5, 0x61, 0x84, 0x00, 0x76}, false}, // noise seen in a run
		{[]byte{0xff, 0xfe, 0x41}, false},
	} {
		if got := readable(tt.in); got != tt.want {
			t.Errorf("readable(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
