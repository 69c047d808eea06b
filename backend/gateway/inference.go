package gateway

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/modelbar/modelbar/backend/failover"
	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/protocol/anthropic"
	"github.com/modelbar/modelbar/backend/protocol/openai"
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
	endpoint endpoint
	body     []byte // as the client sent it
	model    string
	stream   bool
	chat     *protocol.Request // decoded on first need: same-protocol traffic never needs it
}

// chatRequest decodes the body into the internal model, once.
func (c *call) chatRequest() (protocol.Request, error) {
	if c.chat == nil {
		req, err := dialects[c.endpoint.protocol].decodeRequest(c.body)
		if err != nil {
			return protocol.Request{}, err
		}
		c.chat = &req
	}
	return *c.chat, nil
}

func (s *Server) openAIInference(ep endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := infoFrom(r.Context())
		body, err := readBody(w, r, s.opts.MaxBodyBytes)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		env, err := openai.ParseEnvelope(openai.Endpoint(ep.path), body)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		info.model, info.stream = env.Model, env.Stream
		s.dispatch(w, r, &call{endpoint: ep, body: body, model: env.Model, stream: env.Stream})
	})
}

// anthropicMessages serves POST /v1/messages, validating the request as
// Anthropic does. The anthropic-version and x-api-key headers are accepted
// and not required: the gateway holds the provider keys. A request that is
// valid but holds what translation cannot carry (documents, server tools)
// still goes to an Anthropic provider untouched; only a translation refuses
// it.
func (s *Server) anthropicMessages(w http.ResponseWriter, r *http.Request) {
	info := infoFrom(r.Context())
	body, err := readBody(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c := &call{endpoint: messages, body: body}
	req, err := anthropic.DecodeMessagesRequest(body)
	var re *protocol.RequestError
	switch {
	case err == nil:
		c.chat, c.model, c.stream = &req, req.Model, req.Stream
	case errors.As(err, &re) && re.Unsupported:
		env, err := anthropic.ParseEnvelope(body)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		c.model, c.stream = env.Model, env.Stream
	default:
		s.fail(w, r, err)
		return
	}
	info.model, info.stream = c.model, c.stream
	s.dispatch(w, r, c)
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if err != nil && !errors.As(err, &mbe) {
		return nil, &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Message: "could not read the request body: " + err.Error()}
	}
	return body, err
}

// passThrough relays a call to a provider of the client's own API byte for
// byte, with only the model name rewritten.
func (s *Server) passThrough(a *attempt) error {
	body, err := protocol.SetTopLevelString(a.c.body, "model", a.t.Model)
	if err != nil {
		return &protocol.RequestError{Message: err.Error()}
	}
	resp, err := a.forward(a.c.endpoint.path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case a.c.stream && isEventStream(resp.Header):
		return s.relayStream(a, resp)
	case a.c.stream && a.c.endpoint.chat:
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

// upstreamHeader is the client's header as a provider should see it. The
// gateway has parsed the body as JSON, so the provider is told it is JSON
// whatever the client sent: `curl -d` sends a form content type, and OpenAI
// cannot read a body so labelled.
func upstreamHeader(in http.Header) http.Header {
	h := in.Clone()
	h.Set("Content-Type", "application/json")
	return h
}

// errLocalUnavailable: this server runs without a local engine. It is a
// before-first-byte failure, so a route's fallbacks still answer.
var errLocalUnavailable = &failover.UnavailableError{Backend: router.Local, Message: "local engine not available: route this model to a provider, or add a fallback"}

func isEventStream(h http.Header) bool {
	return strings.HasPrefix(strings.ToLower(h.Get("Content-Type")), "text/event-stream")
}
