package anthropic

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"

	"github.com/modelbar/modelbar/backend/protocol"
)

// DecodeMessagesRequest validates a /v1/messages request body for
// translation and converts it to the internal model. It runs only when a
// request goes to a backend of another API (or the local engine): a
// request relayed to an Anthropic provider is checked by ParseEnvelope
// alone. Every error is a *protocol.RequestError whose Param is the field
// path in the API's style ("max_tokens",
// "messages.1.content.0.source.media_type", "tools.0.input_schema").
//
// What is checked, because translation needs it: model (a non-empty
// string); max_tokens (a positive integer); messages (a non-empty array;
// role "user", "assistant" or "system"; content a string or an array of
// blocks, non-empty except for the final assistant message, which is then
// dropped: an empty prefill asks for nothing); text blocks non-empty;
// images as base64 (image/jpeg, png, gif or webp) or url sources;
// tool_use (id, name, an input object) and thinking/redacted_thinking only
// in assistant turns, tool_result only in user turns; system (a string or
// text blocks); tools (name matching ^[a-zA-Z0-9_-]{1,128}$, unique;
// input_schema an object of type "object"); tool_choice; temperature and
// top_p in [0, 1]; top_k >= 0; stop_sequences; metadata.user_id; stream.
//
// What is mapped: a system message inside the conversation (the
// mid-conversation-system beta) becomes a protocol.RoleSystem message, or
// part of System when no turn precedes it. Thinking: {"type":"enabled"}
// becomes Thinking{BudgetTokens} (a missing budget: medium effort),
// {"type":"adaptive"} Thinking{Adaptive, Effort} with output_config.effort
// ("high", the API's default, when absent), {"type":"disabled"} no
// Thinking; output_config.effort without thinking is Request.Effort.
// output_config.format (and the older top-level output_format) of type
// json_schema becomes Output.
//
// What is dropped and named in Request.Dropped, because it asks for
// nothing another backend can give and the answer does not depend on it:
// context_management, service_tier, container, mcp_servers, inference_geo,
// cache_control anywhere, metadata members other than user_id,
// output_config members other than effort and format, an effort or
// thinking type newer than this code, server tools ("tool:TYPE"), content
// blocks of types newer than this code ("block:TYPE"), and any other
// top-level field.
//
// Refused because the internal model cannot carry them and they change the
// answer (the error says so and names the field; RequestError.Unsupported):
// document, search_result and container_upload blocks, image sources of
// type "file", and server-tool blocks (server_tool_use,
// web_search_tool_result, ...) in the conversation.
//
// Lenient where the API is strict, leaving the backend to judge: roles
// need not alternate; tool_use ids are not pattern-checked, and the
// pairing of tool_use and tool_result is left to the backend; temperature
// is not checked against thinking, nor a thinking budget against
// max_tokens. Image data is not checked to be valid base64. A thinking
// block needs a signature member, which may be "" (such a block is then
// dropped by EncodeMessagesRequest); text inside a tool_result may be
// empty (a command that printed nothing).
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

// ParseEnvelope checks only what routing and accounting need: that body
// is a JSON object with a non-empty model, a boolean stream if present,
// and a non-empty messages array. It is the whole check for requests relayed byte
// for byte to an Anthropic backend, which judges the rest itself: roles,
// block types, fields and values newer than this code included.
func ParseEnvelope(body []byte) (Envelope, error) {
	var top object
	if err := protocol.DecodeObject(body, &top); err != nil {
		return Envelope{}, err
	}
	var r protocol.Request
	d := requestDecoder{top: top, drops: &drops{}}
	for _, step := range []func(*protocol.Request) error{d.model, d.stream, d.messagesArray} {
		if err := step(&r); err != nil {
			return Envelope{}, err
		}
	}
	return Envelope{Model: r.Model, Stream: r.Stream}, nil
}

// messagesArray checks that messages is a non-empty array (the API
// requires one message at least); what the messages hold is not looked at.
func (d requestDecoder) messagesArray(*protocol.Request) error {
	raw, ok := d.top.get("messages")
	if !ok {
		return reqErr("messages", "is required")
	}
	if !startsWith(raw, '[') {
		return reqErr("messages", "must be an array")
	}
	if rest := bytes.TrimSpace(bytes.TrimSpace(raw)[1:]); len(rest) > 0 && rest[0] == ']' {
		return reqErr("messages", "must contain at least one message")
	}
	return nil
}

func decodeRequest(body []byte, withMaxTokens bool) (protocol.Request, error) {
	var top object
	if err := protocol.DecodeObject(body, &top); err != nil {
		return protocol.Request{}, err
	}
	d := requestDecoder{top: top, withMaxTokens: withMaxTokens, drops: &drops{}}
	steps := []func(*protocol.Request) error{
		d.model, d.maxTokens, d.system, d.messages, d.tools, d.toolChoice,
		d.sampling, d.stopSequences, d.metadata, d.thinking, d.outputConfig, d.stream,
	}
	var r protocol.Request
	for _, step := range steps {
		if err := step(&r); err != nil {
			return protocol.Request{}, err
		}
	}
	d.hints(body)
	r.Dropped = d.drops.list()
	return r, nil
}

// knownFields are the top-level fields decodeRequest reads.
var knownFields = map[string]bool{
	"model": true, "max_tokens": true, "system": true, "messages": true, "tools": true, "tool_choice": true,
	"temperature": true, "top_p": true, "top_k": true, "stop_sequences": true, "metadata": true,
	"thinking": true, "output_config": true, "output_format": true, "stream": true,
}

// cacheControl finds a cache_control member anywhere in a body: inside a
// JSON string a quote is escaped, so an unescaped "cache_control" followed
// by a colon is a key.
var cacheControl = regexp.MustCompile(`"cache_control"\s*:`)

// hints names the top-level fields nothing reads, and cache_control.
func (d requestDecoder) hints(body []byte) {
	for name, raw := range d.top {
		if !knownFields[name] && !protocol.IsNull(raw) {
			d.drops.add(name)
		}
	}
	if cacheControl.Match(body) {
		d.drops.add("cache_control")
	}
}

// drops collects the names of what a translation leaves out, once each.
type drops struct{ names []string }

func (d *drops) add(name string) {
	if !slices.Contains(d.names, name) {
		d.names = append(d.names, name)
	}
}

// list is the names in a stable order.
func (d *drops) list() []string {
	if len(d.names) == 0 {
		return nil
	}
	out := slices.Clone(d.names)
	slices.Sort(out)
	return out
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
	withMaxTokens bool   // /v1/messages; false for count_tokens
	drops         *drops // what translation leaves out
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
	for k := range o {
		if k != "user_id" {
			d.drops.add("metadata." + k)
		}
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

func decodeSystemBlock(path string, raw json.RawMessage) (protocol.Block, error) {
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
		r.Thinking = &protocol.Thinking{Adaptive: true, Effort: "high"}
	case "disabled":
	default:
		d.drops.add("thinking.type=" + typ) // newer than this code: the answer comes without it
	}
	return nil
}

func (d requestDecoder) thinkingBudget(o object, r *protocol.Request) error {
	raw, ok := o.get("budget_tokens")
	if !ok {
		r.Thinking = &protocol.Thinking{Effort: "medium"}
		return nil
	}
	budget, err := asInt("thinking.budget_tokens", raw)
	if err != nil {
		return err
	}
	r.Thinking = &protocol.Thinking{BudgetTokens: budget}
	return nil
}

// minThinkingBudget is the smallest thinking budget the API accepts.
const minThinkingBudget = 1024

// outputConfig reads output_config: effort (which sets the level of
// adaptive thinking, or stands alone as Request.Effort) and format
// (structured output; also the older top-level output_format).
func (d requestDecoder) outputConfig(r *protocol.Request) error {
	if raw, ok := d.top.get("output_format"); ok {
		if err := d.outputFormat("output_format", raw, r); err != nil {
			return err
		}
	}
	raw, ok := d.top.get("output_config")
	if !ok {
		return nil
	}
	o, err := asObject("output_config", raw)
	if err != nil {
		return err
	}
	for k, v := range o {
		switch {
		case protocol.IsNull(v):
		case k == "effort":
			err = d.effort(v, r)
		case k == "format":
			err = d.outputFormat("output_config.format", v, r)
		default:
			d.drops.add("output_config." + k)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// effort reads output_config.effort. A level newer than this code is
// dropped: the model then spends its default effort.
func (d requestDecoder) effort(raw json.RawMessage, r *protocol.Request) error {
	effort, err := asString("output_config.effort", raw)
	switch {
	case err != nil:
		return err
	case !protocol.IsEffort(effort):
		d.drops.add("output_config.effort=" + effort)
	case r.Thinking != nil && r.Thinking.BudgetTokens == 0:
		r.Thinking.Effort = effort
	case r.Thinking == nil:
		r.Effort = effort
	}
	return nil
}

// outputFormat reads a structured-output format: {"type":"json_schema",
// "schema":{...}}.
func (d requestDecoder) outputFormat(path string, raw json.RawMessage, r *protocol.Request) error {
	o, err := asObject(path, raw)
	if err != nil {
		return err
	}
	typ, err := requiredString(o, path, "type", false)
	if err != nil {
		return err
	}
	if typ != "json_schema" {
		return reqErr(at(path, "type"), `must be "json_schema"`)
	}
	schemaRaw, ok := o.get("schema")
	if !ok {
		return reqErr(at(path, "schema"), "is required")
	}
	schema, err := compactObject(at(path, "schema"), schemaRaw)
	if err != nil {
		return err
	}
	r.Output = &protocol.OutputFormat{Schema: schema}
	if path != "output_config.format" {
		r.Output.Field = path
	}
	return nil
}

// toolName is the API's pattern for tool names.
var toolName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)
