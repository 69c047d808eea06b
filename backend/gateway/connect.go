package gateway

import (
	"net/http"
	"strings"
	"unicode"

	"github.com/modelbar/modelbar/backend/connect"
	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/router"
)

// maxConnectModels bounds the model names GET /api/connect offers to
// choose from (a provider may list hundreds; the UI suggests, it does not
// browse).
const maxConnectModels = 200

// connectClients serves GET /api/connect: each client's minimal
// configuration for this server (backend/connect), the same snippets
// README.md shows, for the UI's "Connect your tools".
//
// Query: model and small_model name what the snippets ask for; model=
// (empty) leaves Claude Code its own model names. Left out, the snippets
// ask for a model this server has: the first of the model list
// (GET /v1/models: exact routes, then local models, then the provider
// models wildcard routes take), or connect.ModelPlaceholder when it lists
// none; model_source says which ("query", "available", "placeholder") and
// models lists the names to choose from. While inference keys are
// required, the snippets carry connect.KeyPlaceholder where the key goes:
// the admin API cannot show a key (modelbar keeps only hashes).
func (s *Server) connectClients(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := connect.Defaults()
	opts.BaseURL = ClientBaseURL(s.opts.Addr)
	list, _ := s.catalogue()
	models := make([]string, 0, min(len(list), maxConnectModels))
	for _, m := range list[:min(len(list), maxConnectModels)] {
		models = append(models, m.id)
	}
	source := "query"
	if !q.Has("model") && !q.Has("small_model") {
		source, opts.Model, opts.SmallModel = "available", "", ""
		if len(models) == 0 {
			source, opts.Model = "placeholder", connect.ModelPlaceholder
		} else {
			opts.Model = models[0]
		}
	}
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
		"model_source":     source,
		"models":           models,
		"clients":          clients,
		"markdown":         connect.Markdown(clients),
	})
}
