package gateway

import (
	"fmt"
	"net/http"

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
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": s.models()})
}

// getModel answers a listed model, or any name a route would take (wildcard
// routes included), owned by the backend it would go to.
func (s *Server) getModel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("model")
	for _, m := range s.models() {
		if m.ID == id {
			writeJSON(w, http.StatusOK, m)
			return
		}
	}
	if plan := s.cfg.Table().Resolve(id); plan.Route != nil || s.localHas(id) {
		writeJSON(w, http.StatusOK, openAIModel{ID: id, Object: "model", Created: s.started.Unix(), OwnedBy: plan.Targets[0].Backend})
		return
	}
	s.fail(w, r, &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Param: "model", Code: "model_not_found",
		Message: fmt.Sprintf("model %q not found", id)})
}
