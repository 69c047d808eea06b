package gateway

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/modelbar/modelbar/backend/router"
)

// openAIModel is a model object of the OpenAI API.
type openAIModel struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// models lists what a client can ask for by name: the local models and the
// exact pattern of every enabled route (aliases such as "fast" included),
// each owned by the backend it goes to.
func (s *Server) models() []openAIModel {
	created := s.started.Unix()
	out := []openAIModel{}
	seen := map[string]bool{}
	for _, t := range s.cfg.Table().ExactModels() { // a route wins over a local model of its name
		seen[t.Model] = true
		out = append(out, openAIModel{ID: t.Model, Object: "model", Created: created, OwnedBy: t.Backend})
	}
	for _, m := range s.localModels() {
		if m.Usable && !seen[m.ID] {
			out = append(out, openAIModel{ID: m.ID, Object: "model", Created: created, OwnedBy: router.Local})
		}
	}
	return out
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	if anthropicClient(r) {
		s.listAnthropicModels(w, r)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": s.models()})
}

// anthropicClient reports whether a request comes from an Anthropic SDK
// (they all send anthropic-version): GET /v1/models is the one path both
// APIs share, each with its own answer.
func anthropicClient(r *http.Request) bool { return r.Header.Get("anthropic-version") != "" }

// anthropicModel is a model object of the Anthropic API.
type anthropicModel struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	CreatedAt   string `json:"created_at"`
}

func toAnthropicModel(m openAIModel) anthropicModel {
	return anthropicModel{Type: "model", ID: m.ID, DisplayName: m.ID, CreatedAt: time.Unix(m.Created, 0).UTC().Format(time.RFC3339)}
}

// listAnthropicModels answers in Anthropic's list shape, paged by limit
// (default 20, at most 1000) and after_id or before_id as Anthropic does.
func (s *Server) listAnthropicModels(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			s.fail(w, r, &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "limit", Message: "limit: must be between 1 and 1000"})
			return
		}
		limit = n
	}
	all := s.models()
	start, end := 0, len(all)
	if id := q.Get("after_id"); id != "" {
		start = slices.IndexFunc(all, func(m openAIModel) bool { return m.ID == id }) + 1
		end = min(len(all), start+limit)
	} else if id := q.Get("before_id"); id != "" {
		if end = slices.IndexFunc(all, func(m openAIModel) bool { return m.ID == id }); end < 0 {
			end = 0
		}
		start = max(0, end-limit)
	} else {
		end = min(len(all), limit)
	}
	data := make([]anthropicModel, 0, end-start)
	for _, m := range all[start:end] {
		data = append(data, toAnthropicModel(m))
	}
	var first, last any
	if len(data) > 0 {
		first, last = data[0].ID, data[len(data)-1].ID
	}
	more := end < len(all)
	if q.Get("before_id") != "" {
		more = start > 0
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "has_more": more, "first_id": first, "last_id": last})
}

// getModel answers a listed model, or any name a route would take (wildcard
// routes included), owned by the backend it would go to.
func (s *Server) getModel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("model")
	if err := checkModelName(id); err != nil {
		s.fail(w, r, err)
		return
	}
	reply := func(m openAIModel) {
		if anthropicClient(r) {
			writeJSON(w, http.StatusOK, toAnthropicModel(m))
			return
		}
		writeJSON(w, http.StatusOK, m)
	}
	for _, m := range s.models() {
		if m.ID == id {
			reply(m)
			return
		}
	}
	if plan, err := s.cfg.Table().ResolveContext(r.Context(), id); err == nil && (plan.Route != nil || s.localHas(id)) {
		reply(openAIModel{ID: id, Object: "model", Created: s.started.Unix(), OwnedBy: plan.Targets[0].Backend})
		return
	}
	s.fail(w, r, &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Param: "model", Code: "model_not_found",
		Message: fmt.Sprintf("model %s not found", quoteName(id))})
}
