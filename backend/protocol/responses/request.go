package responses

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/modelbar/modelbar/backend/protocol"
)

// rawRequest holds the fields DecodeRequest reads, raw.
type rawRequest struct {
	Model             json.RawMessage `json:"model"`
	Input             json.RawMessage `json:"input"`
	Instructions      json.RawMessage `json:"instructions"`
	Tools             json.RawMessage `json:"tools"`
	ToolChoice        json.RawMessage `json:"tool_choice"`
	ParallelToolCalls json.RawMessage `json:"parallel_tool_calls"`
	MaxOutputTokens   json.RawMessage `json:"max_output_tokens"`
	Temperature       json.RawMessage `json:"temperature"`
	TopP              json.RawMessage `json:"top_p"`
	Reasoning         json.RawMessage `json:"reasoning"`
	Text              json.RawMessage `json:"text"`
	Stream            json.RawMessage `json:"stream"`
	User              json.RawMessage `json:"user"`
	Include           json.RawMessage `json:"include"`
	Previous          json.RawMessage `json:"previous_response_id"`
}

// known are the top-level fields that are mapped; any other field set is a
// hint with no counterpart (store, prompt_cache_key, metadata, truncation,
// service_tier, safety_identifier, client_metadata, ...), named in
// Request.Dropped.
var known = map[string]bool{"model": true, "input": true, "instructions": true, "tools": true, "tool_choice": true,
	"parallel_tool_calls": true, "max_output_tokens": true, "temperature": true, "top_p": true, "reasoning": true,
	"text": true, "stream": true, "user": true, "include": true, "previous_response_id": true}

// hosted are the tools the API runs itself: a translated backend cannot,
// so they are dropped and named ("tools.web_search").
var hosted = map[string]bool{"web_search": true, "web_search_preview": true, "web_search_2025_08_26": true,
	"web_search_preview_2025_03_11": true, "file_search": true, "code_interpreter": true, "computer_use": true,
	"computer_use_preview": true, "computer": true, "image_generation": true, "mcp": true, "local_shell": true,
	"shell": true, "apply_patch": true, "tool_search": true}

func errorf(param, format string, args ...any) error {
	return &protocol.RequestError{Param: param, Message: fmt.Sprintf(format, args...)}
}

// DecodeRequest validates a Responses request and converts it. A request
// with previous_response_id is refused: it names a stored response, and
// modelbar stores none yet. Errors are *protocol.RequestError naming the
// field ("input[2].content[0].image_url").
func DecodeRequest(body []byte) (protocol.Request, error) {
	var doc rawRequest
	if err := protocol.DecodeObject(body, &doc); err != nil {
		return protocol.Request{}, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return protocol.Request{}, errorf("", "request body is not valid JSON: %v", err)
	}
	if !protocol.IsNull(doc.Previous) {
		// The gateway makes a request whole (Continue) before decoding it:
		// one still naming a previous response is one it has not stored.
		return protocol.Request{}, errorf("previous_response_id", "modelbar has no stored response of that id to continue "+
			"(it keeps only responses it answered itself, while responses_store is on): send the whole conversation as input, "+
			"or route this model to the provider that made the response")
	}
	d := &decoder{names: Names{Tools: map[string]ToolName{}}}
	var req protocol.Request
	if err := protocol.StringField("model", doc.Model, &req.Model); err != nil {
		return req, err
	}
	if err := protocol.BoolField("stream", doc.Stream, &req.Stream); err != nil {
		return req, err
	}
	steps := []func(*rawRequest, *protocol.Request) error{d.instructions, d.tools, d.input, d.toolChoice, d.params, d.reasoning, d.text, d.include}
	for _, step := range steps {
		if err := step(&doc, &req); err != nil {
			return protocol.Request{}, err
		}
	}
	for name, raw := range top {
		if !known[name] && !protocol.IsNull(raw) {
			d.dropped = append(d.dropped, name)
		}
	}
	req.Dropped = d.dropped
	slices.Sort(req.Dropped)
	req.Dropped = slices.Compact(req.Dropped)
	req.Client = d.names
	return req, nil
}

// decoder is one request's decoding state.
type decoder struct {
	names   Names
	dropped []string
}

func (d *decoder) instructions(doc *rawRequest, req *protocol.Request) error {
	if protocol.IsNull(doc.Instructions) {
		return nil
	}
	var s string
	if json.Unmarshal(doc.Instructions, &s) != nil {
		return errorf("instructions", "must be a string")
	}
	if s != "" {
		req.System = append(req.System, protocol.Block{Type: protocol.BlockText, Text: s})
	}
	return nil
}

func (d *decoder) params(doc *rawRequest, req *protocol.Request) error {
	if !protocol.IsNull(doc.MaxOutputTokens) {
		if json.Unmarshal(doc.MaxOutputTokens, &req.MaxTokens) != nil || req.MaxTokens < 1 {
			return errorf("max_output_tokens", "must be an integer of at least 1")
		}
	}
	for _, f := range []struct {
		name   string
		raw    json.RawMessage
		dst    **float64
		lo, hi float64
	}{{"temperature", doc.Temperature, &req.Temperature, 0, 2}, {"top_p", doc.TopP, &req.TopP, 0, 1}} {
		if protocol.IsNull(f.raw) {
			continue
		}
		var v float64
		if json.Unmarshal(f.raw, &v) != nil || v < f.lo || v > f.hi {
			return errorf(f.name, "must be a number from %v to %v", f.lo, f.hi)
		}
		*f.dst = &v
	}
	if !protocol.IsNull(doc.User) && json.Unmarshal(doc.User, &req.User) != nil {
		return errorf("user", "must be a string")
	}
	if !protocol.IsNull(doc.ParallelToolCalls) {
		var p bool
		if json.Unmarshal(doc.ParallelToolCalls, &p) != nil {
			return errorf("parallel_tool_calls", "must be true or false")
		}
		if !p {
			if req.ToolChoice == nil {
				req.ToolChoice = &protocol.ToolChoice{Mode: protocol.ToolChoiceAuto}
			}
			req.ToolChoice.DisableParallel = true
		}
	}
	return nil
}

// reasoning maps reasoning.effort to Thinking (none: no reasoning);
// reasoning.summary has no counterpart (thinking comes back as its
// summary whatever it says) and is dropped when it asks for none.
func (d *decoder) reasoning(doc *rawRequest, req *protocol.Request) error {
	if protocol.IsNull(doc.Reasoning) {
		return nil
	}
	var r struct {
		Effort  *string `json:"effort"`
		Summary *string `json:"summary"`
	}
	if json.Unmarshal(doc.Reasoning, &r) != nil {
		return errorf("reasoning", "must be an object with effort and summary strings")
	}
	if r.Effort != nil && *r.Effort != "none" {
		if !protocol.IsEffort(*r.Effort) {
			return errorf("reasoning.effort", "must be one of none, %s", strings.Join(protocol.Efforts, ", "))
		}
		req.Thinking = &protocol.Thinking{Effort: *r.Effort}
	}
	if r.Summary != nil && *r.Summary != "auto" && *r.Summary != "concise" && *r.Summary != "detailed" {
		d.dropped = append(d.dropped, "reasoning.summary")
	}
	return nil
}

// text maps text.format json_schema / json_object to Output; text.verbosity
// has no counterpart and is dropped.
func (d *decoder) text(doc *rawRequest, req *protocol.Request) error {
	if protocol.IsNull(doc.Text) {
		return nil
	}
	var t struct {
		Format    json.RawMessage `json:"format"`
		Verbosity json.RawMessage `json:"verbosity"`
	}
	if json.Unmarshal(doc.Text, &t) != nil {
		return errorf("text", "must be an object")
	}
	if !protocol.IsNull(t.Verbosity) {
		d.dropped = append(d.dropped, "text.verbosity")
	}
	if protocol.IsNull(t.Format) {
		return nil
	}
	var f struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Schema      json.RawMessage `json:"schema"`
		Strict      *bool           `json:"strict"`
	}
	if json.Unmarshal(t.Format, &f) != nil {
		return errorf("text.format", "must be an object")
	}
	switch f.Type {
	case "text":
	case "json_object":
		req.Output = &protocol.OutputFormat{}
	case "json_schema":
		if protocol.IsNull(f.Schema) {
			return errorf("text.format.schema", "is required")
		}
		req.Output = &protocol.OutputFormat{Schema: f.Schema, Name: f.Name, Description: f.Description, Strict: f.Strict}
	default:
		return errorf("text.format.type", "must be text, json_object or json_schema")
	}
	return nil
}

func (d *decoder) include(doc *rawRequest, _ *protocol.Request) error {
	if protocol.IsNull(doc.Include) {
		return nil
	}
	var inc []string
	if json.Unmarshal(doc.Include, &inc) != nil {
		return errorf("include", "must be an array of strings")
	}
	for _, s := range inc {
		if s == "reasoning.encrypted_content" {
			d.names.Encrypted = true
		} else {
			d.dropped = append(d.dropped, "include."+s)
		}
	}
	return nil
}
