package anthropic

import (
	"encoding/json"
	"regexp"

	"github.com/modelbar/modelbar/backend/protocol"
)

// DecodeMessagesRequest validates a /v1/messages request body as the
// Messages API does and converts it to the internal model. Every error is a
// *protocol.RequestError whose Param is the field path in the API's style
// ("max_tokens", "messages.1.content.0.source.media_type",
// "tools.0.input_schema").
//
// What is checked, as the API checks it: model (a non-empty string);
// max_tokens (a positive integer); messages (a non-empty array; role "user"
// or "assistant"; content a string or an array of blocks, non-empty except
// for the final assistant message, which is then dropped: an empty prefill
// asks for nothing); text blocks non-empty; images as base64 (image/jpeg,
// png, gif or webp) or url sources; tool_use (id, name, an input object) and
// thinking/redacted_thinking only in assistant turns, tool_result only in
// user turns; system (a string or text blocks); tools (name matching
// ^[a-zA-Z0-9_-]{1,128}$, unique; input_schema an object of type "object");
// tool_choice; temperature and top_p in [0, 1]; top_k >= 0; stop_sequences;
// metadata.user_id; thinking (enabled with budget_tokens >= 1024 and below
// max_tokens, disabled, or adaptive with output_config.effort); stream.
//
// Refused because the internal model cannot carry them (the error says so
// and names the field): document, search_result and container_upload
// blocks, image sources of type "file", server-tool blocks
// (server_tool_use, web_search_tool_result, mcp_tool_use, ...) and server
// tools (any tools.N.type other than "custom": web_search_20250305,
// bash_20250124, text_editor_*, computer_*, ...).
//
// Lenient where the API is strict, leaving the backend to judge: unknown
// top-level fields (service_tier, container, mcp_servers,
// context_management, output_config.format, ...) and unknown members of
// known objects are ignored; cache_control and citations are accepted and
// dropped; roles need not alternate (the API merges consecutive turns);
// tool_use ids are not pattern-checked, and the pairing of tool_use and
// tool_result is left to the backend; temperature is not checked against
// thinking. Image data is not checked to be valid base64. A thinking block
// needs a signature member, which may be "" (such a block is then dropped
// by EncodeMessagesRequest); text inside a tool_result may be empty (a
// command that printed nothing).
//
// Adaptive thinking ({"type":"adaptive"}) becomes Thinking{Effort: e}, e
// being output_config.effort ("max" becomes "high", the internal model's
// highest level) or "high", the API's default. {"type":"disabled"} is no
// Thinking at all.
func DecodeMessagesRequest(body []byte) (protocol.Request, error) {
	return decodeRequest(body, true)
}

// DecodeCountTokensRequest is DecodeMessagesRequest for
// /v1/messages/count_tokens, where max_tokens is not part of the request:
// it is ignored if sent, Request.MaxTokens is 0, and a thinking budget is
// not compared with it.
func DecodeCountTokensRequest(body []byte) (protocol.Request, error) {
	return decodeRequest(body, false)
}

// Envelope is what a gateway needs of a Messages request to route it when
// the body travels on untouched to an Anthropic backend.
type Envelope struct {
	Model  string
	Stream bool
}

// ParseEnvelope checks only that body is a JSON object with a non-empty
// model and, if present, a boolean stream. It is the check for requests
// relayed byte for byte to an Anthropic backend, which judges the rest
// itself: DecodeMessagesRequest refuses what modelbar cannot translate
// (documents, server tools) although such a backend would accept it.
func ParseEnvelope(body []byte) (Envelope, error) {
	var top object
	if err := protocol.DecodeObject(body, &top); err != nil {
		return Envelope{}, err
	}
	var r protocol.Request
	d := requestDecoder{top: top}
	for _, step := range []func(*protocol.Request) error{d.model, d.stream} {
		if err := step(&r); err != nil {
			return Envelope{}, err
		}
	}
	return Envelope{Model: r.Model, Stream: r.Stream}, nil
}

func decodeRequest(body []byte, withMaxTokens bool) (protocol.Request, error) {
	var top object
	if err := protocol.DecodeObject(body, &top); err != nil {
		return protocol.Request{}, err
	}
	d := requestDecoder{top: top, withMaxTokens: withMaxTokens}
	steps := []func(*protocol.Request) error{
		d.model, d.maxTokens, d.system, d.messages, d.tools, d.toolChoice,
		d.sampling, d.stopSequences, d.metadata, d.thinking, d.stream, d.untranslatable,
	}
	var r protocol.Request
	for _, step := range steps {
		if err := step(&r); err != nil {
			return protocol.Request{}, err
		}
	}
	return r, nil
}

// untranslatable records the fields only Anthropic can honour: structured
// output formats (output_config.format), context management, MCP servers
// and code-execution containers.
func (d requestDecoder) untranslatable(r *protocol.Request) error {
	for _, name := range []string{"context_management", "mcp_servers", "container"} {
		if raw, ok := d.top.get(name); ok && !protocol.IsNull(raw) {
			r.Untranslatable = append(r.Untranslatable, name)
		}
	}
	if raw, ok := d.top.get("output_config"); ok {
		var cfg map[string]json.RawMessage
		if json.Unmarshal(raw, &cfg) == nil && !protocol.IsNull(cfg["format"]) {
			r.Untranslatable = append(r.Untranslatable, "output_config.format")
		}
	}
	return nil
}

// typedObject reads an optional top-level object with a required "type"
// (tool_choice, thinking); ok is false when the field is absent.
func (d requestDecoder) typedObject(field string) (o object, typ string, ok bool, err error) {
	raw, ok := d.top.get(field)
	if !ok {
		return nil, "", false, nil
	}
	if o, err = asObject(field, raw); err != nil {
		return nil, "", true, err
	}
	typ, err = requiredString(o, field, "type", false)
	return o, typ, true, err
}

// requestDecoder decodes the top-level fields of a request, one step each.
type requestDecoder struct {
	top           object
	withMaxTokens bool // /v1/messages; false for count_tokens
}

func (d requestDecoder) model(r *protocol.Request) (err error) {
	r.Model, err = requiredString(d.top, "", "model", true)
	return err
}

func (d requestDecoder) maxTokens(r *protocol.Request) error {
	if !d.withMaxTokens {
		return nil
	}
	raw, ok := d.top.get("max_tokens")
	if !ok {
		return reqErr("max_tokens", "is required")
	}
	n, err := asInt("max_tokens", raw)
	if err == nil && n < 1 {
		err = reqErr("max_tokens", "must be at least 1")
	}
	r.MaxTokens = n
	return err
}

func (d requestDecoder) stream(r *protocol.Request) (err error) {
	if raw, ok := d.top.get("stream"); ok {
		r.Stream, err = asBool("stream", raw)
	}
	return err
}

func (d requestDecoder) sampling(r *protocol.Request) error {
	var err error
	if r.Temperature, err = unitInterval(d.top, "temperature"); err != nil {
		return err
	}
	if r.TopP, err = unitInterval(d.top, "top_p"); err != nil {
		return err
	}
	raw, ok := d.top.get("top_k")
	if !ok {
		return nil
	}
	k, err := asInt("top_k", raw)
	if err == nil && k < 0 {
		err = reqErr("top_k", "must not be negative")
	}
	r.TopK = &k
	return err
}

// unitInterval decodes an optional number in [0, 1].
func unitInterval(o object, key string) (*float64, error) {
	raw, ok := o.get(key)
	if !ok {
		return nil, nil
	}
	f, err := asFloat(key, raw)
	if err == nil && (f < 0 || f > 1) {
		err = reqErr(key, "must be between 0 and 1")
	}
	return &f, err
}

func (d requestDecoder) stopSequences(r *protocol.Request) error {
	raw, ok := d.top.get("stop_sequences")
	if !ok {
		return nil
	}
	items, err := asArray("stop_sequences", raw)
	if err != nil {
		return err
	}
	for i, item := range items {
		s, err := asString(at("stop_sequences", i), item)
		if err != nil {
			return err
		}
		r.StopSequences = append(r.StopSequences, s)
	}
	return nil
}

func (d requestDecoder) metadata(r *protocol.Request) error {
	raw, ok := d.top.get("metadata")
	if !ok {
		return nil
	}
	o, err := asObject("metadata", raw)
	if err != nil {
		return err
	}
	r.User, err = optionalString(o, "metadata", "user_id")
	return err
}

func (d requestDecoder) system(r *protocol.Request) error {
	raw, ok := d.top.get("system")
	if !ok {
		return nil
	}
	if startsWith(raw, '"') {
		s, err := asString("system", raw)
		if s != "" {
			r.System = []protocol.Block{{Type: protocol.BlockText, Text: s}}
		}
		return err
	}
	items, err := asArray("system", raw)
	if err != nil {
		return reqErr("system", "must be a string or an array of text blocks")
	}
	for i, item := range items {
		b, err := decodeSystemBlock(at("system", i), item)
		if err != nil {
			return err
		}
		r.System = append(r.System, b)
	}
	return nil
}

func decodeSystemBlock(path string, raw []byte) (protocol.Block, error) {
	o, err := asObject(path, raw)
	if err != nil {
		return protocol.Block{}, err
	}
	typ, err := requiredString(o, path, "type", false)
	if err != nil {
		return protocol.Block{}, err
	}
	if typ != "text" {
		return protocol.Block{}, reqErr(at(path, "type"), `must be "text": the system prompt takes text blocks only`)
	}
	return decodeText(o, path)
}

func (d requestDecoder) thinking(r *protocol.Request) error {
	o, typ, ok, err := d.typedObject("thinking")
	if !ok || err != nil {
		return err
	}
	switch typ {
	case "enabled":
		return d.thinkingBudget(o, r)
	case "adaptive":
		effort, err := d.effort()
		r.Thinking = &protocol.Thinking{Effort: effort}
		return err
	case "disabled":
		return nil
	}
	return reqErr("thinking.type", `must be "enabled", "disabled" or "adaptive"`)
}

func (d requestDecoder) thinkingBudget(o object, r *protocol.Request) error {
	raw, ok := o.get("budget_tokens")
	if !ok {
		return reqErr("thinking.budget_tokens", "is required when thinking is enabled")
	}
	budget, err := asInt("thinking.budget_tokens", raw)
	switch {
	case err != nil:
		return err
	case budget < minThinkingBudget:
		return reqErr("thinking.budget_tokens", "must be at least %d", minThinkingBudget)
	case d.withMaxTokens && budget >= r.MaxTokens:
		return reqErr("thinking.budget_tokens", "must be less than max_tokens (%d)", r.MaxTokens)
	}
	r.Thinking = &protocol.Thinking{BudgetTokens: budget}
	return nil
}

// minThinkingBudget is the smallest thinking budget the API accepts.
const minThinkingBudget = 1024

// effort reads output_config.effort for adaptive thinking.
func (d requestDecoder) effort() (string, error) {
	raw, ok := d.top.get("output_config")
	if !ok {
		return "high", nil
	}
	o, err := asObject("output_config", raw)
	if err != nil {
		return "", err
	}
	effort, err := optionalString(o, "output_config", "effort")
	switch {
	case err != nil:
		return "", err
	case effort == "" || effort == "max":
		return "high", nil
	case effort == "low" || effort == "medium" || effort == "high":
		return effort, nil
	}
	return "", reqErr("output_config.effort", `must be "low", "medium", "high" or "max"`)
}

// toolName is the API's pattern for tool names.
var toolName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)
