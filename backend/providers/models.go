package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"
)

// ModelInfo is one model of a provider's own list, with what the list says
// about it. A zero number or a nil flag means the list does not say.
type ModelInfo struct {
	ID            string
	DisplayName   string // "" when the list gives none
	Created       int64  // Unix seconds; 0 when unknown
	ContextLength int    // the context window (the most input tokens)
	MaxOutput     int    // the most tokens one answer may have
	ToolUse       *bool
	Vision        *bool
	// AnthropicCapabilities is the capabilities object of an Anthropic
	// Models API entry as the provider sent it; nil for other lists.
	AnthropicCapabilities json.RawMessage
}

// maxModelPages bounds how many pages of an Anthropic model list are read:
// a provider that always says has_more cannot keep a fetch going.
const maxModelPages = 50

// ListModels fetches the provider's model list with its credentials:
// GET {base_url}/models from an OpenAI-type provider, every page of
// GET {base_url}/v1/models (limit, after_id) from an Anthropic one. Errors
// are *Error, with the key cut out; ctx bounds the whole fetch.
func (c *Client) ListModels(ctx context.Context) ([]ModelInfo, error) {
	if c.cfg.Type == Anthropic {
		return c.listAnthropicModels(ctx)
	}
	body, err := c.Get(ctx, "/v1/models")
	if err != nil {
		return nil, err
	}
	entries, err := listEntries(body)
	if err != nil {
		return nil, c.listError(err)
	}
	out := make([]ModelInfo, 0, len(entries))
	for _, raw := range entries {
		if m, ok := parseOpenAIModel(raw); ok {
			out = append(out, m)
		}
	}
	return out, nil
}

func (c *Client) listAnthropicModels(ctx context.Context) ([]ModelInfo, error) {
	var out []ModelInfo
	seen := map[string]bool{}
	after := ""
	for range maxModelPages {
		path := "/v1/models?limit=1000"
		if after != "" {
			path += "&after_id=" + url.QueryEscape(after)
		}
		body, err := c.Get(ctx, path)
		if err != nil {
			return nil, err
		}
		var page struct {
			Data    []json.RawMessage `json:"data"`
			HasMore bool              `json:"has_more"`
			LastID  string            `json:"last_id"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, c.listError(err)
		}
		for _, raw := range page.Data {
			if m, ok := parseAnthropicModel(raw); ok && !seen[m.ID] {
				seen[m.ID] = true
				out = append(out, m)
			}
		}
		if !page.HasMore || page.LastID == "" || page.LastID == after {
			return out, nil
		}
		after = page.LastID
	}
	return out, nil
}

func (c *Client) listError(err error) *Error {
	return &Error{Provider: c.cfg.Name, Kind: KindStatus, Status: 502, Message: "its model list is not JSON: " + err.Error()}
}

// listEntries reads the entries of an OpenAI-style list, {"data": [...]},
// or of a bare array, as some compatible servers (Together) answer, or,
// when there is no "data", of an Ollama-style {"models": [...]} whose
// entries name their model in "model" or "name" (llama.cpp's server sends
// both lists; an entry of data is the richer, and is read when there).
func listEntries(body []byte) ([]json.RawMessage, error) {
	var entries []json.RawMessage
	if b := bytes.TrimSpace(body); len(b) > 0 && b[0] == '[' {
		err := json.Unmarshal(b, &entries)
		return entries, err
	}
	var list struct {
		Data   []json.RawMessage `json:"data"`
		Models []struct {
			Model string `json:"model"`
			Name  string `json:"name"`
		} `json:"models"`
	}
	if err := json.Unmarshal(body, &list); err != nil || list.Data != nil {
		return list.Data, err
	}
	for _, m := range list.Models {
		if id := firstNonEmpty(m.Model, m.Name); id != "" {
			raw, _ := json.Marshal(map[string]string{"id": id})
			entries = append(entries, raw)
		}
	}
	return entries, nil
}

// openAIEntry is a model entry of an OpenAI-compatible list, with the
// fields each server family uses for the facts a model picker needs.
type openAIEntry struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`         // OpenRouter
	DisplayName string  `json:"display_name"` // Together
	Created     flexInt `json:"created"`

	ContextLength    flexInt `json:"context_length"`     // OpenRouter, Together, modelbar
	ContextWindow    flexInt `json:"context_window"`     // Groq
	MaxContextLength flexInt `json:"max_context_length"` // Mistral, LM Studio
	MaxModelLen      flexInt `json:"max_model_len"`      // vLLM
	MaxInputTokens   flexInt `json:"max_input_tokens"`   // LiteLLM
	Meta             struct {
		NCtx      flexInt `json:"n_ctx"`       // llama.cpp: the window the server was started with (-c)
		NCtxTrain flexInt `json:"n_ctx_train"` // llama.cpp: the model's trained window
	} `json:"meta"`
	MaxCompletionTokens flexInt `json:"max_completion_tokens"` // Groq
	TopProvider         struct {
		ContextLength       flexInt `json:"context_length"`
		MaxCompletionTokens flexInt `json:"max_completion_tokens"`
	} `json:"top_provider"` // OpenRouter, modelbar

	// Capabilities is an object of flags (Mistral, modelbar) or a list of
	// names (LM Studio, Ollama).
	Capabilities json.RawMessage `json:"capabilities"`
	Architecture struct {
		InputModalities []string `json:"input_modalities"`
	} `json:"architecture"` // OpenRouter, modelbar
	SupportedParameters []string `json:"supported_parameters"` // OpenRouter, modelbar
	Type                string   `json:"type"`                 // LM Studio: "llm" or "vlm"
}

func parseOpenAIModel(raw json.RawMessage) (ModelInfo, bool) {
	var e openAIEntry
	if err := json.Unmarshal(raw, &e); err != nil || e.ID == "" {
		return ModelInfo{}, false
	}
	m := ModelInfo{ID: e.ID, DisplayName: firstNonEmpty(e.DisplayName, e.Name), Created: int64(e.Created)}
	m.ContextLength = int(firstPositive(e.ContextLength, e.TopProvider.ContextLength, e.ContextWindow,
		e.MaxContextLength, e.MaxModelLen, e.MaxInputTokens, e.Meta.NCtx, e.Meta.NCtxTrain))
	m.MaxOutput = int(firstPositive(e.TopProvider.MaxCompletionTokens, e.MaxCompletionTokens))
	switch e.Type {
	case "vlm":
		m.Vision = flag(true)
	case "llm":
		m.Vision = flag(false)
	}
	if e.Architecture.InputModalities != nil {
		m.Vision = flag(slices.Contains(e.Architecture.InputModalities, "image"))
	}
	if e.SupportedParameters != nil {
		m.ToolUse = flag(slices.Contains(e.SupportedParameters, "tools"))
	}
	readCapabilities(e.Capabilities, &m)
	return m, true
}

// readCapabilities reads tool use and vision from a capabilities object
// ({"function_calling": true, "vision": false}) or list (["tool_use"]).
func readCapabilities(raw json.RawMessage, m *ModelInfo) {
	var names []string
	if json.Unmarshal(raw, &names) == nil && names != nil {
		m.ToolUse = flag(slices.Contains(names, "tool_use") || slices.Contains(names, "tools"))
		if slices.Contains(names, "vision") {
			m.Vision = flag(true)
		}
		return
	}
	var flags map[string]json.RawMessage
	if json.Unmarshal(raw, &flags) != nil {
		return
	}
	for _, key := range []string{"function_calling", "tool_use", "tools"} {
		if b, ok := boolField(flags[key]); ok {
			m.ToolUse = flag(b)
			break
		}
	}
	if b, ok := boolField(flags["vision"]); ok {
		m.Vision = flag(b)
	}
}

// anthropicEntry is a model entry of Anthropic's Models API.
type anthropicEntry struct {
	ID             string          `json:"id"`
	DisplayName    string          `json:"display_name"`
	CreatedAt      string          `json:"created_at"`
	MaxInputTokens flexInt         `json:"max_input_tokens"`
	MaxTokens      flexInt         `json:"max_tokens"`
	Capabilities   json.RawMessage `json:"capabilities"`
}

func parseAnthropicModel(raw json.RawMessage) (ModelInfo, bool) {
	var e anthropicEntry
	if err := json.Unmarshal(raw, &e); err != nil || e.ID == "" {
		return ModelInfo{}, false
	}
	m := ModelInfo{ID: e.ID, DisplayName: e.DisplayName, ContextLength: int(e.MaxInputTokens), MaxOutput: int(e.MaxTokens)}
	if t, err := time.Parse(time.RFC3339, e.CreatedAt); err == nil && t.Unix() > 0 {
		m.Created = t.Unix()
	}
	var caps struct {
		ImageInput json.RawMessage `json:"image_input"`
	}
	if len(e.Capabilities) > 0 && json.Unmarshal(e.Capabilities, &caps) == nil {
		m.AnthropicCapabilities = e.Capabilities
		var support struct {
			Supported json.RawMessage `json:"supported"`
		}
		if json.Unmarshal(caps.ImageInput, &support) == nil {
			if b, ok := boolField(support.Supported); ok {
				m.Vision = flag(b)
			}
		}
	}
	return m, true
}

// flexInt reads a JSON number, integral or not, and takes anything else
// (a string, null, an object) as unknown (0): one odd field must not cost
// the whole entry.
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	var f float64
	if json.Unmarshal(b, &f) == nil && f > 0 && f < 1<<53 {
		*n = flexInt(f)
	}
	return nil
}

func firstPositive(ns ...flexInt) flexInt {
	for _, n := range ns {
		if n > 0 {
			return n
		}
	}
	return 0
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

func boolField(raw json.RawMessage) (value, ok bool) {
	err := json.Unmarshal(raw, &value)
	return value, err == nil && len(raw) > 0 && string(raw) != "null"
}

func flag(b bool) *bool { return &b }
