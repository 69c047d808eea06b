package respstore_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/respstore"
	"github.com/modelbar/modelbar/backend/store"
)

// clock is a settable time.
type clock struct{ t atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.t.Load()).UTC() }
func (c *clock) set(t time.Time)     { c.t.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration) { c.t.Add(int64(d)) }

func newKeeper(t *testing.T, retention time.Duration) (*respstore.Keeper, *store.Store, *clock) {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "modelbar.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{}
	c.set(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	k := respstore.New(st, true, retention, slog.New(slog.NewTextHandler(io.Discard, nil)), c.now)
	t.Cleanup(k.Close)
	return k, st, c
}

func save(t *testing.T, k *respstore.Keeper, id string) {
	t.Helper()
	err := k.Save(t.Context(), respstore.Response{ID: id, Model: "m", Input: json.RawMessage(`[]`), Response: json.RawMessage(`{"id":"` + id + `"}`)})
	if err != nil {
		t.Fatal(err)
	}
}

// A response older than the retention is gone for readers at once, and
// from the database at the next prune (a shorter retention prunes now).
func TestKeeper_Retention(t *testing.T) {
	day := 24 * time.Hour
	k, st, c := newKeeper(t, 30*day)
	save(t, k, "resp_old")
	c.add(20 * day)
	save(t, k, "resp_new")
	c.add(11 * day) // resp_old is 31 days old, resp_new 11
	if _, err := k.Get(t.Context(), "resp_old"); !respstore.IsNotFound(err) {
		t.Errorf("expired response: err = %v, want not found", err)
	}
	if err := k.Delete(t.Context(), "resp_old"); !respstore.IsNotFound(err) {
		t.Errorf("Delete of an expired response: err = %v, want not found", err)
	}
	if _, err := k.Get(t.Context(), "resp_new"); err != nil {
		t.Errorf("kept response: %v", err)
	}

	k.Set(true, 0) // 0: kept until deleted
	if _, err := k.Get(t.Context(), "resp_old"); err != nil {
		t.Errorf("retention 0: %v", err)
	}

	k.Set(true, 30*day) // a shorter retention prunes at once
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := st.Response(t.Context(), "resp_old", time.Time{}); respstore.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the expired response is still in the database")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := st.Response(t.Context(), "resp_new", time.Time{}); err != nil {
		t.Errorf("prune took the kept response: %v", err)
	}
}

func TestKeeper_Enabled(t *testing.T) {
	k, _, _ := newKeeper(t, 0)
	if !k.Enabled() {
		t.Error("a new keeper does not keep")
	}
	k.Set(false, 0)
	if k.Enabled() {
		t.Error("responses_store off still keeps")
	}
}
