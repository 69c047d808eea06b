package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/modelbar/modelbar/backend/conversations"
	"github.com/modelbar/modelbar/backend/events"
)

// maxConversationBody bounds an /api/conversations request body: the
// messages' own bound plus room for the rest, so a conversation just over
// its bound hears which (400) rather than a bare 413.
const maxConversationBody = conversations.MaxMessageBytes + 256<<10

// conversationKeeper serialises the changes to the saved conversations: an
// update reads, applies and writes back, and two at once (a rename while
// the chat saves its messages) must not undo each other.
type conversationKeeper struct {
	st conversations.Store // nil: none are kept
	mu *sync.Mutex         // guards the read-modify-write of an update
}

// store is the Store, or the error that says none is kept.
func (k *conversationKeeper) store() (conversations.Store, error) {
	if k.st == nil {
		return nil, &apiError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "conversations_unavailable",
			Message: "this server keeps no conversations (it runs without a database)"}
	}
	return k.st, nil
}

func (k *conversationKeeper) lock() func() {
	k.mu.Lock()
	return k.mu.Unlock
}

// conversationEvent is the payload of a conversations event.
type conversationEvent struct {
	ID     string `json:"id"`
	Action string `json:"action"` // created, updated, deleted
}

func (s *Server) listConversations(w http.ResponseWriter, r *http.Request) {
	st, err := s.convs.store()
	if err == nil {
		var list []conversations.Summary
		if list, err = st.ListConversations(r.Context()); err == nil {
			writeJSON(w, http.StatusOK, list)
			return
		}
	}
	s.fail(w, r, err)
}

func (s *Server) getConversation(w http.ResponseWriter, r *http.Request) {
	st, err := s.convs.store()
	if err == nil {
		var c conversations.Conversation
		if c, err = st.Conversation(r.Context(), r.PathValue("id")); err == nil {
			writeJSON(w, http.StatusOK, c)
			return
		}
	}
	s.fail(w, r, conversationError(r.PathValue("id"), err))
}

// conversationError words a missing conversation for the client (the
// store's error names its own layers); other errors pass unchanged.
func conversationError(id string, err error) error {
	if !conversations.IsNotFound(err) {
		return err
	}
	return &apiError{Status: http.StatusNotFound, Type: "not_found_error", Code: "not_found",
		Message: fmt.Sprintf("no conversation with id %q", truncate(id, 100))}
}

// createConversation answers POST /api/conversations: 201 with the new
// conversation (title, models and messages as given, all optional).
func (s *Server) createConversation(w http.ResponseWriter, r *http.Request) {
	c, err := s.saveConversation(w, r, "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/conversations/"+c.ID)
	writeJSON(w, http.StatusCreated, c)
}

// updateConversation answers PUT /api/conversations/{id}: the fields given
// replace the stored ones (messages as a whole).
func (s *Server) updateConversation(w http.ResponseWriter, r *http.Request) {
	c, err := s.saveConversation(w, r, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, conversationError(r.PathValue("id"), err))
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// saveConversation creates (id "") or updates the conversation id from the
// request body and publishes the change.
func (s *Server) saveConversation(w http.ResponseWriter, r *http.Request, id string) (conversations.Conversation, error) {
	ctx := r.Context()
	st, err := s.convs.store()
	if err != nil {
		return conversations.Conversation{}, err
	}
	var in conversations.Input
	if err := decodeJSONMax(w, r, &in, maxConversationBody); err != nil {
		return conversations.Conversation{}, err
	}
	defer s.convs.lock()()
	now := time.Now().UTC()
	c := conversations.Conversation{Summary: conversations.Summary{ID: id, CreatedAt: now}}
	action := "created"
	if id == "" {
		c.ID = newConversationID()
	} else {
		if c, err = st.Conversation(ctx, id); err != nil {
			return c, err
		}
		action = "updated"
	}
	if err := conversations.Apply(&c, in); err != nil {
		return c, err
	}
	c.UpdatedAt = now
	if err := st.SaveConversation(ctx, c); err != nil {
		return c, err
	}
	s.events.Publish(events.Conversations, conversationEvent{ID: c.ID, Action: action})
	return c, nil
}

func (s *Server) deleteConversation(w http.ResponseWriter, r *http.Request) {
	st, err := s.convs.store()
	if err == nil {
		id := r.PathValue("id")
		if err = st.DeleteConversation(r.Context(), id); err == nil {
			s.events.Publish(events.Conversations, conversationEvent{ID: id, Action: "deleted"})
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	s.fail(w, r, conversationError(r.PathValue("id"), err))
}

// newConversationID is a random id: "conv_" and 24 hex digits.
func newConversationID() string {
	var b [12]byte
	rand.Read(b[:])
	return "conv_" + hex.EncodeToString(b[:])
}
