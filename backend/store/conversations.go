package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/modelbar/modelbar/backend/conversations"
)

var _ conversations.Store = (*Store)(nil)

// conversationNotFound is a missing conversation: both ErrNotFound and
// conversations.ErrNotFound.
var conversationNotFound = fmt.Errorf("%w (%w)", ErrNotFound, conversations.ErrNotFound)

// ListConversations returns every conversation without its messages, the
// most recently updated first.
func (s *Store) ListConversations(ctx context.Context) ([]conversations.Summary, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, title, models, message_count, created_at, updated_at
		FROM conversations ORDER BY updated_at DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("store: list conversations: %w", err)
	}
	defer rows.Close()
	list := []conversations.Summary{}
	for rows.Next() {
		var c conversations.Summary
		if err := scanSummary(rows.Scan, &c); err != nil {
			return nil, fmt.Errorf("store: list conversations: %w", err)
		}
		list = append(list, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list conversations: %w", err)
	}
	return list, nil
}

// Conversation returns the conversation id with its messages; one that is
// not there is an error wrapping ErrNotFound.
func (s *Store) Conversation(ctx context.Context, id string) (conversations.Conversation, error) {
	var c conversations.Conversation
	var messages string
	row := s.r.QueryRowContext(ctx, `SELECT id, title, models, message_count, created_at, updated_at, messages
		FROM conversations WHERE id = ?`, id)
	err := scanSummary(func(dest ...any) error { return row.Scan(append(dest, &messages)...) }, &c.Summary)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return c, fmt.Errorf("store: conversation %q: %w", id, conversationNotFound)
	case err != nil:
		return c, fmt.Errorf("store: conversation %q: %w", id, err)
	}
	c.MessageList = json.RawMessage(messages)
	return c, nil
}

// SaveConversation inserts c, or replaces the conversation of its id (its
// created_at kept from the first save).
func (s *Store) SaveConversation(ctx context.Context, c conversations.Conversation) error {
	models, err := json.Marshal(c.Models)
	if err != nil {
		return fmt.Errorf("store: save conversation %q: %w", c.ID, err)
	}
	if c.Models == nil {
		models = []byte("[]")
	}
	messages := string(c.MessageList)
	if messages == "" {
		messages = "[]"
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO conversations (id, title, models, message_count, messages, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET title = excluded.title, models = excluded.models,
			message_count = excluded.message_count, messages = excluded.messages, updated_at = excluded.updated_at`,
			c.ID, c.Title, string(models), c.Messages, messages, formatTime(c.CreatedAt), formatTime(c.UpdatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: save conversation %q: %w", c.ID, err)
	}
	return nil
}

// DeleteConversation deletes the conversation id; one that is not there is
// an error wrapping ErrNotFound.
func (s *Store) DeleteConversation(ctx context.Context, id string) error {
	return s.deleteRow(ctx, "conversations", "conversation", id, conversationNotFound)
}

func scanSummary(scan func(dest ...any) error, c *conversations.Summary) error {
	var models, created, updated string
	if err := scan(&c.ID, &c.Title, &models, &c.Messages, &created, &updated); err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(models), &c.Models); err != nil || c.Models == nil {
		c.Models = []string{}
	}
	var err error
	if c.CreatedAt, err = parseTime(created); err != nil {
		return err
	}
	c.UpdatedAt, err = parseTime(updated)
	return err
}
