package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/modelbar/modelbar/backend/failover"
	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/protocol/anthropic"
	"github.com/modelbar/modelbar/backend/protocol/openai"
	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/router"
)

// endpoint is one inference endpoint as the dispatcher sees it.
type endpoint struct {
	path     string
	protocol protocol.Protocol // the client's API
	chat     bool              // a chat endpoint, translatable to the other API
}

var (
	chatCompletions = endpoint{string(openai.ChatCompletions), protocol.OpenAI, true}
	completions     = endpoint{string(openai.Completions), protocol.OpenAI, false}
	embeddings      = endpoint{string(openai.Embeddings), protocol.OpenAI, false}
	messages        = endpoint{"/v1/messages", protocol.Anthropic, true}
)

// call is one validated inference request on its way to a backend.
type call struct {
	ctx      context.Context
	endpoint endpoint
	body     []byte // as the client sent it
	model    string
	stream   bool
	chat     *protocol.Request // decoded on first need: same-protocol traffic never needs it
	// decode, if set, decodes the body instead of the dialect's decoder
	// (a Responses call continuing a stored response).
	decode func(body []byte) (protocol.Request, error)
	// relayed: the current attempt relays the backend's own answer
	// (passThrough), which modelbar does not store.
	relayed bool
	budget  *byteBudget // what decoding takes its room from
	release func()      // gives the room back; nil until taken
}

// chatRequest decodes the body into the internal model, once, after
// taking room for it in the translation budget (a decoded request is many
// times its size). A full budget is errBudget, which no other backend can
// help with.
func (c *call) chatRequest() (protocol.Request, error) {
	if c.chat == nil {
		if err := c.reserve(); err != nil {
			return protocol.Request{}, err
		}
		decode := dialects[c.endpoint.protocol].decodeRequest
		if c.decode != nil {
			decode = c.decode
		}
		req, err := decode(c.body)
		if err != nil {
			return protocol.Request{}, err
		}
		c.chat = &req
	}
	return *c.chat, nil
}

// reserve takes the call's room in the translation budget, once.
func (c *call) reserve() error {
	if c.release != nil {
		return nil
	}
	release, err := c.budget.acquire(c.ctx, int64(len(c.body)), budgetWait)
	if err != nil {
		return err
	}
	c.release = release
	return nil
}

// done gives back what the call holds.
func (c *call) done() {
	if c.release != nil {
		c.release()
	}
}

// envelopeParser reads what routing and accounting need of a request body
// (model and stream), checking nothing else.
type envelopeParser func(body []byte) (model string, stream bool, err error)

// accept reads and checks an inference request up to routing: the body
// within its limits, the envelope, the model name. It answers a bad
// request itself and returns nil; otherwise the call, which the caller
// dispatches and then gives back (done).
func (s *Server) accept(w http.ResponseWriter, r *http.Request, ep endpoint, parse envelopeParser) *call {
	body, err := readBody(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		s.fail(w, r, err)
		return nil
	}
	model, stream, err := parse(body)
	if err == nil {
		err = checkModelName(model)
	}
	if err != nil {
		s.fail(w, r, err)
		return nil
	}
	info := infoFrom(r.Context())
	info.model, info.stream = model, stream
	return &call{ctx: r.Context(), endpoint: ep, body: body, model: model, stream: stream, budget: &s.limits.budget}
}

// openAIInference serves an endpoint of the OpenAI API.
func (s *Server) openAIInference(ep endpoint) http.Handler {
	parse := func(body []byte) (string, bool, error) {
		env, err := openai.ParseEnvelope(openai.Endpoint(ep.path), body)
		return env.Model, env.Stream, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := s.accept(w, r, ep, parse); c != nil {
			defer c.done()
			s.dispatch(w, r, c)
		}
	})
}

// anthropicMessages serves POST /v1/messages. Before routing only the
// envelope is checked (a JSON object, model, stream, a messages array): a
// request relayed to an Anthropic provider is the provider's to judge, so
// roles, block types, fields and beta values newer than modelbar travel
// on. A translation or the local engine decodes it in full, and refuses
// what it cannot carry. The anthropic-version and x-api-key headers are
// accepted and not required: the gateway holds the provider keys.
func (s *Server) anthropicMessages(w http.ResponseWriter, r *http.Request) {
	c := s.accept(w, r, messages, func(body []byte) (string, bool, error) {
		env, err := anthropic.ParseEnvelope(body)
		return env.Model, env.Stream, err
	})
	if c != nil {
		defer c.done()
		s.dispatch(w, r, c)
	}
}

// readBody reads a JSON request body of at most limit bytes, which must
// arrive within the body read timeout and be valid UTF-8 (JSON text is;
// invalid bytes would reach a provider or a log as they are).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, err
	case bodyTimedOut(err):
		w.Header().Set("Connection", "close")
		return nil, &apiError{Status: http.StatusRequestTimeout, Type: "invalid_request_error", Code: "body_timeout",
			Message: "the request body did not arrive within the body read timeout (body_read_timeout_seconds)"}
	case err != nil:
		return nil, &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Message: "could not read the request body: " + err.Error()}
	case !utf8.Valid(body):
		return nil, &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "invalid_utf8",
			Message: fmt.Sprintf("the request body is not valid UTF-8 (first invalid byte at offset %d): JSON text must be UTF-8", invalidUTF8At(body))}
	}
	return body, nil
}

// invalidUTF8At is the offset of the first byte of b that is not valid UTF-8.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// passThrough relays a call to a provider of the client's own API byte for
// byte, with only the model name rewritten.
func (s *Server) passThrough(a *attempt) error {
	a.c.relayed = true
	body, err := protocol.SetTopLevelString(a.c.body, "model", a.t.Model)
	if err != nil {
		return &protocol.RequestError{Message: err.Error()}
	}
	path := a.c.endpoint.path
	if q := a.r.URL.RawQuery; q != "" {
		path += "?" + q // ?beta=true and whatever comes next: the provider's to judge
	}
	var hide func([]byte) bool
	if a.c.stream && (a.c.endpoint == chatCompletions || a.c.endpoint == completions) && a.client.AsksForUsage() {
		// The server counts the tokens of a stream only when asked: ask,
		// and keep the answer from a client that did not.
		var asked bool
		if body, asked = withUsage(body); !asked {
			hide = usageOnlyChunk
		}
	}
	resp, err := a.forward(path, relayedHeader(a.r.Header), body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case a.c.stream && isEventStream(resp.Header):
		return s.relayStreamExcept(a, resp, hide)
	case a.c.stream && a.c.endpoint.chat && dialects[a.c.endpoint.protocol].decodeResponse != nil:
		// Asked to stream, the backend answered in one piece: SDK stream
		// helpers fail on a JSON body, so it is sent as a stream.
		if req, err := a.c.chatRequest(); err == nil {
			d := dialects[a.c.endpoint.protocol]
			x := &translation{s: s, a: a, req: req, up: d, down: d, upstream: resp.Header}
			return x.body(resp.Body)
		}
	}
	return relayBody(a, resp)
}

// relayedHeader is the client's header as a provider of its own API should
// see it (providers.RelayedHeader). The gateway has parsed the body as
// JSON, so the provider is told it is JSON whatever the client sent: `curl
// -d` sends a form content type, and OpenAI cannot read a body so labelled.
func relayedHeader(in http.Header) http.Header {
	h := providers.RelayedHeader(in)
	h.Set("Content-Type", "application/json")
	return h
}

// errLocalUnavailable: this server runs without a local engine. It is a
// before-first-byte failure, so a route's fallbacks still answer.
var errLocalUnavailable = &failover.UnavailableError{Backend: router.Local, Message: "local engine not available: route this model to a provider, or add a fallback"}

func isEventStream(h http.Header) bool {
	return strings.HasPrefix(strings.ToLower(h.Get("Content-Type")), "text/event-stream")
}
