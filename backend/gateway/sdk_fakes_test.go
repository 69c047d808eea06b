package gateway_test

// The end-to-end matrix (sdk_*_test.go): three real client libraries, each
// against a fake upstream of each API. This file holds the fakes: loopback
// servers that answer as api.openai.com and api.anthropic.com do, on the
// wire, and record what they were sent.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

// wireKind is the API a fake upstream speaks.
type wireKind string

const (
	wireOpenAI    wireKind = "openai"
	wireAnthropic wireKind = "anthropic"
)

var wireKinds = []wireKind{wireOpenAI, wireAnthropic}

// The model a client asks for picks what the fake answers.
const (
	modelText  = "sdk-text"  // a short text answer
	modelTools = "sdk-tools" // two parallel get_weather calls; text once the results come back
	modelBad   = "sdk-bad"   // 400 with the upstream's own error body
	modelBusy  = "sdk-busy"  // 429 with Retry-After
	modelCut   = "sdk-cut"   // a stream whose connection breaks after its first content event
	modelTrunc = "sdk-trunc" // a stream that ends, cleanly, after its first content event
	modelError = "sdk-error" // a stream with an in-band error event after its first content event
)

// brokenStreams are the models whose streams fail after the first byte.
var brokenStreams = []string{modelCut, modelTrunc, modelError}

const (
	upstreamOpenAIKey    = "sk-upstream-openai-0001"
	upstreamAnthropicKey = "sk-ant-upstream-0002"

	systemPrompt  = "You are terse."
	textQuestion  = "Say hello."
	toolsQuestion = "What is the weather in Paris and Tokyo?"
	textAnswer    = "Hello, world! ✓"
	toolsAnswer   = "Paris: 18°C, Tokyo: 22°C."
	badMessage    = "messages.0.content: this upstream refuses the request"
	busyMessage   = "Rate limit reached: try again in 7s"
	retryAfter    = "7"
	streamFailure = "Overloaded: try again later" // the in-band error's message
	countAnswer   = 1234                          // the Anthropic fake's count_tokens answer
)

// textFragments stream textAnswer; a broken stream sends only the first.
var textFragments = []string{"Hel", "lo, wor", "ld! ✓"}

// wireUsage is a token count as both APIs have it (no cache tokens).
type wireUsage struct{ In, Out int }

var (
	textUsage   = wireUsage{11, 7}
	toolsUsage  = wireUsage{23, 19}
	answerUsage = wireUsage{42, 9}
)

// weatherCall is one of the two parallel calls the fakes make, with each
// API's style of id.
type weatherCall struct {
	openaiID, anthropicID string
	args                  string   // the arguments, exactly
	fragments             []string // args split at awkward places, as streamed
	result                string   // what the client answers
}

var weatherCalls = []weatherCall{
	{"call_Pa7ris", "toolu_01Paris", `{"city":"Paris"}`, []string{`{"ci`, `ty":"Pa`, `ris"}`}, "18°C"},
	{"call_To9kyo", "toolu_02Tokyo", `{"city":"Tokyo","unit":"c"}`,
		[]string{`{`, `"city`, `":"Tok`, `yo","u`, `nit":"c"`, `}`}, "22°C"},
}

func (c weatherCall) id(k wireKind) string {
	if k == wireAnthropic {
		return c.anthropicID
	}
	return c.openaiID
}

const weatherDescription = "Get the current weather in a city"

// weatherSchema is the get_weather tool's JSON schema, as every client
// builds it.
var weatherSchema = map[string]any{
	"type": "object",
	"properties": map[string]any{
		"city": map[string]any{"type": "string", "description": "City name"},
		"unit": map[string]any{"type": "string", "enum": []any{"c", "f"}},
	},
	"required": []any{"city"},
}

// fakeAnswer is what a fake says, in neither API's terms.
type fakeAnswer struct {
	text  []string // fragments, joined for a whole answer
	calls []weatherCall
	usage wireUsage
}

func answerFor(model string, toolResults bool) (fakeAnswer, bool) {
	switch {
	case model == modelText:
		return fakeAnswer{text: textFragments, usage: textUsage}, true
	case model == modelTools && toolResults:
		return fakeAnswer{text: []string{toolsAnswer}, usage: answerUsage}, true
	case model == modelTools:
		return fakeAnswer{calls: weatherCalls, usage: toolsUsage}, true
	}
	return fakeAnswer{}, false
}

// wireFake is a fake upstream of one API. Requests are recorded by the
// embedded fakeProvider before they are answered.
type wireFake struct {
	*fakeProvider
	kind wireKind
}

func newWireFake(t *testing.T, kind wireKind) *wireFake {
	t.Helper()
	respond := openAIUpstream
	switch kind {
	case wireAnthropic:
		respond = anthropicUpstream
	case wireResponses:
		respond = responsesUpstream
	}
	return &wireFake{fakeProvider: newFake(t, respond), kind: kind}
}

// base is the provider base_url, per each vendor SDK's convention.
func (f *wireFake) base() string {
	if f.kind == wireAnthropic {
		return f.srv.URL
	}
	return f.baseURL()
}

// putAnthropicProvider creates or updates an Anthropic-type provider;
// baseURL has no /v1.
func (h *harness) putAnthropicProvider(name, baseURL, key string) {
	h.t.Helper()
	in := map[string]any{"type": "anthropic", "base_url": baseURL}
	if key != "" {
		in["api_key"] = key
	}
	resp, b := h.admin(http.MethodPut, "/api/providers/"+name, in)
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		h.t.Fatalf("put provider %s: status %d: %s", name, resp.StatusCode, b)
	}
}

// sdkEnv is one client x provider combination: a gateway that routes every
// sdk-* model to one fake upstream, and an HTTP client for the SDK that
// notes the gateway's response headers.
type sdkEnv struct {
	h       *harness
	up      *wireFake
	backend string // the provider's name: what X-Modelbar-Backend must say
	seen    *headerLog
	http    *http.Client
}

func newSDKEnv(t *testing.T, kind wireKind) *sdkEnv {
	t.Helper()
	h := newHarness(t)
	up := newWireFake(t, kind)
	name := "up-" + string(kind)
	if kind == wireAnthropic {
		h.putAnthropicProvider(name, up.base(), upstreamAnthropicKey)
	} else {
		h.putProvider(name, up.base(), upstreamOpenAIKey)
	}
	if kind == wireResponses {
		h.mustAdmin(http.MethodPut, "/api/providers/"+name, map[string]any{"api": "responses"}, http.StatusOK)
	}
	h.route("sdk-*", name)
	seen := &headerLog{next: h.client.Transport}
	return &sdkEnv{h: h, up: up, backend: name, seen: seen, http: &http.Client{Transport: seen}}
}

// checkBackend asserts the SDK made exactly calls requests (it did not
// retry) and every answer named the provider; it returns the last answer's
// header.
func (e *sdkEnv) checkBackend(t *testing.T, calls int) http.Header {
	t.Helper()
	hdrs := e.seen.all()
	if len(hdrs) != calls {
		t.Fatalf("the client made %d requests to the gateway, want %d", len(hdrs), calls)
	}
	for i, h := range hdrs {
		if got := h.Get("X-Modelbar-Backend"); got != e.backend {
			t.Errorf("response %d: X-Modelbar-Backend = %q, want %q", i+1, got, e.backend)
		}
	}
	return hdrs[len(hdrs)-1]
}

// headerLog is a RoundTripper that keeps the headers of every response.
type headerLog struct {
	next http.RoundTripper
	mu   sync.Mutex
	hdrs []http.Header // guarded by mu
}

func (l *headerLog) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(r)
	if err == nil {
		l.mu.Lock()
		l.hdrs = append(l.hdrs, resp.Header.Clone())
		l.mu.Unlock()
	}
	return resp, err
}

func (l *headerLog) all() []http.Header {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.hdrs)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// unknownKey reports the first top-level key of body not in allowed: the
// real APIs refuse what they do not know.
func unknownKey(body map[string]json.RawMessage, allowed ...string) string {
	for k := range body {
		if !slices.Contains(allowed, k) {
			return k
		}
	}
	return ""
}

// ---- OpenAI ----

var openAIRequestKeys = []string{"model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens",
	"temperature", "top_p", "n", "stop", "tools", "tool_choice", "parallel_tool_calls", "user", "seed",
	"presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "response_format",
	"reasoning_effort", "metadata", "store", "service_tier"}

func openAIErrorReply(status int, msg, typ, code string, headers ...string) http.HandlerFunc {
	return reply(status, mustJSON(map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}}), headers...)
}

// openAIUpstream answers as api.openai.com does at /v1/chat/completions.
func openAIUpstream(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+upstreamOpenAIKey {
		openAIErrorReply(http.StatusUnauthorized, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")(w, r)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		openAIErrorReply(http.StatusNotFound, "Invalid URL ("+r.Method+" "+r.URL.Path+")", "invalid_request_error", "")(w, r)
		return
	}
	var raw map[string]json.RawMessage
	var req openAIWireRequest
	if !decodeTwice(r, &raw, &req) {
		openAIErrorReply(http.StatusBadRequest, "We could not parse the JSON body of your request.", "invalid_request_error", "")(w, r)
		return
	}
	if k := unknownKey(raw, openAIRequestKeys...); k != "" {
		openAIErrorReply(http.StatusBadRequest, "Unrecognized request argument supplied: "+k, "invalid_request_error", "")(w, r)
		return
	}
	if len(req.Messages) == 0 {
		openAIErrorReply(http.StatusBadRequest, "[] is too short - 'messages'", "invalid_request_error", "")(w, r)
		return
	}
	switch req.Model {
	case modelBad:
		openAIErrorReply(http.StatusBadRequest, badMessage, "invalid_request_error", "invalid_value")(w, r)
		return
	case modelBusy:
		openAIErrorReply(http.StatusTooManyRequests, busyMessage, "requests", "rate_limit_exceeded", "Retry-After", retryAfter)(w, r)
		return
	case modelCut, modelTrunc, modelError:
		inband := "data: " + mustJSON(map[string]any{"error": map[string]any{"message": streamFailure, "type": "server_error", "param": nil, "code": nil}}) + "\n\n"
		breakStream(w, req.Model, fakeAnswer{text: textFragments}.openAIStream(req.Model, false)[:2], inband) // the role, one fragment
		return
	}
	results := slices.ContainsFunc(req.Messages, func(m openAIWireMessage) bool { return m.Role == "tool" })
	ans, ok := answerFor(req.Model, results)
	if !ok {
		openAIErrorReply(http.StatusNotFound, "The model `"+req.Model+"` does not exist", "invalid_request_error", "model_not_found")(w, r)
		return
	}
	if !req.Stream {
		reply(http.StatusOK, ans.openAIJSON(req.Model))(w, r)
		return
	}
	usage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	sse(ans.openAIStream(req.Model, usage)...)(w, r)
}

// breakStream sends the first events of a stream and then fails as model
// says: the connection breaks, the stream just ends, or an in-band error
// event ends it.
func breakStream(w http.ResponseWriter, model string, first []string, inband string) {
	startSSE(w)
	for _, ev := range first {
		writeEvent(w, ev)
	}
	switch model {
	case modelCut:
		abort()
	case modelError:
		writeEvent(w, inband)
	}
}

// decodeTwice decodes the request body into both a and b.
func decodeTwice(r *http.Request, a, b any) bool {
	body, err := io.ReadAll(r.Body)
	return err == nil && json.Unmarshal(body, a) == nil && json.Unmarshal(body, b) == nil
}

func (a fakeAnswer) finishReason() string {
	if len(a.calls) > 0 {
		return "tool_calls"
	}
	return "stop"
}

func (u wireUsage) openAI() map[string]any {
	return map[string]any{"prompt_tokens": u.In, "completion_tokens": u.Out, "total_tokens": u.In + u.Out,
		"prompt_tokens_details":     map[string]any{"cached_tokens": 0, "audio_tokens": 0},
		"completion_tokens_details": map[string]any{"reasoning_tokens": 0, "audio_tokens": 0}}
}

func (a fakeAnswer) openAIJSON(model string) string {
	msg := map[string]any{"role": "assistant", "content": nil, "refusal": nil, "annotations": []any{}}
	if len(a.text) > 0 {
		msg["content"] = strings.Join(a.text, "")
	}
	if len(a.calls) > 0 {
		var calls []any
		for _, c := range a.calls {
			calls = append(calls, map[string]any{"id": c.openaiID, "type": "function",
				"function": map[string]any{"name": "get_weather", "arguments": c.args}})
		}
		msg["tool_calls"] = calls
	}
	return mustJSON(map[string]any{
		"id": "chatcmpl-fake01", "object": "chat.completion", "created": 1700000000, "model": model,
		"choices":            []any{map[string]any{"index": 0, "message": msg, "logprobs": nil, "finish_reason": a.finishReason()}},
		"usage":              a.usage.openAI(),
		"service_tier":       "default",
		"system_fingerprint": "fp_fake",
	})
}

// openAIStream is the answer as OpenAI streams it: the role in the first
// delta (with the first tool call, if any), each tool call opened with its
// index, id and name and then fed argument fragments, a last chunk with the
// finish_reason, the usage chunk if asked for, and [DONE].
func (a fakeAnswer) openAIStream(model string, includeUsage bool) []string {
	chunk := func(delta map[string]any, finish any) string {
		c := map[string]any{"id": "chatcmpl-fake01", "object": "chat.completion.chunk", "created": 1700000000,
			"model": model, "service_tier": "default", "system_fingerprint": "fp_fake",
			"choices": []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}}}
		if includeUsage {
			c["usage"] = nil
		}
		return "data: " + mustJSON(c) + "\n\n"
	}
	first := map[string]any{"role": "assistant", "content": "", "refusal": nil}
	var evs []string
	if len(a.calls) == 0 {
		evs = append(evs, chunk(first, nil))
	}
	for _, f := range a.text {
		evs = append(evs, chunk(map[string]any{"content": f}, nil))
	}
	for i, c := range a.calls {
		head := map[string]any{"tool_calls": []any{map[string]any{"index": i, "id": c.openaiID, "type": "function",
			"function": map[string]any{"name": "get_weather", "arguments": ""}}}}
		if i == 0 {
			head["role"], head["content"], head["refusal"] = "assistant", nil, nil
		}
		evs = append(evs, chunk(head, nil))
		for _, f := range c.fragments {
			evs = append(evs, chunk(map[string]any{"tool_calls": []any{map[string]any{"index": i,
				"function": map[string]any{"arguments": f}}}}, nil))
		}
	}
	evs = append(evs, chunk(map[string]any{}, a.finishReason()))
	if includeUsage {
		evs = append(evs, "data: "+mustJSON(map[string]any{"id": "chatcmpl-fake01", "object": "chat.completion.chunk",
			"created": 1700000000, "model": model, "service_tier": "default", "system_fingerprint": "fp_fake",
			"choices": []any{}, "usage": a.usage.openAI()})+"\n\n")
	}
	return append(evs, done)
}

// ---- Anthropic ----

var (
	anthropicRequestKeys = []string{"model", "messages", "max_tokens", "system", "stream", "tools", "tool_choice",
		"temperature", "top_p", "top_k", "stop_sequences", "metadata", "thinking", "service_tier"}
	anthropicCountKeys = []string{"model", "messages", "system", "tools", "tool_choice", "thinking"}
)

func anthropicErrorReply(status int, typ, msg string, headers ...string) http.HandlerFunc {
	return reply(status, mustJSON(map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}}),
		append(headers, "request-id", "req_fake01")...)
}

// anthropicUpstream answers as api.anthropic.com does at /v1/messages and
// /v1/messages/count_tokens, validating what it is sent as strictly.
func anthropicUpstream(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Api-Key") != upstreamAnthropicKey {
		anthropicErrorReply(http.StatusUnauthorized, "authentication_error", "invalid x-api-key")(w, r)
		return
	}
	if r.Header.Get("Anthropic-Version") == "" {
		anthropicErrorReply(http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required")(w, r)
		return
	}
	count := r.URL.Path == "/v1/messages/count_tokens"
	if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" && !count {
		anthropicErrorReply(http.StatusNotFound, "not_found_error", "Not Found")(w, r)
		return
	}
	var raw map[string]json.RawMessage
	var req anthropicWireRequest
	if !decodeTwice(r, &raw, &req) {
		anthropicErrorReply(http.StatusBadRequest, "invalid_request_error", "the request body is not valid JSON")(w, r)
		return
	}
	if msg := req.invalid(raw, count); msg != "" {
		anthropicErrorReply(http.StatusBadRequest, "invalid_request_error", msg)(w, r)
		return
	}
	if count {
		reply(http.StatusOK, fmt.Sprintf(`{"input_tokens":%d}`, countAnswer))(w, r)
		return
	}
	switch req.Model {
	case modelBad:
		anthropicErrorReply(http.StatusBadRequest, "invalid_request_error", badMessage)(w, r)
		return
	case modelBusy:
		anthropicErrorReply(http.StatusTooManyRequests, "rate_limit_error", busyMessage, "Retry-After", retryAfter)(w, r)
		return
	case modelCut, modelTrunc, modelError:
		inband := "event: error\ndata: " + mustJSON(map[string]any{"type": "error", "error": map[string]any{"type": "overloaded_error", "message": streamFailure}}) + "\n\n"
		breakStream(w, req.Model, fakeAnswer{text: textFragments}.anthropicStream(req.Model)[:4], inband) // message_start, block start, ping, one delta
		return
	}
	ans, ok := answerFor(req.Model, req.hasToolResults())
	if !ok {
		anthropicErrorReply(http.StatusNotFound, "not_found_error", "model: "+req.Model)(w, r)
		return
	}
	if !req.Stream {
		reply(http.StatusOK, ans.anthropicJSON(req.Model), "request-id", "req_fake01")(w, r)
		return
	}
	sse(ans.anthropicStream(req.Model)...)(w, r)
}

// invalid is the message of Anthropic's 400 for a request it would refuse.
func (req anthropicWireRequest) invalid(raw map[string]json.RawMessage, count bool) string {
	allowed := anthropicRequestKeys
	if count {
		allowed = anthropicCountKeys
	}
	if k := unknownKey(raw, allowed...); k != "" {
		return k + ": Extra inputs are not permitted"
	}
	if !count && (req.MaxTokens == nil || *req.MaxTokens < 1) {
		return "max_tokens: Field required"
	}
	if len(req.Messages) == 0 {
		return "messages: at least one message is required"
	}
	for i, m := range req.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return fmt.Sprintf("messages.%d.role: Input should be 'user' or 'assistant'", i)
		}
		if _, err := m.blocks(); err != nil {
			return fmt.Sprintf("messages.%d.content: %v", i, err)
		}
	}
	if req.Messages[0].Role != "user" {
		return "messages: first message must use the \"user\" role"
	}
	for i, tool := range req.Tools {
		if tool.Name == "" || len(tool.InputSchema) == 0 {
			return fmt.Sprintf("tools.%d.input_schema: Field required", i)
		}
	}
	return ""
}

func (u wireUsage) anthropic(in bool, out int) map[string]any {
	m := map[string]any{"output_tokens": out}
	if in {
		m["input_tokens"], m["cache_creation_input_tokens"], m["cache_read_input_tokens"] = u.In, 0, 0
	}
	return m
}

func (a fakeAnswer) stopReason() string {
	if len(a.calls) > 0 {
		return "tool_use"
	}
	return "end_turn"
}

func (a fakeAnswer) anthropicJSON(model string) string {
	var content []any
	if len(a.text) > 0 {
		content = append(content, map[string]any{"type": "text", "text": strings.Join(a.text, "")})
	}
	for _, c := range a.calls {
		content = append(content, map[string]any{"type": "tool_use", "id": c.anthropicID, "name": "get_weather",
			"input": json.RawMessage(c.args)})
	}
	return mustJSON(map[string]any{"id": "msg_01Fake", "type": "message", "role": "assistant", "model": model,
		"content": content, "stop_reason": a.stopReason(), "stop_sequence": nil, "usage": a.usage.anthropic(true, a.usage.Out)})
}

// anthropicStream is the answer as Anthropic streams it: message_start
// (input tokens), each block started, fed and stopped (a ping after the
// first start, tool input as input_json_delta fragments after an empty
// one), message_delta with the stop reason and output tokens, message_stop.
func (a fakeAnswer) anthropicStream(model string) []string {
	ev := func(name string, data map[string]any) string {
		data["type"] = name
		return "event: " + name + "\ndata: " + mustJSON(data) + "\n\n"
	}
	msg := map[string]any{"id": "msg_01Fake", "type": "message", "role": "assistant", "model": model,
		"content": []any{}, "stop_reason": nil, "stop_sequence": nil, "usage": a.usage.anthropic(true, 1)}
	evs := []string{ev("message_start", map[string]any{"message": msg})}
	delta := func(i int, d map[string]any) string {
		return ev("content_block_delta", map[string]any{"index": i, "delta": d})
	}
	block := 0
	start := func(cb map[string]any) {
		evs = append(evs, ev("content_block_start", map[string]any{"index": block, "content_block": cb}))
		if block == 0 {
			evs = append(evs, ev("ping", map[string]any{}))
		}
	}
	if len(a.text) > 0 {
		start(map[string]any{"type": "text", "text": ""})
		for _, f := range a.text {
			evs = append(evs, delta(block, map[string]any{"type": "text_delta", "text": f}))
		}
		evs = append(evs, ev("content_block_stop", map[string]any{"index": block}))
		block++
	}
	for _, c := range a.calls {
		start(map[string]any{"type": "tool_use", "id": c.anthropicID, "name": "get_weather", "input": map[string]any{}})
		for _, f := range append([]string{""}, c.fragments...) {
			evs = append(evs, delta(block, map[string]any{"type": "input_json_delta", "partial_json": f}))
		}
		evs = append(evs, ev("content_block_stop", map[string]any{"index": block}))
		block++
	}
	evs = append(evs, ev("message_delta", map[string]any{
		"delta": map[string]any{"stop_reason": a.stopReason(), "stop_sequence": nil},
		"usage": a.usage.anthropic(false, a.usage.Out)}))
	return append(evs, ev("message_stop", map[string]any{}))
}
