package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/store"
)

func TestDownloads_PutListDeleteSurviveReopen(t *testing.T) {
	s, path := newStore(t)
	ctx := t.Context()
	t0 := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	a := store.Download{ID: "a", Repo: "mlx-community/tiny", Revision: "main", State: "queued", StartedAt: t0, UpdatedAt: t0}
	b := store.Download{ID: "b", Repo: "org/other", Revision: "v1", Commit: "abc", State: "failed", Error: "no MLX weights",
		TotalBytes: 10, StartedAt: t0.Add(time.Second), UpdatedAt: t0.Add(time.Second)}
	for _, d := range []store.Download{a, b} {
		if err := s.PutDownload(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	a.State, a.Commit, a.DoneBytes, a.TotalBytes, a.UpdatedAt = "downloading", "c0ffee", 5, 100, t0.Add(2*time.Second)
	if err := s.PutDownload(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	got, err := s.ListDownloads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.Download{a, b}, got); diff != "" {
		t.Errorf("after reopen (-want +got):\n%s", diff)
	}
	if err := s.DeleteDownload(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDownload(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if got, _ := s.ListDownloads(ctx); len(got) != 1 || got[0].ID != "b" {
		t.Errorf("after delete: %+v", got)
	}
}

func TestDownloads_StateChecked(t *testing.T) {
	s, _ := newStore(t)
	err := s.PutDownload(t.Context(), store.Download{ID: "x", Repo: "r", Revision: "main", State: "bogus",
		StartedAt: time.Now(), UpdatedAt: time.Now()})
	if err == nil {
		t.Fatal("a state outside the list was stored")
	}
}
