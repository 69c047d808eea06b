// Package conversations holds the chat playground's saved conversations:
// their shape, the bounds a saved one must keep, and the interface of the
// database that keeps them (store.Store). They are conversation content:
// kept in modelbar.db only, never logged. No HTTP and no SQL here.
//
// A message is the UI's own record of one turn (role, content, and what the
// chat shows with it: reasoning, tool calls, the backend that answered,
// timings). Only role and content are checked; the other fields are kept as
// the UI wrote them, so the chat can add some without a migration.
package conversations

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Bounds of one conversation. A chat longer than this is better started
// anew; the bounds keep one conversation's row, and the admin API's body,
// to a size SQLite and the UI handle at once.
const (
	MaxMessages     = 1000    // messages in one conversation
	MaxMessageBytes = 4 << 20 // the messages array as JSON, in bytes
	MaxTitleRunes   = 200     // a title, in characters
	MaxModels       = 4       // models named by one conversation (two when comparing)
	MaxModelBytes   = 256     // one model name
)

// Roles a message may have.
var roles = map[string]bool{"system": true, "user": true, "assistant": true, "tool": true}

// Summary is a conversation as the list shows it.
type Summary struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Models    []string  `json:"models"`
	Messages  int       `json:"message_count"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Conversation is one saved conversation with its messages (a JSON array
// of objects, as the UI wrote it).
type Conversation struct {
	Summary
	MessageList json.RawMessage `json:"messages"`
}

// Input creates or changes a conversation. A nil field is left as it is
// (on create: empty title, no models, no messages).
type Input struct {
	Title    *string         `json:"title"`
	Models   *[]string       `json:"models"`
	Messages json.RawMessage `json:"messages"` // nil: unchanged
}

// Store is the database that keeps conversations. Its methods block on the
// database and honour ctx; it is safe for concurrent use. A conversation
// that is not there is an error for which IsNotFound is true.
type Store interface {
	// ListConversations returns every conversation, the most recently
	// updated first.
	ListConversations(ctx context.Context) ([]Summary, error)
	Conversation(ctx context.Context, id string) (Conversation, error)
	// SaveConversation inserts c, or replaces the conversation of its id.
	SaveConversation(ctx context.Context, c Conversation) error
	DeleteConversation(ctx context.Context, id string) error
}

// ErrNotFound is what a Store's missing conversation wraps.
var ErrNotFound = errors.New("conversation not found")

// IsNotFound reports whether err says a conversation is not stored.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// FieldError is an Input that breaks a bound or a rule; Field names the
// offending field by its JSON path ("messages[3].role").
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Apply checks in and applies it to c: the one place the bounds are kept.
// c is left untouched when in is refused.
func Apply(c *Conversation, in Input) error {
	next := *c
	if in.Title != nil {
		t, err := title(*in.Title)
		if err != nil {
			return err
		}
		next.Title = t
	}
	if in.Models != nil {
		m, err := models(*in.Models)
		if err != nil {
			return err
		}
		next.Models = m
	}
	if in.Messages != nil {
		n, err := checkMessages(in.Messages)
		if err != nil {
			return err
		}
		next.MessageList, next.Messages = compactJSON(in.Messages), n
	}
	if next.MessageList == nil {
		next.MessageList = json.RawMessage("[]")
	}
	if next.Models == nil {
		next.Models = []string{}
	}
	*c = next
	return nil
}

// title trims t and refuses control characters and overlong titles.
func title(t string) (string, error) {
	t = strings.TrimSpace(t)
	if !utf8.ValidString(t) {
		return "", &FieldError{"title", "is not valid UTF-8"}
	}
	if n := utf8.RuneCountInString(t); n > MaxTitleRunes {
		return "", &FieldError{"title", fmt.Sprintf("is %d characters long; at most %d", n, MaxTitleRunes)}
	}
	if strings.IndexFunc(t, unicode.IsControl) >= 0 {
		return "", &FieldError{"title", "holds a control character (a line break?): a title is one line"}
	}
	return t, nil
}

func models(ms []string) ([]string, error) {
	if len(ms) > MaxModels {
		return nil, &FieldError{"models", fmt.Sprintf("names %d models; at most %d", len(ms), MaxModels)}
	}
	out := make([]string, 0, len(ms))
	for i, m := range ms {
		m = strings.TrimSpace(m)
		switch {
		case m == "":
			return nil, &FieldError{fmt.Sprintf("models[%d]", i), "is empty"}
		case len(m) > MaxModelBytes:
			return nil, &FieldError{fmt.Sprintf("models[%d]", i), fmt.Sprintf("is longer than %d bytes", MaxModelBytes)}
		}
		out = append(out, m)
	}
	return out, nil
}

// checkMessages checks that raw is an array of at most MaxMessages objects,
// each with a known role and a string (or null) content, in at most
// MaxMessageBytes; it returns how many there are.
func checkMessages(raw json.RawMessage) (int, error) {
	if len(raw) > MaxMessageBytes {
		return 0, &FieldError{"messages", fmt.Sprintf("are %d bytes of JSON; at most %d (start a new conversation)", len(raw), MaxMessageBytes)}
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil || list == nil {
		return 0, &FieldError{"messages", "must be an array of message objects"}
	}
	if len(list) > MaxMessages {
		return 0, &FieldError{"messages", fmt.Sprintf("holds %d messages; at most %d (start a new conversation)", len(list), MaxMessages)}
	}
	for i, m := range list {
		var head struct {
			Role    *string         `json:"role"`
			Content json.RawMessage `json:"content"`
		}
		if err := json.Unmarshal(m, &head); err != nil || !isObject(m) {
			return 0, &FieldError{fmt.Sprintf("messages[%d]", i), "must be an object"}
		}
		if head.Role == nil || !roles[*head.Role] {
			return 0, &FieldError{fmt.Sprintf("messages[%d].role", i), "must be one of system, user, assistant, tool"}
		}
		if c := strings.TrimSpace(string(head.Content)); c != "" && c != "null" && c[0] != '"' {
			return 0, &FieldError{fmt.Sprintf("messages[%d].content", i), "must be a string"}
		}
	}
	return len(list), nil
}

func isObject(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return strings.HasPrefix(s, "{")
}

func compactJSON(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw // checked valid before; never happens
	}
	return json.RawMessage(b.Bytes())
}
