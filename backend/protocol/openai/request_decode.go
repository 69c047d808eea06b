package openai

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/modelbar/modelbar/backend/protocol"
)

// rawRequest is a chat completion request with every field modelbar reads
// kept raw, so each can be validated with an error that names it. Unknown
// fields are ignored, as by OpenAI-compatible servers.
type rawRequest struct {
	Model               json.RawMessage `json:"model"`
	Messages            json.RawMessage `json:"messages"`
	Tools               json.RawMessage `json:"tools"`
	ToolChoice          json.RawMessage `json:"tool_choice"`
	ParallelToolCalls   json.RawMessage `json:"parallel_tool_calls"`
	Functions           json.RawMessage `json:"functions"`
	FunctionCall        json.RawMessage `json:"function_call"`
	MaxTokens           json.RawMessage `json:"max_tokens"`
	MaxCompletionTokens json.RawMessage `json:"max_completion_tokens"`
	Temperature         json.RawMessage `json:"temperature"`
	TopP                json.RawMessage `json:"top_p"`
	TopK                json.RawMessage `json:"top_k"`
	MinP                json.RawMessage `json:"min_p"`
	RepetitionPenalty   json.RawMessage `json:"repetition_penalty"`
	Stop                json.RawMessage `json:"stop"`
	User                json.RawMessage `json:"user"`
	ReasoningEffort     json.RawMessage `json:"reasoning_effort"`
	Stream              json.RawMessage `json:"stream"`
	StreamOptions       json.RawMessage `json:"stream_options"`
	N                   json.RawMessage `json:"n"`
	Seed                json.RawMessage `json:"seed"`
	PresencePenalty     json.RawMessage `json:"presence_penalty"`
	FrequencyPenalty    json.RawMessage `json:"frequency_penalty"`
	LogitBias           json.RawMessage `json:"logit_bias"`
	Logprobs            json.RawMessage `json:"logprobs"`
	TopLogprobs         json.RawMessage `json:"top_logprobs"`
	ResponseFormat      json.RawMessage `json:"response_format"`
	Modalities          json.RawMessage `json:"modalities"`
	Audio               json.RawMessage `json:"audio"`
	Prediction          json.RawMessage `json:"prediction"`
	WebSearchOptions    json.RawMessage `json:"web_search_options"`
}

// DecodeChatRequest validates an OpenAI chat completion request body and
// converts it. Errors are *protocol.RequestError with Param naming the field
// in OpenAI terms ("messages[2].content[0].image_url.url",
// "tools[0].function.name", "max_tokens"); a body that is not a JSON object
// has Param "".
//
// Validation follows OpenAI's API for types, required fields and value
// ranges (temperature 0-2, top_p 0-1, penalties -2-2, n 1-128, top_logprobs
// 0-20 and only with logprobs, max_tokens at least 1). It is deliberately
// no stricter than OpenAI-compatible servers where OpenAI's own limits are
// per model: stop may hold any number of sequences, and a tool message need
// not answer a call of the message before it. The mapping of each field is
// documented where it is decoded: messages (decodeMessages), tools and
// tool_choice (decodeTools, decodeToolChoice), and the rest below.
func DecodeChatRequest(body []byte) (protocol.Request, error) {
	var doc rawRequest
	if err := protocol.DecodeObject(body, &doc); err != nil {
		return protocol.Request{}, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return protocol.Request{}, fieldError("", "request body is not valid JSON: %v", err)
	}
	var req protocol.Request
	steps := []func(*rawRequest, *protocol.Request) error{
		decodeModel, decodeMessages, decodeTools, decodeToolChoice,
		decodeMaxTokens, decodeSampling, decodeOpenAIOnly, decodeOutput, decodeStreaming, noteUntranslatable,
	}
	for _, step := range steps {
		if err := step(&doc, &req); err != nil {
			return protocol.Request{}, err
		}
	}
	req.Dropped = append(req.Dropped, hints(top)...)
	slices.Sort(req.Dropped)
	req.Dropped = slices.Compact(req.Dropped)
	return req, nil
}

// knownFields are the top-level fields DecodeChatRequest reads.
var knownFields = func() map[string]bool {
	known := map[string]bool{}
	t := reflect.TypeFor[rawRequest]()
	for i := range t.NumField() {
		known[strings.Split(t.Field(i).Tag.Get("json"), ",")[0]] = true
	}
	return known
}()

// hints names the fields of a request that no other API can carry and
// that leave the answer as it is (store, metadata, service_tier,
// prompt_cache_key, safety_identifier, verbosity, ... and any field newer
// than this code): a translation drops them and says so.
func hints(top map[string]json.RawMessage) []string {
	var out []string
	for name, raw := range top {
		if !knownFields[name] && !protocol.IsNull(raw) {
			out = append(out, name)
		}
	}
	return out
}

// noteUntranslatable records the OpenAI fields that change what the model
// produces and that no other API can carry: audio output (modalities
// beyond "text", audio). Predicted outputs (a speed-up) and web search
// (a hosted tool the backend cannot run) are dropped instead, named in
// Request.Dropped.
func noteUntranslatable(doc *rawRequest, req *protocol.Request) error {
	var modalities []string
	if json.Unmarshal(doc.Modalities, &modalities) == nil && slices.ContainsFunc(modalities, func(m string) bool { return m != "text" }) {
		req.Untranslatable = append(req.Untranslatable, "modalities")
	}
	if !protocol.IsNull(doc.Audio) {
		req.Untranslatable = append(req.Untranslatable, "audio")
	}
	for name, raw := range map[string]json.RawMessage{"prediction": doc.Prediction, "web_search_options": doc.WebSearchOptions} {
		if !protocol.IsNull(raw) {
			req.Dropped = append(req.Dropped, name)
		}
	}
	slices.Sort(req.Untranslatable)
	return nil
}

func decodeModel(doc *rawRequest, req *protocol.Request) (err error) {
	req.Model, err = reqString("model", doc.Model)
	return err
}

// decodeMaxTokens: max_completion_tokens (the current name) wins over
// max_tokens (the deprecated one) when both are given.
func decodeMaxTokens(doc *rawRequest, req *protocol.Request) error {
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{{"max_completion_tokens", doc.MaxCompletionTokens}, {"max_tokens", doc.MaxTokens}} {
		n, err := optInt(f.name, f.raw, 1, math.MaxInt)
		if err != nil {
			return err
		}
		if n != nil && req.MaxTokens == 0 {
			req.MaxTokens = *n
		}
	}
	return nil
}

// decodeSampling reads temperature, top_p, top_k and stop. top_k is not
// OpenAI's but vLLM's, Ollama's and others' extension; a value of 0 or less
// (their way of saying "no top-k") leaves TopK unset. stop is a string or an
// array of strings; empty strings are dropped (they could never match).
func decodeSampling(doc *rawRequest, req *protocol.Request) (err error) {
	if req.Temperature, err = optFloat("temperature", doc.Temperature, 0, 2); err != nil {
		return err
	}
	if req.TopP, err = optFloat("top_p", doc.TopP, 0, 1); err != nil {
		return err
	}
	topK, err := optInt("top_k", doc.TopK, math.MinInt, math.MaxInt)
	if err != nil {
		return err
	}
	if topK != nil && *topK > 0 {
		req.TopK = topK
	}
	if req.MinP, err = optFloat("min_p", doc.MinP, 0, 1); err != nil {
		return err
	}
	if req.MinP != nil && *req.MinP == 0 {
		req.MinP = nil // 0 is off: the servers' default
	}
	if req.RepetitionPenalty, err = optFloat("repetition_penalty", doc.RepetitionPenalty, 0, 10); err != nil {
		return err
	}
	if req.RepetitionPenalty != nil && *req.RepetitionPenalty == 1 {
		req.RepetitionPenalty = nil // 1 is off
	}
	req.StopSequences, err = decodeStop(doc.Stop)
	return err
}

func decodeStop(raw json.RawMessage) ([]string, error) {
	if protocol.IsNull(raw) {
		return nil, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		raw, _ = json.Marshal([]string{one})
	}
	var all []string
	if json.Unmarshal(raw, &all) != nil {
		return nil, fieldError("stop", "must be a string or an array of strings")
	}
	all = slices.DeleteFunc(all, func(s string) bool { return s == "" })
	if len(all) == 0 {
		return nil, nil
	}
	return all, nil
}

// decodeOpenAIOnly reads the fields only OpenAI has: n, seed, the
// penalties, logit_bias (an object of token id to bias -100..100),
// logprobs and top_logprobs. Those that hold OpenAI's default are left
// unset (see dropDefaults).
func decodeOpenAIOnly(doc *rawRequest, req *protocol.Request) (err error) {
	if req.N, err = optInt("n", doc.N, 1, 128); err != nil {
		return err
	}
	if err = decodeSeed(doc.Seed, req); err != nil {
		return err
	}
	if req.PresencePenalty, err = optFloat("presence_penalty", doc.PresencePenalty, -2, 2); err != nil {
		return err
	}
	if req.FrequencyPenalty, err = optFloat("frequency_penalty", doc.FrequencyPenalty, -2, 2); err != nil {
		return err
	}
	if err = decodeLogitBias(doc.LogitBias, req); err != nil {
		return err
	}
	if req.Logprobs, err = optBool("logprobs", doc.Logprobs); err != nil {
		return err
	}
	if req.TopLogprobs, err = optInt("top_logprobs", doc.TopLogprobs, 0, 20); err != nil {
		return err
	}
	if req.TopLogprobs != nil && (req.Logprobs == nil || !*req.Logprobs) {
		return fieldError("top_logprobs", "requires logprobs to be true")
	}
	dropDefaults(req)
	return nil
}

// dropDefaults unsets the OpenAI-only fields that hold OpenAI's default
// value (n 1, penalties 0, logprobs false, top_logprobs 0, logit_bias {}):
// they ask for nothing, many clients send them always, and a backend
// without the field (Anthropic) must not refuse a request for them.
func dropDefaults(req *protocol.Request) {
	if req.N != nil && *req.N == 1 {
		req.N = nil
	}
	if req.PresencePenalty != nil && *req.PresencePenalty == 0 {
		req.PresencePenalty = nil
	}
	if req.FrequencyPenalty != nil && *req.FrequencyPenalty == 0 {
		req.FrequencyPenalty = nil
	}
	if req.Logprobs != nil && !*req.Logprobs {
		req.Logprobs = nil
	}
	if req.TopLogprobs != nil && *req.TopLogprobs == 0 {
		req.TopLogprobs = nil
	}
}

func decodeSeed(raw json.RawMessage, req *protocol.Request) error {
	if protocol.IsNull(raw) {
		return nil
	}
	var seed int64
	if json.Unmarshal(raw, &seed) != nil {
		return fieldError("seed", "must be an integer")
	}
	req.Seed = &seed
	return nil
}

func decodeLogitBias(raw json.RawMessage, req *protocol.Request) error {
	if protocol.IsNull(raw) {
		return nil
	}
	var bias map[string]float64
	if json.Unmarshal(raw, &bias) != nil {
		return fieldError("logit_bias", "must be an object mapping token ids to numbers")
	}
	for tok, b := range bias {
		if b < -100 || b > 100 {
			return fieldError("logit_bias", "bias of token %s must be between -100 and 100", tok)
		}
	}
	if len(bias) > 0 {
		req.LogitBias = raw
	}
	return nil
}

// decodeOutput reads user, reasoning_effort and response_format.
// reasoning_effort "none" (GPT-5.1's "do not reason") leaves Thinking nil,
// as if it were absent; a level of protocol.Efforts ("minimal" to
// "xhigh", and "max") becomes Thinking{Effort}; a level newer than this
// code is dropped and named. response_format {"type":"text"} is OpenAI's
// default and counts as unset; json_object and json_schema become Output.
func decodeOutput(doc *rawRequest, req *protocol.Request) (err error) {
	if req.User, err = optString("user", doc.User); err != nil {
		return err
	}
	effort, err := optString("reasoning_effort", doc.ReasoningEffort)
	switch {
	case err != nil:
		return err
	case protocol.IsEffort(effort):
		req.Thinking = &protocol.Thinking{Effort: effort}
	case effort != "" && effort != "none":
		req.Dropped = append(req.Dropped, "reasoning_effort="+effort)
	}
	return decodeResponseFormat(doc.ResponseFormat, req)
}

func decodeResponseFormat(raw json.RawMessage, req *protocol.Request) error {
	if protocol.IsNull(raw) {
		return nil
	}
	var rf struct {
		Type       json.RawMessage `json:"type"`
		JSONSchema json.RawMessage `json:"json_schema"`
	}
	if err := object("response_format", raw, &rf); err != nil {
		return err
	}
	typ, err := reqString("response_format.type", rf.Type)
	if err != nil {
		return err
	}
	switch typ {
	case "text":
		return nil
	case "json_object":
		req.Output = &protocol.OutputFormat{}
		return nil
	case "json_schema":
		return decodeJSONSchema(rf.JSONSchema, req)
	}
	return fieldError("response_format.type", "must be text, json_object or json_schema, got %q", typ)
}

// decodeJSONSchema reads response_format.json_schema: a name, and a schema
// object (none: any JSON object).
func decodeJSONSchema(raw json.RawMessage, req *protocol.Request) error {
	var js struct {
		Name        json.RawMessage `json:"name"`
		Description json.RawMessage `json:"description"`
		Schema      json.RawMessage `json:"schema"`
		Strict      json.RawMessage `json:"strict"`
	}
	if err := object("response_format.json_schema", raw, &js); err != nil {
		return err
	}
	out := &protocol.OutputFormat{}
	var err error
	if out.Name, err = reqString("response_format.json_schema.name", js.Name); err != nil {
		return err
	}
	if out.Description, err = optString("response_format.json_schema.description", js.Description); err != nil {
		return err
	}
	if out.Strict, err = optBool("response_format.json_schema.strict", js.Strict); err != nil {
		return err
	}
	if !protocol.IsNull(js.Schema) {
		var buf bytes.Buffer
		if js.Schema[0] != '{' || json.Compact(&buf, js.Schema) != nil {
			return fieldError("response_format.json_schema.schema", "must be a JSON Schema object")
		}
		out.Schema = buf.Bytes()
	}
	req.Output = out
	return nil
}

// decodeStreaming reads stream and stream_options.include_usage. The latter
// is kept even when stream is false (OpenAI refuses that combination, but
// compatible servers ignore it, and so does a non-streaming answer).
func decodeStreaming(doc *rawRequest, req *protocol.Request) error {
	stream, err := optBool("stream", doc.Stream)
	if err != nil {
		return err
	}
	req.Stream = stream != nil && *stream
	if protocol.IsNull(doc.StreamOptions) {
		return nil
	}
	var so struct {
		IncludeUsage json.RawMessage `json:"include_usage"`
	}
	if err := object("stream_options", doc.StreamOptions, &so); err != nil {
		return err
	}
	usage, err := optBool("stream_options.include_usage", so.IncludeUsage)
	req.IncludeUsage = usage != nil && *usage
	return err
}
