package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/modelbar/modelbar/backend/config"
	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/protocol/responses"
	"github.com/modelbar/modelbar/backend/respstore"
)

// Stored responses: a /v1/responses answer modelbar made itself
// (translated or local) whose request did not say store: false is kept,
// while responses_store is on, with its own input items; GET, DELETE and
// input_items read it back, and previous_response_id continues it. A
// relayed answer is its provider's to keep.

// maxStoredBytes bounds the answer captured for storing: beyond it the
// response is served but not kept.
const maxStoredBytes = 32 << 20

// watchResponseSettings starts the keeper of stored responses over st
// and keeps it in step with responses_store and responses_retention_days.
func (s *Server) watchResponseSettings(st respstore.Store) {
	if st == nil {
		return
	}
	set := func(c config.Settings) (bool, time.Duration) {
		return c.ResponsesStore, time.Duration(c.ResponsesRetentionDays) * 24 * time.Hour
	}
	cur, err := s.cfg.Settings(context.Background())
	if err != nil {
		s.log.Error("cannot read the settings; responses are not stored until they change", "err", err)
		cur = config.Settings{ResponsesRetentionDays: config.DefaultResponsesRetentionDays}
	}
	on, keep := set(cur)
	s.responses = respstore.New(st, on, keep, s.log, nil)
	s.cfg.OnSettings(func(c config.Settings) { s.responses.Set(set(c)) })
}

// storing is one Responses call's plan to keep its answer.
type storing struct {
	id       string        // the response id minted for it
	previous string        // previous_response_id
	saved    chan struct{} // closed once it is stored, or will not be
	capture  *captureTee
}

// planStoring decides whether a Responses call's answer is kept, if
// modelbar makes it: store not false and responses_store on.
func (s *Server) planStoring(w http.ResponseWriter, body []byte, env responses.Envelope) (*storing, http.ResponseWriter) {
	if s.responses == nil || !s.responses.Enabled() || !storeAsked(body) {
		return nil, w
	}
	st := &storing{id: newID("resp"), previous: env.PreviousResponseID, saved: make(chan struct{})}
	st.capture = &captureTee{ResponseWriter: w}
	s.storing.Store(st.id, st.saved)
	return st, st.capture
}

// awaitStored waits, a little, while the response id is being stored: a
// client has its answer (and id) a moment before it is in the database.
func (s *Server) awaitStored(ctx context.Context, id string) {
	saved, ok := s.storing.Load(id)
	if !ok {
		return
	}
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-saved.(chan struct{}):
	case <-ctx.Done():
	case <-t.C:
	}
}

// storeAsked reports whether a request's store is not false.
func storeAsked(body []byte) bool {
	var doc struct {
		Store *bool `json:"store"`
	}
	return json.Unmarshal(body, &doc) != nil || doc.Store == nil || *doc.Store
}

// decodeResponses decodes a Responses call for translation: continued
// from its stored previous response, if it names one, and with the
// response id minted for storing.
func (s *Server) decodeResponses(ctx context.Context, body []byte, env responses.Envelope, st *storing) (protocol.Request, error) {
	if env.PreviousResponseID != "" {
		history, err := s.history(ctx, env.PreviousResponseID)
		if err != nil {
			return protocol.Request{}, err
		}
		if body, err = responses.Continue(body, history); err != nil {
			return protocol.Request{}, err
		}
	}
	req, err := responses.DecodeRequest(body)
	if err != nil {
		return req, err
	}
	if s.responses != nil { // store is honoured here, not dropped
		req.Dropped = slices.DeleteFunc(req.Dropped, func(f string) bool { return f == "store" })
	}
	if st == nil {
		return req, nil
	}
	names, _ := req.Client.(responses.Names)
	names.ResponseID = st.id
	req.Client = names
	return req, nil
}

// history is the conversation up to and including the stored response id:
// each response's input items and output items, oldest first.
func (s *Server) history(ctx context.Context, id string) ([]json.RawMessage, error) {
	if s.responses == nil {
		return nil, unknownPrevious(id)
	}
	s.awaitStored(ctx, id)
	chain, err := s.responses.Chain(ctx, id)
	if respstore.IsNotFound(err) {
		if _, err := s.responses.Get(ctx, id); err == nil {
			return nil, &protocol.RequestError{Param: "previous_response_id", Message: fmt.Sprintf("response %s continues "+
				"a conversation of which modelbar no longer has every response (one was deleted, or is older than "+
				"responses_retention_days): send the whole conversation as input", quoteName(id))}
		}
		return nil, unknownPrevious(id)
	}
	if err != nil {
		return nil, fmt.Errorf("read stored response: %w", err)
	}
	return chainItems(chain)
}

// chainItems are the input and output items of a chain of responses.
func chainItems(chain []respstore.Response) ([]json.RawMessage, error) {
	var items []json.RawMessage
	for _, r := range chain {
		var input []json.RawMessage
		if err := json.Unmarshal(r.Input, &input); err != nil {
			return nil, fmt.Errorf("stored response %s: input: %w", r.ID, err)
		}
		output, err := responses.Output(r.Response)
		if err != nil {
			return nil, fmt.Errorf("stored response %s: %w", r.ID, err)
		}
		items = append(append(items, input...), output...)
	}
	return items, nil
}

func unknownPrevious(id string) error {
	return &protocol.RequestError{Param: "previous_response_id", Message: fmt.Sprintf("modelbar has no stored response %s "+
		"(it keeps only the responses it answered itself, by translation or with a local model, while responses_store is on, "+
		"for responses_retention_days; a provider's own are the provider's): send the whole conversation as input, "+
		"or route this model to the provider that made the response", quoteName(id))}
}

// keep stores the answer a call committed, if modelbar made it and it
// completed (or is incomplete); a failure to store is logged, never the
// client's.
func (s *Server) keep(ctx context.Context, c *call, st *storing, model string) {
	if st == nil {
		return
	}
	defer func() {
		s.storing.Delete(st.id)
		close(st.saved)
	}()
	if c.relayed || c.chat == nil || st.capture.status != http.StatusOK || st.capture.overflow {
		return
	}
	raw := st.capture.body.Bytes()
	if c.stream {
		var ok bool
		if raw, ok = responses.FinalResponse(raw); !ok {
			return
		}
	}
	var head struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &head) != nil || head.ID != st.id {
		return
	}
	items, err := responses.InputItems(c.body, itemID)
	var input []byte
	if err == nil {
		input, err = json.Marshal(items)
	}
	if err == nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		err = s.responses.Save(ctx, respstore.Response{ID: st.id, PreviousID: st.previous, Model: model, Input: input, Response: raw})
	}
	if err != nil {
		s.log.WarnContext(ctx, "could not store a response", "err", err) // never its content
	}
}

// captureTee copies what a translated answer writes, up to
// maxStoredBytes, for storing; a relayed one it only passes on. It
// forwards Flush (through Unwrap).
type captureTee struct {
	http.ResponseWriter
	call     *call // its relayed answers are not captured
	status   int
	body     bytes.Buffer
	overflow bool
}

func (t *captureTee) WriteHeader(code int) {
	if t.status == 0 {
		t.status = code
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *captureTee) Write(b []byte) (int, error) {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	if t.call != nil && t.call.relayed {
		t.overflow = true // a relayed answer is not kept: no copy
	}
	if !t.overflow {
		if t.body.Len()+len(b) > maxStoredBytes {
			t.overflow = true
			t.body = bytes.Buffer{}
		} else {
			t.body.Write(b)
		}
	}
	return t.ResponseWriter.Write(b)
}

func (t *captureTee) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// newID is prefix_ and 48 random hex digits.
func newID(prefix string) string {
	var b [24]byte
	rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

// itemID is a new input item's id, prefixed as the API prefixes its type.
func itemID(itemType string) string {
	switch itemType {
	case "message":
		return newID("msg")
	case "function_call":
		return newID("fc")
	case "function_call_output":
		return newID("fco")
	case "custom_tool_call":
		return newID("ctc")
	case "custom_tool_call_output":
		return newID("ctco")
	case "reasoning":
		return newID("rs")
	}
	return newID("item")
}

// responseGet serves GET /v1/responses/{id}: the stored response object.
func (s *Server) responseGet(w http.ResponseWriter, r *http.Request) {
	stored, ok := s.storedResponse(w, r)
	if !ok {
		return
	}
	w.Header().Set(headerBackend, noBackend)
	w.Header().Set("Content-Type", "application/json")
	w.Write(stored.Response)
}

// responseDelete serves DELETE /v1/responses/{id}.
func (s *Server) responseDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	w.Header().Set(headerBackend, noBackend)
	err := errNoResponses
	if s.responses != nil {
		s.awaitStored(r.Context(), id)
		err = s.responses.Delete(r.Context(), id)
	}
	if err != nil {
		s.fail(w, r, responseLookupError(id, err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "object": "response", "deleted": true})
}

// inputItemsPage bounds input_items' limit.
const inputItemsPage, inputItemsMax = 20, 100

// responseInputItems serves GET /v1/responses/{id}/input_items: the items
// the response was made from (those of the responses it continued, then its
// own input), paged as the API pages them (limit, after, order: desc by
// default).
func (s *Server) responseInputItems(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, order := inputItemsPage, q.Get("order")
	if v := q.Get("limit"); v != "" {
		if _, err := fmt.Sscan(v, &limit); err != nil || limit < 1 || limit > inputItemsMax {
			s.fail(w, r, &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "limit", Message: "limit must be an integer from 1 to 100"})
			return
		}
	}
	if order != "" && order != "asc" && order != "desc" {
		s.fail(w, r, &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "order", Message: "order must be asc or desc"})
		return
	}
	stored, ok := s.storedResponse(w, r)
	if !ok {
		return
	}
	items, err := s.earlierItems(r.Context(), stored.PreviousID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var own []json.RawMessage
	if err := json.Unmarshal(stored.Input, &own); err != nil {
		s.fail(w, r, fmt.Errorf("stored response %s: input: %w", stored.ID, err))
		return
	}
	items = append(items, own...)
	page, err := pageItems(items, order != "asc", q.Get("after"), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set(headerBackend, noBackend)
	writeJSON(w, http.StatusOK, page)
}

// earlierItems are the items of the conversation up to the stored response
// id, as far back as modelbar still has its responses (one deleted or
// expired ends it).
func (s *Server) earlierItems(ctx context.Context, id string) ([]json.RawMessage, error) {
	var chain []respstore.Response
	for next := id; next != "" && len(chain) < maxChainListed; {
		r, err := s.responses.Get(ctx, next)
		if respstore.IsNotFound(err) {
			break
		}
		if err != nil {
			return nil, err
		}
		chain = append(chain, r)
		next = r.PreviousID
	}
	slices.Reverse(chain)
	return chainItems(chain)
}

// maxChainListed bounds the responses input_items follows back.
const maxChainListed = 10_000

// itemList is the API's list of items.
type itemList struct {
	Object  string            `json:"object"`
	Data    []json.RawMessage `json:"data"`
	FirstID *string           `json:"first_id"`
	LastID  *string           `json:"last_id"`
	HasMore bool              `json:"has_more"`
}

// pageItems is the page of items (oldest first) after the item after, in
// the order asked.
func pageItems(items []json.RawMessage, desc bool, after string, limit int) (itemList, error) {
	ordered := make([]json.RawMessage, len(items))
	for i, it := range items {
		if desc {
			i = len(items) - 1 - i
		}
		ordered[i] = it
	}
	start := 0
	if after != "" {
		start = -1
		for i, it := range ordered {
			if itemIDOf(it) == after {
				start = i + 1
			}
		}
		if start < 0 {
			return itemList{}, &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "after",
				Message: fmt.Sprintf("after: the response has no input item %s", quoteName(after))}
		}
	}
	end := min(start+limit, len(ordered))
	out := itemList{Object: "list", Data: ordered[start:end], HasMore: end < len(ordered)}
	if len(out.Data) > 0 {
		first, last := itemIDOf(out.Data[0]), itemIDOf(out.Data[len(out.Data)-1])
		out.FirstID, out.LastID = &first, &last
	}
	return out, nil
}

func itemIDOf(item json.RawMessage) string {
	var v struct {
		ID string `json:"id"`
	}
	json.Unmarshal(item, &v)
	return v.ID
}

// storedResponse reads the response the path names, or answers 404.
func (s *Server) storedResponse(w http.ResponseWriter, r *http.Request) (respstore.Response, bool) {
	id := r.PathValue("id")
	err := errNoResponses
	var stored respstore.Response
	if s.responses != nil {
		s.awaitStored(r.Context(), id)
		stored, err = s.responses.Get(r.Context(), id)
	}
	if err != nil {
		w.Header().Set(headerBackend, noBackend)
		s.fail(w, r, responseLookupError(id, err))
		return respstore.Response{}, false
	}
	return stored, true
}

// errNoResponses: this server keeps no responses (no store).
var errNoResponses = fmt.Errorf("no response store: %w", respstore.ErrNotFound)

// responseLookupError is a missing response as the API says it (404), or
// err as it is.
func responseLookupError(id string, err error) error {
	if !respstore.IsNotFound(err) {
		return err
	}
	return &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "not_found",
		Message: fmt.Sprintf("Response with id %s not found: modelbar keeps only the responses it answered itself "+
			"(translated or local, with store not false, while responses_store is on, for responses_retention_days); "+
			"a response a provider answered is the provider's, and modelbar cannot fetch it", quoteName(id))}
}
