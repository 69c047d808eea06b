package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/secrets"
	"github.com/modelbar/modelbar/backend/store"
)

// storedAccount returns the secret store account provider name's row uses.
func storedAccount(t *testing.T, f *fixture, name string) string {
	t.Helper()
	p, err := f.store.GetProvider(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return p.KeyAccount
}

// crash is the panic value of a simulated crash: it unwinds the change in
// progress without running any more of it, as a SIGKILL would.
type crash struct{}

// crashPoint names a moment around a secret store call: before or after
// the first Set or Delete.
type crashPoint struct {
	op    string // "set" | "delete"
	after bool   // after the call took effect, else before it
}

// recordingSecrets wraps the real secret store: it remembers every account
// a secret was written to, and can crash at a crashPoint, fail Set, or run
// a hook before Set. For single-goroutine tests.
type recordingSecrets struct {
	secrets.Store
	written   map[string]bool
	crashAt   *crashPoint // disarmed once it fires
	failSet   error
	beforeSet func()
}

func (r *recordingSecrets) Set(ctx context.Context, account, secret string) error {
	r.written[account] = true
	if r.beforeSet != nil {
		r.beforeSet()
	}
	if r.failSet != nil {
		return r.failSet
	}
	r.maybeCrash("set", false)
	err := r.Store.Set(ctx, account, secret)
	r.maybeCrash("set", true)
	return err
}

func (r *recordingSecrets) Delete(ctx context.Context, account string) error {
	r.maybeCrash("delete", false)
	err := r.Store.Delete(ctx, account)
	r.maybeCrash("delete", true)
	return err
}

func (r *recordingSecrets) maybeCrash(op string, after bool) {
	if r.crashAt != nil && *r.crashAt == (crashPoint{op, after}) {
		r.crashAt = nil
		panic(crash{})
	}
}

func newRecordingFixture(t *testing.T) (*fixture, *recordingSecrets) {
	t.Helper()
	var rec *recordingSecrets
	f := newFixture(t, func(s secrets.Store) secrets.Store {
		rec = &recordingSecrets{Store: s, written: map[string]bool{}}
		return rec
	})
	return f, rec
}

// crashes runs fn and reports whether it stopped at a simulated crash.
func crashes(fn func()) (crashed bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(crash); !ok {
				panic(r)
			}
			crashed = true
		}
	}()
	fn()
	return false
}

// restart starts a new Service on the fixture's database and secret store,
// as modelbar does after a crash, and returns it with what it logged.
func restart(t *testing.T, f *fixture, st *store.Store) (*Service, string) {
	t.Helper()
	var logs bytes.Buffer
	reg := providers.NewRegistry()
	t.Cleanup(reg.Close)
	svc, err := New(context.Background(), st, f.secrets, reg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	svc.getenv = func(string) string { return "" }
	return svc, logs.String()
}

// checkKeys checks that every provider with a stored key serves a key that
// exists and matches its hint, that secret_gc is empty, and that no secret
// rec saw written survives unless a provider uses it.
func checkKeys(t *testing.T, svc *Service, st *store.Store, rec *recordingSecrets) {
	t.Helper()
	ctx := context.Background()
	rows, err := st.ListProviders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, p := range rows {
		if !p.HasStoredKey {
			continue
		}
		used[keyAccount(p)] = true
		key, _, err := svc.apiKey(ctx, p)
		if err != nil || key.IsZero() || secrets.Hint(key.Reveal()) != p.KeyHint {
			t.Errorf("provider %s (hint %q): key unusable or does not match its hint: %v", p.Name, p.KeyHint, err)
		}
	}
	for account := range rec.written {
		if _, err := rec.Store.Get(ctx, account); !used[account] && !errors.Is(err, secrets.ErrNotFound) {
			t.Errorf("orphaned secret %s survives: %v", account, err)
		}
	}
	if gc, err := st.ListSecretGC(ctx); err != nil || len(gc) != 0 {
		t.Errorf("secret_gc after clean-up: %v, %v; want empty", gc, err)
	}
}

// hintOf returns how provider name shows its key: "" for no key, "absent"
// when there is no such provider.
func hintOf(t *testing.T, svc *Service, name string) string {
	t.Helper()
	p, err := svc.Provider(context.Background(), name)
	switch {
	case errors.Is(err, ErrNotFound):
		return "absent"
	case err != nil:
		t.Fatal(err)
	}
	return p.APIKeyHint
}

func TestPutProvider_EachKeyGetsAFreshAccountAndTheOldOneIsDeleted(t *testing.T) {
	f, rec := newRecordingFixture(t)
	ctx := context.Background()
	mustPut(t, f, "openai", "sk-first-key-1111")
	first := storedAccount(t, f, "openai")
	mustPut(t, f, "openai", "sk-second-key-2222")
	second := storedAccount(t, f, "openai")
	if !strings.HasPrefix(first, "openai#") || !strings.HasPrefix(second, "openai#") || first == second {
		t.Errorf("key accounts %q then %q; want two different openai#<hex>", first, second)
	}
	if _, err := f.secrets.Get(ctx, first); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("replaced key still stored: %v", err)
	}
	if got, err := f.secrets.Get(ctx, second); err != nil || got != "sk-second-key-2222" {
		t.Errorf("new key not stored under %s: %v", second, err)
	}
	checkKeys(t, f.svc, f.store, rec)

	// A change that does not touch the key (nor its host) keeps its account.
	if _, _, err := f.svc.PutProvider(ctx, "openai", ProviderInput{BaseURL: ptr("https://api.openai.com/v2")}); err != nil {
		t.Fatal(err)
	}
	if got := storedAccount(t, f, "openai"); got != second {
		t.Errorf("key account changed from %s to %s without a new key", second, got)
	}

	if _, _, err := f.svc.PutProvider(ctx, "openai", ProviderInput{APIKey: ptr("")}); err != nil {
		t.Fatal(err)
	}
	if got := storedAccount(t, f, "openai"); got != "" {
		t.Errorf("key account after removal = %q, want none", got)
	}
	checkKeys(t, f.svc, f.store, rec)

	mustPut(t, f, "openai", "sk-third-key-3333")
	if err := f.svc.DeleteProvider(ctx, "openai"); err != nil {
		t.Fatal(err)
	}
	checkKeys(t, f.svc, f.store, rec)
}

// A SIGKILL at any point of a key change leaves, after the next start, the
// provider in its acknowledged state (or the one the interrupted change
// would have given it, once that change committed) with a key that exists,
// and no orphaned secret.
func TestKeyChange_CrashAtEveryStepRecoversAtStart(t *testing.T) {
	ops := []struct {
		name   string
		setup  bool // the provider exists with sk-before-1111 first
		do     func(*Service) error
		before string // hint before the change ("absent": no provider)
		after  string // hint once it committed
		sets   bool   // the change writes a new key
	}{
		{"create", false, putKey("sk-after-2222"), "absent", "2222", true},
		{"replace", true, putKey("sk-after-2222"), "1111", "2222", true},
		{"remove", true, putKey(""), "1111", "", false},
		{"delete", true, func(s *Service) error { return s.DeleteProvider(context.Background(), "openai") }, "1111", "absent", false},
	}
	points := []crashPoint{{"set", false}, {"set", true}, {"delete", false}, {"delete", true}}
	for _, op := range ops {
		for _, at := range points {
			t.Run(fmt.Sprintf("%s/%s_after=%v", op.name, at.op, at.after), func(t *testing.T) {
				f, rec := newRecordingFixture(t)
				if op.setup {
					mustPut(t, f, "openai", "sk-before-1111")
				}
				rec.crashAt = &at
				var err error
				crashed := crashes(func() { err = op.do(f.svc) })
				// A new key is Set; an old one (there is one iff setup) is Deleted.
				if reached := map[string]bool{"set": op.sets, "delete": op.setup}[at.op]; crashed != reached {
					t.Fatalf("crashed %v, want %v (err %v)", crashed, reached, err)
				}
				if !crashed && err != nil {
					t.Fatal(err)
				}
				rec.crashAt = nil
				svc, _ := restart(t, f, f.store)
				// The change commits in the transaction between the Set of the
				// new key and the Delete of the old one.
				want := op.after
				if crashed && at.op == "set" {
					want = op.before
				}
				if got := hintOf(t, svc, "openai"); got != want {
					t.Errorf("after the restart the key hint is %q, want %q (crashed: %v)", got, want, crashed)
				}
				checkKeys(t, svc, f.store, rec)
			})
		}
	}
}

func putKey(key string) func(*Service) error {
	return func(s *Service) error {
		_, _, err := s.PutProvider(context.Background(), "openai", ProviderInput{Type: ptr("openai"), APIKey: ptr(key)})
		return err
	}
}

// A crash in the middle of the start-up clean-up itself is finished by the
// next start.
func TestNew_FinishesAnInterruptedCleanUp(t *testing.T) {
	f, rec := newRecordingFixture(t)
	mustPut(t, f, "openai", "sk-before-1111")
	rec.crashAt = &crashPoint{"delete", false}
	if !crashes(func() { _ = putKey("sk-after-2222")(f.svc) }) {
		t.Fatal("no crash")
	}
	for _, at := range []crashPoint{{"delete", false}, {"delete", true}} {
		rec.crashAt = &at
		if !crashes(func() { restart(t, f, f.store) }) {
			t.Fatalf("clean-up did not reach %+v", at)
		}
	}
	svc, _ := restart(t, f, f.store)
	if got := hintOf(t, svc, "openai"); got != "2222" {
		t.Errorf("hint %q, want 2222", got)
	}
	checkKeys(t, svc, f.store, rec)
}

// The start-up clean-up logs the accounts it deleted, never a key.
func TestNew_LogsCleanedAccountsButNoKey(t *testing.T) {
	f, rec := newRecordingFixture(t)
	ctx := context.Background()
	const orphan, key = "openai#0123456789abcdef", "sk-orphaned-secret-9999"
	if err := f.store.QueueSecretGC(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	if err := f.secrets.Set(ctx, orphan, key); err != nil {
		t.Fatal(err)
	}
	svc, logs := restart(t, f, f.store)
	if !strings.Contains(logs, orphan) || strings.Contains(logs, key) || strings.Contains(logs, "9999") {
		t.Errorf("clean-up log should name %s and never the key:\n%s", orphan, logs)
	}
	checkKeys(t, svc, f.store, rec)
}

// A key that cannot be stored changes nothing and leaves nothing behind.
func TestPutProvider_SecretStoreFailureChangesNothing(t *testing.T) {
	f, rec := newRecordingFixture(t)
	mustPut(t, f, "openai", "sk-before-1111")
	rec.failSet = errors.New("keychain locked")
	if err := putKey("sk-after-2222")(f.svc); err == nil {
		t.Fatal("put succeeded although the secret store failed")
	}
	if got := hintOf(t, f.svc, "openai"); got != "1111" {
		t.Errorf("hint %q, want 1111", got)
	}
	checkKeys(t, f.svc, f.store, rec)
}

// When the database fails after the new key is stored, the previous key
// stays in use, and the new one is gone by the next start at the latest.
func TestPutProvider_DatabaseFailureKeepsThePreviousKey(t *testing.T) {
	f, rec := newRecordingFixture(t)
	mustPut(t, f, "openai", "sk-original-key-1111")
	original := storedAccount(t, f, "openai")
	rec.beforeSet = func() { f.store.Close() }
	if err := putKey("sk-replacement-key-2222")(f.svc); err == nil {
		t.Fatal("put succeeded although the database was closed")
	}
	if got, err := f.secrets.Get(context.Background(), original); err != nil || got != "sk-original-key-1111" {
		t.Errorf("key after failed update = %q, %v; want the original", got, err)
	}
	st, err := store.Open(context.Background(), filepath.Join(f.dir, "modelbar.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec.beforeSet = nil
	svc, _ := restart(t, f, st)
	if got := hintOf(t, svc, "openai"); got != "1111" {
		t.Errorf("hint %q, want 1111", got)
	}
	checkKeys(t, svc, st, rec)
}

// A clean-up in another process that claims the new account before the
// provider takes it up makes the change fail cleanly rather than leave the
// provider pointing at a deleted key.
func TestPutProvider_NewAccountClaimedByACleanUpFailsTheChange(t *testing.T) {
	f, rec := newRecordingFixture(t)
	mustPut(t, f, "openai", "sk-before-1111")
	rec.beforeSet = func() {
		if _, err := f.store.ClaimSecretGC(context.Background()); err != nil {
			t.Error(err)
		}
	}
	err := putKey("sk-after-2222")(f.svc)
	if !errors.Is(err, store.ErrAccountNotQueued) {
		t.Fatalf("put with its account claimed: %v, want ErrAccountNotQueued", err)
	}
	if strings.Contains(err.Error(), "sk-after-2222") {
		t.Error("the error quotes the key")
	}
	rec.beforeSet = nil
	if got := hintOf(t, f.svc, "openai"); got != "1111" {
		t.Errorf("hint %q, want 1111", got)
	}
	checkKeys(t, f.svc, f.store, rec)
}

// A provider keyed before key_account existed reads its key from its name,
// and a new key replaces that one.
func TestProvider_KeyStoredUnderItsNameBeforeKeyAccounts(t *testing.T) {
	f, rec := newRecordingFixture(t)
	ctx := context.Background()
	if _, err := f.store.PutProvider(ctx, store.Provider{Name: "openai", Type: "openai", BaseURL: "https://api.openai.com/v1",
		HasStoredKey: true, KeyHint: "1111"}); err != nil {
		t.Fatal(err)
	}
	if err := f.secrets.Set(ctx, "openai", "sk-legacy-key-1111"); err != nil {
		t.Fatal(err)
	}
	svc, _ := restart(t, f, f.store)
	p, _ := f.store.GetProvider(ctx, "openai")
	if key, _, err := svc.apiKey(ctx, p); err != nil || key.Reveal() != "sk-legacy-key-1111" {
		t.Fatalf("legacy key not read from the provider's name: %v", err)
	}
	if err := putKey("sk-after-2222")(svc); err != nil {
		t.Fatal(err)
	}
	if _, err := f.secrets.Get(ctx, "openai"); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("legacy key outlived its replacement: %v", err)
	}
	checkKeys(t, svc, f.store, rec)
	if diff := cmp.Diff("2222", hintOf(t, svc, "openai")); diff != "" {
		t.Errorf("hint (-want +got):\n%s", diff)
	}
}
