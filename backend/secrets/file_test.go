package secrets

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func newTestFile(t *testing.T, dir string) *File {
	t.Helper()
	f, err := NewFile(dir)
	if err != nil {
		t.Fatalf("NewFile: %v", err)
	}
	return f
}

func mustSet(t *testing.T, s Store, account, secret string) {
	t.Helper()
	if err := s.Set(context.Background(), account, secret); err != nil {
		t.Fatalf("Set(%q): %v", account, err)
	}
}

func mustGet(t *testing.T, s Store, account, want string) {
	t.Helper()
	got, err := s.Get(context.Background(), account)
	if err != nil {
		t.Fatalf("Get(%q): %v", account, err)
	}
	if got != want {
		t.Fatalf("Get(%q) = %q, want %q", account, got, want)
	}
}

func mustBeAbsent(t *testing.T, s Store, account string) {
	t.Helper()
	got, err := s.Get(context.Background(), account)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", account, got, err)
	}
}

// testRoundTrip is the contract every Store keeps.
func testRoundTrip(t *testing.T, s Store, account string) {
	ctx := context.Background()
	mustBeAbsent(t, s, account)
	mustSet(t, s, account, "sk-first-0123456789")
	mustGet(t, s, account, "sk-first-0123456789")
	mustSet(t, s, account, "sk-second-9876543210")
	mustGet(t, s, account, "sk-second-9876543210")
	if err := s.Delete(ctx, account); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustBeAbsent(t, s, account)
	if err := s.Delete(ctx, account); err != nil {
		t.Fatalf("Delete of absent account: %v", err)
	}
	if err := s.Set(ctx, "", "x"); !errors.Is(err, errEmptyAccount) {
		t.Errorf("Set with empty account: err = %v", err)
	}
	if err := s.Set(ctx, account, ""); !errors.Is(err, errEmptySecret) {
		t.Errorf("Set with empty secret: err = %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Get(canceled, account); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with canceled context: err = %v", err)
	}
}

func TestFile_RoundTrip(t *testing.T) {
	f := newTestFile(t, t.TempDir())
	if f.Backend() != "file" {
		t.Errorf("Backend() = %q", f.Backend())
	}
	testRoundTrip(t, f, "openai")
}

func TestFile_PersistsAcrossInstances(t *testing.T) {
	dir := t.TempDir()
	mustSet(t, newTestFile(t, dir), "openai", "sk-openai-0123456789")
	mustSet(t, newTestFile(t, dir), "anthropic", "sk-ant-0123456789")
	f := newTestFile(t, dir)
	mustGet(t, f, "openai", "sk-openai-0123456789")
	mustGet(t, f, "anthropic", "sk-ant-0123456789")
}

func TestFile_ModesAndNoStrayFiles(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes on windows")
	}
	dir := filepath.Join(t.TempDir(), "data")
	f := newTestFile(t, dir)
	mustSet(t, f, "openai", "sk-openai-0123456789")
	mustSet(t, f, "groq", "gsk-0123456789")
	if err := f.Delete(context.Background(), "groq"); err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{".": 0o700, fileName: 0o600, keyName: 0o600}
	got := map[string]fs.FileMode{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		got[rel] = info.Mode().Perm()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files and modes (-want +got):\n%s", diff)
	}
	if key, _ := os.ReadFile(filepath.Join(dir, keyName)); len(key) != 32 {
		t.Errorf("key has %d bytes, want 32", len(key))
	}
}

func TestFile_NoPlaintextOnDisk(t *testing.T) {
	dir := t.TempDir()
	f := newTestFile(t, dir)
	secrets := []string{"sk-openai-PLAINTEXT-0123456789", "sk-ant-PLAINTEXT-abcdefghij"}
	for i, s := range secrets {
		mustSet(t, f, fmt.Sprint("provider", i), s)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s contains a secret in plaintext", e.Name())
			}
		}
	}
}

func TestFile_ConcurrentSetLosesNothing(t *testing.T) {
	dir := t.TempDir()
	f1, f2 := newTestFile(t, dir), newTestFile(t, dir) // two instances share the lock
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		f := f1
		if i%2 == 1 {
			f = f2
		}
		wg.Go(func() {
			errs <- f.Set(context.Background(), fmt.Sprint("acct", i), fmt.Sprint("secret-value-", i))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Set: %v", err)
		}
	}
	f := newTestFile(t, dir)
	m, err := f.load()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := range n {
		want[fmt.Sprint("acct", i)] = fmt.Sprint("secret-value-", i)
	}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("stored secrets (-want +got):\n%s", diff)
	}
}

// rewriteEnvelope decodes secrets.enc in dir, lets change edit it and writes it back.
func rewriteEnvelope(change func(*envelope)) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		path := filepath.Join(dir, fileName)
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var env envelope
		if err := json.Unmarshal(raw, &env); err != nil {
			t.Fatal(err)
		}
		change(&env)
		raw, err = json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, path, raw)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// sealPayload writes secrets.enc in dir as a valid envelope around plain,
// encrypted with dir's key: a file that decrypts to something malformed.
func sealPayload(plain string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		f := newTestFile(t, dir)
		nonce := make([]byte, f.aead.NonceSize())
		rand.Read(nonce)
		raw, err := json.Marshal(envelope{V: fileVersion, Nonce: nonce, Data: f.aead.Seal(nil, nonce, []byte(plain), fileAAD)})
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, fileName), raw)
	}
}

// unreadableCases corrupt the secrets.enc of a directory holding the
// secret corruptSecret in a way that makes it unreadable (ErrUnreadable);
// want is in the error.
const corruptSecret = "sk-corrupt-test-0123456789"

var unreadableCases = []struct {
	name    string
	corrupt func(t *testing.T, dir string)
	want    string
}{
	{"not json", func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, fileName), []byte("garbage")) }, "corrupt"},
	{"truncated", func(t *testing.T, dir string) {
		raw, _ := os.ReadFile(filepath.Join(dir, fileName))
		writeFile(t, filepath.Join(dir, fileName), raw[:len(raw)/2])
	}, "corrupt"},
	{"flipped data byte", rewriteEnvelope(func(e *envelope) { e.Data[3] ^= 1 }), "cannot decrypt"},
	{"flipped nonce byte", rewriteEnvelope(func(e *envelope) { e.Nonce[0] ^= 1 }), "cannot decrypt"},
	{"short nonce", rewriteEnvelope(func(e *envelope) { e.Nonce = e.Nonce[:4] }), "nonce"},
	{"wrong key", func(t *testing.T, dir string) {
		key := make([]byte, 32)
		rand.Read(key)
		writeFile(t, filepath.Join(dir, keyName), key)
	}, "cannot decrypt"},
	// The decrypted bytes quote the secret: the error must not.
	{"malformed payload", sealPayload(`{"secrets":{"openai":"` + corruptSecret + `"`), "malformed"},
	{"payload of the wrong shape", sealPayload(`{"secrets":["` + corruptSecret + `"]}`), "malformed"},
}

// An unreadable file fails Get and Delete with ErrUnreadable and is left
// as it is; Set moves it aside (mode 0600), logs a warning naming both
// files, and starts a new file that holds only the new secret.
func TestFile_UnreadableFileIsAnErrorUntilSetMovesItAside(t *testing.T) {
	for _, tt := range unreadableCases {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			mustSet(t, newTestFile(t, dir), "openai", corruptSecret)
			tt.corrupt(t, dir)
			before := snapshot(t, dir)
			var logBuf bytes.Buffer
			f, err := newFile(dir, slog.New(slog.NewTextHandler(&logBuf, nil)))
			if err != nil {
				t.Fatalf("newFile: %v", err)
			}

			_, err = f.Get(ctx, "openai")
			checkUnreadable(t, "Get", err, tt.want)
			checkUnreadable(t, "Delete", f.Delete(ctx, "openai"), tt.want)
			if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
				t.Fatalf("data dir changed by Get or Delete (-before +after):\n%s", diff)
			}

			mustSet(t, f, "other", "sk-other-0123456789")
			mustGet(t, f, "other", "sk-other-0123456789")
			mustBeAbsent(t, f, "openai")
			aside := checkMovedAside(t, dir, before[fileName])
			logged := logBuf.String()
			if !strings.Contains(logged, "level=WARN") || !strings.Contains(logged, aside) || strings.Contains(logged, corruptSecret) {
				t.Errorf("log should warn naming %s and never the secret:\n%s", aside, logged)
			}
		})
	}
}

// checkUnreadable checks that err wraps ErrUnreadable, says want and does
// not quote corruptSecret.
func checkUnreadable(t *testing.T, op string, err error, want string) {
	t.Helper()
	checkErr(t, op, err, want, corruptSecret)
	if !errors.Is(err, ErrUnreadable) {
		t.Errorf("%s: %v does not wrap ErrUnreadable", op, err)
	}
}

// checkMovedAside checks that dir holds exactly one moved-aside file, with
// contents old and mode 0600, and returns its path.
func checkMovedAside(t *testing.T, dir, old string) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(dir, fileName+".corrupt-*"))
	if len(matches) != 1 {
		t.Fatalf("moved-aside files: %v, want one", matches)
	}
	if b, _ := os.ReadFile(matches[0]); string(b) != old {
		t.Errorf("%s does not hold the unreadable file's bytes", matches[0])
	}
	if fi, err := os.Stat(matches[0]); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Errorf("moved-aside file: %v, %v; want mode 0600", fi, err)
	}
	if _, err := time.Parse(asideLayout, strings.TrimPrefix(filepath.Base(matches[0]), fileName+".corrupt-")); err != nil {
		t.Errorf("moved-aside name %s does not end in a UTC time: %v", matches[0], err)
	}
	return matches[0]
}

// A second unreadable file moved aside in the same second gets a name of
// its own: an earlier moved-aside file is never replaced.
func TestFile_MovingAsideNeverReplacesAnEarlierFile(t *testing.T) {
	dir := t.TempDir()
	f := newTestFile(t, dir)
	var contents []string
	for i := range 3 {
		garbage := fmt.Sprintf("garbage %d", i)
		writeFile(t, filepath.Join(dir, fileName), []byte(garbage))
		contents = append(contents, garbage)
		mustSet(t, f, "openai", fmt.Sprintf("sk-openai-000%d-abcdef", i))
	}
	matches, _ := filepath.Glob(filepath.Join(dir, fileName+".corrupt-*"))
	var got []string
	for _, m := range matches {
		b, _ := os.ReadFile(m)
		got = append(got, string(b))
	}
	sort.Strings(got)
	if diff := cmp.Diff(contents, got); diff != "" {
		t.Errorf("moved-aside contents (-want +got):\n%s", diff)
	}
	mustGet(t, f, "openai", "sk-openai-0002-abcdef")
}

// A file of a newer format version, or one whose key is unusable, is
// refused by every operation and nothing in the data dir changes: a newer
// modelbar can still read it.
func TestFile_NewerFormatOrBadKeyIsRefusedAndKept(t *testing.T) {
	tests := []struct {
		name       string
		corrupt    func(t *testing.T, dir string)
		newFileErr bool   // NewFile fails rather than Get
		want       string // in the error
	}{
		{"unknown version", rewriteEnvelope(func(e *envelope) { e.V = 2 }), false, "format version 2"},
		{"short key", func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, keyName), make([]byte, 16)) }, true, "16 bytes"},
		{"missing key", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, keyName)) }, true, "refusing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			mustSet(t, newTestFile(t, dir), "openai", corruptSecret)
			tt.corrupt(t, dir)
			before := snapshot(t, dir)

			f, err := NewFile(dir)
			if tt.newFileErr {
				checkErr(t, "NewFile", err, tt.want, corruptSecret)
			} else {
				if err != nil {
					t.Fatalf("NewFile: %v", err)
				}
				_, err = f.Get(context.Background(), "openai")
				checkErr(t, "Get", err, tt.want, corruptSecret)
				err = f.Set(context.Background(), "other", "sk-other-0123456789")
				checkErr(t, "Set", err, tt.want, corruptSecret)
				if errors.Is(err, ErrUnreadable) {
					t.Errorf("Set: %v wraps ErrUnreadable", err)
				}
				checkErr(t, "Delete", f.Delete(context.Background(), "openai"), tt.want, corruptSecret)
			}
			if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
				t.Errorf("data dir changed after the error (-before +after):\n%s", diff)
			}
		})
	}
}

func checkErr(t *testing.T, op string, err error, want, secret string) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s: no error, want one containing %q", op, want)
	case errors.Is(err, ErrNotFound):
		t.Errorf("%s: %v wraps ErrNotFound", op, err)
	case !strings.Contains(err.Error(), want):
		t.Errorf("%s: error %q does not contain %q", op, err, want)
	case strings.Contains(err.Error(), secret):
		t.Errorf("%s: error leaks the secret", op)
	}
}

// snapshot returns every file in dir with its contents.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(b)
	}
	return m
}

func TestFile_FormatIsVersionedEnvelope(t *testing.T) {
	dir := t.TempDir()
	mustSet(t, newTestFile(t, dir), "openai", "sk-openai-0123456789")
	raw, err := os.ReadFile(filepath.Join(dir, fileName))
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatalf("secrets.enc is not a JSON object: %v", err)
	}
	var keys []string
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if diff := cmp.Diff([]string{"data", "nonce", "v"}, keys); diff != "" {
		t.Errorf("envelope fields (-want +got):\n%s", diff)
	}
	if string(fields["v"]) != "1" {
		t.Errorf("v = %s, want 1", fields["v"])
	}
}
