package gateway

import (
	"fmt"
	"net/http"
)

// listCooldowns serves GET /api/cooldowns: the providers and models that
// are failing, cooling down or being probed (as in /api/status).
func (s *Server) listCooldowns(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.breakers.Status())
}

// endCooldown serves DELETE /api/cooldowns/{provider}[/{model}]: it ends a
// provider's cooldowns (its own and its models'), or one model's, at once,
// so the next request goes to it. 404 when there was none.
func (s *Server) endCooldown(w http.ResponseWriter, r *http.Request) {
	provider, model := r.PathValue("provider"), r.PathValue("model")
	if !s.breakers.Clear(provider, model) {
		what := fmt.Sprintf("provider %q", provider)
		if model != "" {
			what = fmt.Sprintf("model %s at provider %q", quoteName(model), provider)
		}
		s.fail(w, r, &apiError{Status: http.StatusNotFound, Type: "not_found_error", Code: "not_found",
			Message: what + " has no cooldown or failure on record"})
		return
	}
	s.log.InfoContext(r.Context(), "cooldown ended by hand", "provider", provider, "model", truncate(model, 64))
	w.WriteHeader(http.StatusNoContent)
}

// endAllCooldowns serves DELETE /api/cooldowns: every breaker closes.
func (s *Server) endAllCooldowns(w http.ResponseWriter, r *http.Request) {
	for _, c := range s.breakers.Status() {
		s.breakers.Clear(c.Provider, c.Model)
	}
	w.WriteHeader(http.StatusNoContent)
}
