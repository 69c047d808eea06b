package store_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/respstore"
	"github.com/modelbar/modelbar/backend/store"
)

func storedResponse(id, prev string, created time.Time) respstore.Response {
	return respstore.Response{ID: id, CreatedAt: created, PreviousID: prev, Model: "m",
		Input:    json.RawMessage(`[{"id":"msg_` + id + `","type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}]`),
		Response: json.RawMessage(`{"id":"` + id + `","object":"response","output":[]}`)}
}

func TestResponses_SaveGetChainDelete(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a, b := storedResponse("resp_a", "", t0), storedResponse("resp_b", "resp_a", t0.Add(time.Minute))
	for _, r := range []respstore.Response{a, b} {
		if err := s.SaveResponse(ctx, r); err != nil {
			t.Fatalf("SaveResponse(%s): %v", r.ID, err)
		}
	}
	got, err := s.Response(ctx, "resp_b", time.Time{})
	if err != nil {
		t.Fatalf("Response: %v", err)
	}
	if diff := cmp.Diff(b, got); diff != "" {
		t.Errorf("Response (-want +got):\n%s", diff)
	}
	chain, err := s.ResponseChain(ctx, "resp_b", time.Time{})
	if err != nil {
		t.Fatalf("ResponseChain: %v", err)
	}
	if diff := cmp.Diff([]respstore.Response{a, b}, chain); diff != "" {
		t.Errorf("ResponseChain (-want +got):\n%s", diff)
	}
	if _, err := s.Response(ctx, "resp_a", t0.Add(time.Second)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Response older than notBefore: err = %v, want ErrNotFound", err)
	}
	if err := s.DeleteResponse(ctx, "resp_a"); err != nil {
		t.Fatalf("DeleteResponse: %v", err)
	}
	if err := s.DeleteResponse(ctx, "resp_a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteResponse again: err = %v, want ErrNotFound", err)
	}
	if _, err := s.ResponseChain(ctx, "resp_b", time.Time{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ResponseChain with a missing link: err = %v, want ErrNotFound", err)
	}
}

func TestResponses_Prune(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	for i, id := range []string{"resp_old", "resp_new"} {
		if err := s.SaveResponse(ctx, storedResponse(id, "", t0.Add(time.Duration(i)*48*time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PruneResponses(ctx, t0.Add(24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("PruneResponses = %d, %v; want 1, nil", n, err)
	}
	if _, err := s.Response(ctx, "resp_old", time.Time{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("pruned response: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Response(ctx, "resp_new", time.Time{}); err != nil {
		t.Errorf("kept response: %v", err)
	}
}
