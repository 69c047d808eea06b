package gateway

import (
	"net/http"
	"strings"
	"unicode"

	"github.com/modelbar/modelbar/backend/connect"
	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/router"
)

// connectClients serves GET /api/connect: each client's minimal
// configuration for this server (backend/connect), the same snippets
// README.md shows, for the UI's "Connect your tools".
//
// Query: model and small_model name what the snippets ask for; left out,
// they are README's (gpt-4o and fast); model= (empty) leaves Claude Code
// its own model names. While inference keys are required, the snippets
// carry connect.KeyPlaceholder where the key goes: the admin API cannot
// show a key (modelbar keeps only hashes).
func (s *Server) connectClients(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := connect.Defaults()
	opts.BaseURL = ClientBaseURL(s.opts.Addr)
	for _, p := range []struct {
		name string
		dst  *string
	}{{"model", &opts.Model}, {"small_model", &opts.SmallModel}} {
		if !q.Has(p.name) {
			continue
		}
		v := q.Get(p.name)
		if len(v) > router.MaxModelBytes || strings.IndexFunc(v, unicode.IsControl) >= 0 {
			s.fail(w, r, &protocol.RequestError{Param: p.name, Message: "must be a model name: at most 256 bytes, no control characters"})
			return
		}
		*p.dst = v
	}
	if q.Has("model") && !q.Has("small_model") {
		opts.SmallModel = ""
	}
	keyRequired := s.keyGate.required.Load()
	if keyRequired {
		opts.APIKey = connect.KeyPlaceholder
	}
	clients := connect.Clients(opts)
	writeJSON(w, http.StatusOK, map[string]any{
		"base_url":         opts.BaseURL,
		"api_key_required": keyRequired,
		"model":            opts.Model,
		"small_model":      opts.SmallModel,
		"clients":          clients,
		"markdown":         connect.Markdown(clients),
	})
}
