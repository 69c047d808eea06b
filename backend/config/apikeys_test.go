package config

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/router"
)

var apiKeyFormat = regexp.MustCompile(`^mb-[A-Za-z0-9_-]{43}$`)

func TestCreateAPIKey_VerifiesAndStoresOnlyTheHash(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if f.svc.HasAPIKeys() {
		t.Fatal("HasAPIKeys on a new database")
	}
	k, plain, err := f.svc.CreateAPIKey(ctx, "laptop")
	if err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	if !apiKeyFormat.MatchString(plain) {
		t.Errorf("key %q does not look like mb- and 43 base64url characters", plain)
	}
	if k.Name != "laptop" || k.Hint != plain[len(plain)-4:] || k.ID <= 0 || k.CreatedAt.IsZero() || k.LastUsedAt != nil {
		t.Errorf("created key %+v", k)
	}
	if id, ok := f.svc.VerifyAPIKey(plain); !ok || id != k.ID {
		t.Errorf("VerifyAPIKey(the new key) = %d, %v; want %d, true", id, ok, k.ID)
	}
	if !f.svc.HasAPIKeys() {
		t.Error("HasAPIKeys after a create = false")
	}
	hashes, err := f.store.APIKeyHashes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(plain))
	if len(hashes) != 1 || hashes[0].Hash != hex.EncodeToString(sum[:]) {
		t.Errorf("stored hashes %+v, want the key's SHA-256", hashes)
	}

	_, other, err := f.svc.CreateAPIKey(ctx, "laptop") // names need not be unique
	if err != nil || other == plain {
		t.Fatalf("second CreateAPIKey: %v (same key: %v)", err, other == plain)
	}
	for _, bad := range []string{"", "mb-", plain[:len(plain)-1], plain + "x", strings.ToUpper(plain), " " + plain, "Bearer " + plain} {
		if id, ok := f.svc.VerifyAPIKey(bad); ok {
			t.Errorf("VerifyAPIKey(%q) = %d, true; want false", bad, id)
		}
	}
}

func TestRevokeAPIKey_TakesEffectAtOnceAndSurvivesRestart(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	a, keyA, err := f.svc.CreateAPIKey(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	b, keyB, err := f.svc.CreateAPIKey(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RevokeAPIKey(ctx, a.ID); err != nil {
		t.Fatalf("RevokeAPIKey: %v", err)
	}
	if _, ok := f.svc.VerifyAPIKey(keyA); ok {
		t.Error("a revoked key still verifies")
	}
	if err := f.svc.RevokeAPIKey(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoking twice = %v, want ErrNotFound", err)
	}

	// A restart loads the remaining key from the database.
	reg := providers.NewRegistry()
	t.Cleanup(reg.Close)
	again, err := New(ctx, f.store, f.secrets, reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := again.VerifyAPIKey(keyB); !ok || id != b.ID {
		t.Errorf("after restart VerifyAPIKey(b) = %d, %v; want %d, true", id, ok, b.ID)
	}
	if _, ok := again.VerifyAPIKey(keyA); ok {
		t.Error("after restart the revoked key verifies")
	}
	keys, err := again.APIKeys(ctx)
	if err != nil || len(keys) != 1 || keys[0].ID != b.ID {
		t.Errorf("after restart APIKeys = %+v, %v; want only b", keys, err)
	}
}

func TestCreateAPIKey_ValidatesName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"one character", "x", true},
		{"100 characters", strings.Repeat("é", 100), true},
		{"inner spaces and symbols", "Claude Code @ laptop (#2)", true},
		{"empty", "", false},
		{"blank", "   ", false},
		{"101 characters", strings.Repeat("a", 101), false},
		{"leading space", " a", false},
		{"newline", "a\nb", false},
		{"tab", "a\tb", false},
		{"invalid UTF-8", "a\xffb", false},
		{"zero-width control", "a\u200eb", false},
	}
	f := newFixture(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, plain, err := f.svc.CreateAPIKey(context.Background(), tt.in)
			if tt.ok {
				if err != nil || plain == "" {
					t.Errorf("CreateAPIKey(%q) = %v, want success", tt.in, err)
				}
				return
			}
			var fe *router.FieldError
			if !errors.As(err, &fe) || fe.Field != "name" {
				t.Errorf("CreateAPIKey(%q) = %v, want a FieldError on name", tt.in, err)
			}
		})
	}
}

// A use shows in the list at once and reaches the database in the
// background, once per interval however many requests there are.
func TestVerifyAPIKey_RecordsLastUse(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	k, plain, err := f.svc.CreateAPIKey(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	for range 20 {
		if _, ok := f.svc.VerifyAPIKey(plain); !ok {
			t.Fatal("the key does not verify")
		}
	}
	keys, err := f.svc.APIKeys(ctx)
	if err != nil || len(keys) != 1 || keys[0].LastUsedAt == nil || keys[0].LastUsedAt.Before(before.Add(-time.Second)) {
		t.Fatalf("APIKeys after use = %+v, %v; want last_used_at set", keys, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		rows, err := f.store.ListAPIKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !rows[0].LastUsedAt.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the use never reached the database")
		}
		time.Sleep(10 * time.Millisecond)
	}

	e := f.svc.apiKeySnapshot().keys[0]
	if e.id != k.ID {
		t.Fatalf("entry id %d, want %d", e.id, k.ID)
	}
	saved := e.saved.Load()
	f.svc.noteAPIKeyUse(e, time.Unix(0, saved).Add(touchInterval/2))
	if e.saved.Load() != saved {
		t.Error("a use within the interval started another write")
	}
	later := time.Unix(0, saved).Add(touchInterval)
	f.svc.noteAPIKeyUse(e, later)
	if e.saved.Load() != later.UnixNano() {
		t.Error("a use after the interval started no write")
	}
}

// Requests verify keys while keys are created and revoked; run with -race.
func TestVerifyAPIKey_ConcurrentWithChanges(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	_, stable, err := f.svc.CreateAPIKey(ctx, "stable")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, ok := f.svc.VerifyAPIKey(stable); !ok {
					t.Error("the stable key failed to verify during changes")
					return
				}
			}
		})
	}
	for i := range 20 {
		k, plain, err := f.svc.CreateAPIKey(ctx, "temp")
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := f.svc.RevokeAPIKey(ctx, k.ID); err != nil {
				t.Fatal(err)
			}
			if _, ok := f.svc.VerifyAPIKey(plain); ok {
				t.Error("revoked key verifies")
			}
		}
	}
	close(stop)
	wg.Wait()
	keys, err := f.svc.APIKeys(ctx)
	if err != nil || len(keys) != 11 {
		t.Errorf("APIKeys = %d keys, %v; want 11", len(keys), err)
	}
}
