package store_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/conversations"
	"github.com/modelbar/modelbar/backend/store"
)

func TestConversations_SaveListGetDelete(t *testing.T) {
	s, path := newStore(t)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	a := conversations.Conversation{
		Summary:     conversations.Summary{ID: "c1", Title: "First", Models: []string{"gpt-4o"}, Messages: 2, CreatedAt: t0, UpdatedAt: t0},
		MessageList: json.RawMessage(`[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]`),
	}
	b := conversations.Conversation{
		Summary:     conversations.Summary{ID: "c2", Title: "Second", Models: []string{"a", "b"}, CreatedAt: t0.Add(time.Minute), UpdatedAt: t0.Add(time.Minute)},
		MessageList: json.RawMessage(`[]`),
	}
	for _, c := range []conversations.Conversation{a, b} {
		if err := s.SaveConversation(ctx, c); err != nil {
			t.Fatalf("SaveConversation(%s): %v", c.ID, err)
		}
	}
	list, err := s.ListConversations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]conversations.Summary{b.Summary, a.Summary}, list); diff != "" {
		t.Errorf("list, newest first (-want +got):\n%s", diff)
	}

	// Replacing keeps created_at and moves it to the top.
	a2 := a
	a2.Title, a2.Messages, a2.CreatedAt, a2.UpdatedAt = "First, renamed", 1, t0.Add(time.Hour), t0.Add(2*time.Minute)
	a2.MessageList = json.RawMessage(`[{"role":"user","content":"only"}]`)
	if err := s.SaveConversation(ctx, a2); err != nil {
		t.Fatal(err)
	}
	// It survives closing and opening the file again.
	got, err := openStore(t, path).Conversation(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	want := a2
	want.CreatedAt = t0
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Conversation (-want +got):\n%s", diff)
	}
	list, _ = s.ListConversations(ctx)
	if len(list) != 2 || list[0].ID != "c1" {
		t.Errorf("after update: %+v", list)
	}

	if err := s.DeleteConversation(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"get":    func() error { _, err := s.Conversation(ctx, "c1"); return err }(),
		"delete": s.DeleteConversation(ctx, "c1"),
	} {
		if !errors.Is(err, store.ErrNotFound) || !conversations.IsNotFound(err) {
			t.Errorf("%s of a deleted conversation = %v, want not found", name, err)
		}
	}
	list, _ = s.ListConversations(ctx)
	if len(list) != 1 || list[0].ID != "c2" {
		t.Errorf("after delete: %+v", list)
	}
}

func TestConversations_EmptyList(t *testing.T) {
	s, _ := newStore(t)
	list, err := s.ListConversations(t.Context())
	if err != nil || list == nil || len(list) != 0 {
		t.Errorf("ListConversations = %v, %v; want an empty, non-nil list", list, err)
	}
}
