package store_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/store"
)

func mustQueue(t *testing.T, s *store.Store, accounts ...string) {
	t.Helper()
	for _, a := range accounts {
		if err := s.QueueSecretGC(t.Context(), a); err != nil {
			t.Fatal(err)
		}
	}
}

func wantGC(t *testing.T, s *store.Store, want ...string) {
	t.Helper()
	got, err := s.ListSecretGC(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want == nil {
		want = []string{}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("secret_gc (-want +got):\n%s", diff)
	}
}

func keyed(account, hint string) store.Provider {
	return store.Provider{Name: "acme", Type: "openai", HasStoredKey: account != "", KeyHint: hint, KeyAccount: account}
}

// Each write that changes a provider's key account takes the new one off
// the queue and queues the old one, in the same transaction.
func TestPutProvider_SwapsKeyAccountsThroughSecretGC(t *testing.T) {
	s, _ := newStore(t)
	mustQueue(t, s, "acme#1")
	mustPutProvider(t, s, keyed("acme#1", "1111"))
	wantGC(t, s)

	mustQueue(t, s, "acme#2")
	mustPutProvider(t, s, keyed("acme#2", "2222"))
	wantGC(t, s, "acme#1")
	got, err := s.GetProvider(t.Context(), "acme")
	if err != nil || got.KeyAccount != "acme#2" || got.KeyHint != "2222" {
		t.Errorf("provider after key change: %+v, %v", got, err)
	}

	mustPutProvider(t, s, keyed("acme#2", "2222")) // same account: no change
	wantGC(t, s, "acme#1")
	mustPutProvider(t, s, keyed("", "")) // key removed
	wantGC(t, s, "acme#1", "acme#2")
}

// A provider cannot start using an account that is not queued: its secret
// could be deleted by a cleanup that does not know about it. The refused
// write changes nothing.
func TestPutProvider_RefusesUnqueuedKeyAccount(t *testing.T) {
	s, _ := newStore(t)
	mustQueue(t, s, "acme#1")
	mustPutProvider(t, s, keyed("acme#1", "1111"))

	_, err := s.PutProvider(t.Context(), keyed("acme#2", "2222"))
	if !errors.Is(err, store.ErrAccountNotQueued) {
		t.Fatalf("PutProvider with an unqueued account: %v, want ErrAccountNotQueued", err)
	}
	got, _ := s.GetProvider(t.Context(), "acme")
	if got.KeyAccount != "acme#1" || got.KeyHint != "1111" {
		t.Errorf("refused write changed the provider: %+v", got)
	}
	wantGC(t, s)
}

func TestDeleteProvider_QueuesItsKeyAccount(t *testing.T) {
	s, _ := newStore(t)
	mustQueue(t, s, "acme#1")
	mustPutProvider(t, s, keyed("acme#1", "1111"))
	mustPutProvider(t, s, store.Provider{Name: "bare", Type: "openai"})
	for _, name := range []string{"acme", "bare"} {
		if err := s.DeleteProvider(t.Context(), name); err != nil {
			t.Fatal(err)
		}
	}
	wantGC(t, s, "acme#1")
}

// A cleanup claims only accounts no provider refers to; once claimed, an
// account cannot be taken up, and an unfinished claim is returned again.
func TestClaimSecretGC_ClaimsOnlyUnreferencedAccounts(t *testing.T) {
	s, _ := newStore(t)
	mustQueue(t, s, "acme#1", "acme#2", "acme#3")
	mustQueue(t, s, "acme#1") // queuing twice is harmless
	mustPutProvider(t, s, keyed("acme#1", "1111"))
	// A provider with a stored key and no key_account (as before migration
	// 0005) refers to its name.
	mustPutProvider(t, s, store.Provider{Name: "legacy", Type: "openai", HasStoredKey: true})
	mustQueue(t, s, "legacy")

	claimed, err := s.ClaimSecretGC(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"acme#2", "acme#3"}, claimed); diff != "" {
		t.Errorf("claimed (-want +got):\n%s", diff)
	}
	if _, err := s.PutProvider(t.Context(), keyed("acme#2", "2222")); !errors.Is(err, store.ErrAccountNotQueued) {
		t.Errorf("took up a claimed account: %v, want ErrAccountNotQueued", err)
	}
	if err := s.DropSecretGC(t.Context(), "acme#3"); err != nil {
		t.Fatal(err)
	}
	if err := s.DropSecretGC(t.Context(), "never-queued"); err != nil {
		t.Errorf("DropSecretGC of an absent account: %v", err)
	}
	claimed, err = s.ClaimSecretGC(t.Context()) // as after a crash mid-cleanup
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"acme#2"}, claimed); diff != "" {
		t.Errorf("claimed again (-want +got):\n%s", diff)
	}
	wantGC(t, s, "acme#2", "legacy")
}

// A keyed provider from before key_account keeps its key, which lives under
// its name.
func TestOpen_UpgradesSchema4KeyAccounts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "modelbar.db")
	db := rawDB(t, path)
	for v := 1; v <= 4; v++ {
		files, err := filepath.Glob(fmt.Sprintf("migrations/%04d_*.sql", v))
		if err != nil || len(files) != 1 {
			t.Fatalf("migration %d: %v %v", v, files, err)
		}
		b, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(b)); err != nil {
			t.Fatalf("%s: %v", files[0], err)
		}
	}
	const ins = `INSERT INTO providers (name, type, has_stored_key, key_hint, created_at, updated_at)
		VALUES (?, 'openai', ?, ?, '2026-01-01T00:00:00.000000000Z', '2026-01-01T00:00:00.000000000Z')`
	for _, args := range [][]any{{"keyed", 1, "wxyz"}, {"bare", 0, ""}} {
		if _, err := db.Exec(ins, args...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec("PRAGMA user_version = 4"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s := openStore(t, path)
	ps, err := s.ListProviders(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range ps {
		got[p.Name] = p.KeyAccount
	}
	if diff := cmp.Diff(map[string]string{"keyed": "keyed", "bare": ""}, got); diff != "" {
		t.Errorf("key accounts after upgrade (-want +got):\n%s", diff)
	}
	wantGC(t, s)
}
