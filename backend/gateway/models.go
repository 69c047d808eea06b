package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/modelbar/modelbar/backend/providers"
)

// openAIModel is a model object of the OpenAI API. OpenAI's own four
// fields come first. The rest say what a model picker needs, in the form
// of OpenRouter's model list, which OpenRouter clients with a base URL of
// one's choosing read (Zed's needs name, description and created, and
// reads context_length, supported_parameters and architecture), with
// Mistral's capabilities object as an explicit yes or no:
//
//   - name, description: the display name and where the model goes;
//   - context_length: the context window in tokens;
//   - capabilities {function_calling, vision}: tool use and image input;
//   - architecture.input_modalities: "image" when the model takes images;
//   - supported_parameters: "tools" and "tool_choice" when it calls tools;
//   - top_provider {context_length, max_completion_tokens}: the window and
//     the longest answer.
//
// A fact that is not known is left out (name and description are always
// there).
type openAIModel struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`

	Name                string             `json:"name"`
	Description         string             `json:"description"`
	ContextLength       int                `json:"context_length,omitempty"`
	Capabilities        *modelCapabilities `json:"capabilities,omitempty"`
	Architecture        *modelArchitecture `json:"architecture,omitempty"`
	SupportedParameters []string           `json:"supported_parameters,omitempty"`
	TopProvider         *topProvider       `json:"top_provider,omitempty"`
}

type modelCapabilities struct {
	FunctionCalling *bool `json:"function_calling,omitempty"`
	Vision          *bool `json:"vision,omitempty"`
}

type modelArchitecture struct {
	InputModalities  []string `json:"input_modalities"`
	OutputModalities []string `json:"output_modalities"`
}

type topProvider struct {
	ContextLength       int `json:"context_length,omitempty"`
	MaxCompletionTokens int `json:"max_completion_tokens,omitempty"`
}

func toOpenAIModel(m listed) openAIModel {
	out := openAIModel{ID: m.id, Object: "model", Created: m.created, OwnedBy: m.owner,
		Name: m.name, Description: m.description(), ContextLength: m.facts.ContextLength}
	f := m.facts
	if f.ToolUse != nil || f.Vision != nil {
		out.Capabilities = &modelCapabilities{FunctionCalling: f.ToolUse, Vision: f.Vision}
	}
	if f.Vision != nil {
		out.Architecture = &modelArchitecture{InputModalities: []string{"text"}, OutputModalities: []string{"text"}}
		if *f.Vision {
			out.Architecture.InputModalities = append(out.Architecture.InputModalities, "image")
		}
	}
	if f.ToolUse != nil && *f.ToolUse {
		out.SupportedParameters = []string{"tools", "tool_choice"}
	}
	if f.ContextLength > 0 || f.MaxOutput > 0 {
		out.TopProvider = &topProvider{ContextLength: f.ContextLength, MaxCompletionTokens: f.MaxOutput}
	}
	return out
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	if anthropicClient(r) {
		s.listAnthropicModels(w, r)
		return
	}
	all, _ := s.catalogue()
	data := make([]openAIModel, 0, len(all))
	for _, m := range all {
		data = append(data, toOpenAIModel(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

// anthropicClient reports whether a request comes from an Anthropic SDK
// (they all send anthropic-version): GET /v1/models is the one path both
// APIs share, each with its own answer.
func anthropicClient(r *http.Request) bool { return r.Header.Get("anthropic-version") != "" }

// anthropicModel is a model object of the Anthropic API, with the limits
// and capabilities Anthropic's Models API gives where they are known: an
// Anthropic provider's capabilities object as it sent it, else
// image_input alone.
type anthropicModel struct {
	Type           string          `json:"type"`
	ID             string          `json:"id"`
	DisplayName    string          `json:"display_name"`
	CreatedAt      string          `json:"created_at"`
	MaxInputTokens int             `json:"max_input_tokens,omitempty"`
	MaxTokens      int             `json:"max_tokens,omitempty"`
	Capabilities   json.RawMessage `json:"capabilities,omitempty"`
}

func toAnthropicModel(m listed) anthropicModel {
	out := anthropicModel{Type: "model", ID: m.id, DisplayName: m.name, CreatedAt: time.Unix(m.created, 0).UTC().Format(time.RFC3339),
		MaxInputTokens: m.facts.ContextLength, MaxTokens: m.facts.MaxOutput, Capabilities: m.facts.AnthropicCapabilities}
	if out.Capabilities == nil && m.facts.Vision != nil {
		out.Capabilities, _ = json.Marshal(map[string]any{"image_input": map[string]bool{"supported": *m.facts.Vision}})
	}
	return out
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
	all, _ := s.catalogue()
	start, end := 0, len(all)
	if id := q.Get("after_id"); id != "" {
		start = slices.IndexFunc(all, func(m listed) bool { return m.id == id }) + 1
		end = min(len(all), start+limit)
	} else if id := q.Get("before_id"); id != "" {
		if end = slices.IndexFunc(all, func(m listed) bool { return m.id == id }); end < 0 {
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

// getModel answers a listed model as the list shows it, or any other name
// a route would take (wildcard and hidden routes included), owned by the
// backend it would go to.
func (s *Server) getModel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("model")
	if err := checkModelName(id); err != nil {
		s.fail(w, r, err)
		return
	}
	reply := func(m listed) {
		if anthropicClient(r) {
			writeJSON(w, http.StatusOK, toAnthropicModel(m))
			return
		}
		writeJSON(w, http.StatusOK, toOpenAIModel(m))
	}
	all, o := s.catalogue()
	if i := slices.IndexFunc(all, func(m listed) bool { return m.id == id }); i >= 0 {
		reply(all[i])
		return
	}
	if plan, err := s.cfg.Table().ResolveContext(r.Context(), id); err == nil && (plan.Route != nil || s.localHas(id)) {
		reply(s.entry(plan, o))
		return
	}
	s.fail(w, r, &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Param: "model", Code: "model_not_found",
		Message: fmt.Sprintf("model %s not found", quoteName(id))})
}

// newCatalog starts the provider model lists behind GET /v1/models and
// context-window routing: the providers that enabled routes send to (a
// list is fetched once asked for), refetched after every configuration
// change that gives a provider a new client.
func (s *Server) newCatalog() *providers.Catalog {
	c := providers.NewCatalog(s.cfg.Clients(), providers.CatalogOptions{
		Wanted: func() []string { return routedBackends(s.cfg.Table().Routes()) },
		Log:    s.log,
	})
	s.cfg.OnChange(c.Refresh)
	return c
}
