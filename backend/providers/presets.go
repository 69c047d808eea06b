package providers

import (
	"net/url"
	"strings"
)

// Preset names a kind of server a provider is, so that modelbar handles the
// quirks of its OpenAI-compatible API. "" is a generic provider: nothing is
// assumed, and requests are relayed as today.
type Preset struct {
	Name    string `json:"name"`
	Label   string `json:"label"`
	Type    Type   `json:"type"`     // the API the preset's default base URL speaks
	BaseURL string `json:"base_url"` // the server's default address, with /v1 (OpenAI convention)
	Notes   string `json:"notes"`    // the quirks handled, in a sentence for the editor
	// HealthPath is the server's own readiness endpoint, relative to the
	// server root (the base URL without /v1), used by the health check
	// instead of the model list where the list can answer while the
	// engine cannot; "" probes the model list.
	HealthPath string `json:"health_path,omitempty"`
	// UsageOnRequest: its streams carry token usage only when the request
	// asks with stream_options.include_usage. modelbar asks on every
	// relayed stream (to count the tokens) and drops the usage-only chunk
	// when the client did not ask for it.
	UsageOnRequest bool `json:"usage_on_request"`
	// ReasoningField is the message field its reasoning text comes in:
	// "reasoning_content" or "reasoning". modelbar reads both wherever it
	// decodes an OpenAI answer; the field says which one this server uses.
	ReasoningField string `json:"reasoning_field"`
	// TaggedNames: its model names carry a tag, and a name without one
	// means ":latest" (Ollama lists "llama3.2:latest" and answers
	// "llama3.2"), so the two are the same model when modelbar matches a
	// route's model against the provider's list.
	TaggedNames bool `json:"tagged_names"`
}

// presets is the table of known servers, each entry's quirks as their own
// sources and trackers show them:
//
//   - vLLM (port 8000): usage in a stream only with
//     stream_options.include_usage (vllm-project/vllm#6083, #7299 "You have
//     to set stream_options"); the reasoning parser's field is "reasoning"
//     (older releases: "reasoning_content"); GET /v1/models carries
//     max_model_len and owned_by "vllm"; GET /health answers 200 only while
//     the engine core lives, where /v1/models is served by the API process
//     alone.
//   - SGLang (port 30000): usage only when asked (its
//     --stream-response-default-include-usage flag is off by default);
//     reasoning in "reasoning_content", which every chunk carries, null when
//     empty; /v1/models has max_model_len; errors come flat
//     ({"object":"error","message":...}), which modelbar rewraps; GET
//     /health checks the scheduler.
//   - llama.cpp's llama-server (port 8080): the usage-only chunk is gated on
//     include_usage again since ggml-org/llama.cpp#16048; reasoning in
//     "reasoning_content" (--reasoning-format deepseek, the default);
//     /v1/models answers both an Ollama-style "models" array and "data",
//     whose entries carry meta.n_ctx (the served window) and
//     meta.n_ctx_train, and in router mode no meta at all; GET /health is
//     503 while a model loads.
//   - Ollama (port 11434): usage only when asked (its OpenAI compatibility
//     lists stream_options.include_usage); reasoning in "reasoning"; model
//     ids are tagged ("llama3.2:latest") and a bare name means ":latest";
//     its /v1/models gives no context length.
//   - LM Studio (port 1234): no usage in streams unless asked
//     (lmstudio-bug-tracker#713, later honoured); "reasoning_content", or
//     "reasoning" for some models since 0.3.23
//     (lmstudio-bug-tracker#894); /v1/models entries are id, object and
//     owned_by only (no created, no window); no health endpoint.
//   - another modelbar (port 11500): usage chunk only when asked, as
//     OpenAI does; "reasoning_content"; its /v1/models gives context_length
//     and capabilities. Its list is probed (it needs the inference key when
//     keys are required, which /healthz does not prove).
var presets = []Preset{
	{Name: "vllm", Label: "vLLM", Type: OpenAI, BaseURL: "http://localhost:8000/v1", HealthPath: "/health",
		UsageOnRequest: true, ReasoningField: "reasoning",
		Notes: "Stream usage is asked for (vLLM sends it only then); reasoning read from \"reasoning\" or \"reasoning_content\"; the context window comes from max_model_len; the health check uses /health, which fails when the engine dies."},
	{Name: "sglang", Label: "SGLang", Type: OpenAI, BaseURL: "http://localhost:30000/v1", HealthPath: "/health",
		UsageOnRequest: true, ReasoningField: "reasoning_content",
		Notes: "Stream usage is asked for; reasoning read from \"reasoning_content\"; its flat error bodies are rewrapped in OpenAI's shape; the context window comes from max_model_len; the health check uses /health."},
	{Name: "llamacpp", Label: "llama.cpp server", Type: OpenAI, BaseURL: "http://localhost:8080/v1", HealthPath: "/health",
		UsageOnRequest: true, ReasoningField: "reasoning_content",
		Notes: "Stream usage is asked for; reasoning read from \"reasoning_content\"; the context window comes from meta.n_ctx (else n_ctx_train) of its model list; the health check uses /health, which is 503 while a model loads."},
	{Name: "ollama", Label: "Ollama", Type: OpenAI, BaseURL: "http://localhost:11434/v1",
		UsageOnRequest: true, ReasoningField: "reasoning", TaggedNames: true,
		Notes: "Stream usage is asked for; reasoning read from \"reasoning\"; \"llama3.2\" and \"llama3.2:latest\" name the same model; its list gives no context window (set max_context on the route)."},
	{Name: "lmstudio", Label: "LM Studio", Type: OpenAI, BaseURL: "http://localhost:1234/v1",
		UsageOnRequest: true, ReasoningField: "reasoning_content",
		Notes: "Stream usage is asked for; reasoning read from \"reasoning_content\" or \"reasoning\"; its list has ids only (set max_context on the route); the health check lists its models."},
	{Name: "modelbar", Label: "Another modelbar", Type: OpenAI, BaseURL: "http://localhost:11500/v1",
		UsageOnRequest: true, ReasoningField: "reasoning_content",
		Notes: "Stream usage is asked for; its model list gives context windows and capabilities; the health check lists its models with the inference key, if it needs one."},
}

// Presets lists the known servers, in the order an editor shows them.
func Presets() []Preset { return append([]Preset(nil), presets...) }

// LookupPreset returns the preset called name; "" is the generic preset
// (the zero Preset) and found.
func LookupPreset(name string) (Preset, bool) {
	if name == "" {
		return Preset{}, true
	}
	for _, p := range presets {
		if p.Name == name {
			return p, true
		}
	}
	return Preset{}, false
}

// PresetNames lists the names LookupPreset knows, "" excluded.
func PresetNames() []string {
	names := make([]string, len(presets))
	for i, p := range presets {
		names[i] = p.Name
	}
	return names
}

// DefaultBaseURL is the preset's address in the convention of API t: its
// own base URL for its own type, without the trailing /v1 for the
// Anthropic API (whose SDKs add it). The generic preset has the vendor's
// (DefaultBaseURL).
func (p Preset) DefaultBaseURL(t Type) string {
	if p.Name == "" {
		return DefaultBaseURL(t)
	}
	if t == Anthropic {
		return strings.TrimSuffix(p.BaseURL, "/v1")
	}
	return p.BaseURL
}

// ModelKey is the name under which a model is matched against this
// preset's lists: with TaggedNames, a name without a tag gets ":latest".
// The tag is what follows ':' in the last path segment, so a registry
// host's port ("host:5000/llama3.2") is not one.
func (p Preset) ModelKey(name string) string {
	if !p.TaggedNames || name == "" {
		return name
	}
	if last := name[strings.LastIndex(name, "/")+1:]; strings.Contains(last, ":") {
		return name
	}
	return name + ":latest"
}

// healthURL is where the health check asks the preset's server: the
// HealthPath at the root of base (base without its trailing /v1); "" when
// the preset has none or base does not end in /v1 (a proxy's prefix whose
// root modelbar cannot know).
func (p Preset) healthURL(base string) string {
	if p.HealthPath == "" {
		return ""
	}
	u, err := url.Parse(base)
	if err != nil || !strings.HasSuffix(u.Path, "/v1") {
		return ""
	}
	u.Path = strings.TrimSuffix(u.Path, "/v1") + p.HealthPath
	return u.String()
}
