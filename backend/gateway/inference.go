package gateway

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/protocol/openai"
	"github.com/modelbar/modelbar/backend/router"
)

// endpoint is one inference endpoint as the dispatcher sees it.
type endpoint struct {
	path     openai.Endpoint
	protocol protocol.Protocol
}

var (
	chatCompletions = endpoint{openai.ChatCompletions, protocol.OpenAI}
	completions     = endpoint{openai.Completions, protocol.OpenAI}
	embeddings      = endpoint{openai.Embeddings, protocol.OpenAI}
)

// call is one validated inference request on its way to a backend.
type call struct {
	endpoint endpoint
	body     []byte
	env      openai.Envelope
}

func (s *Server) openAIInference(ep endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := infoFrom(r.Context())
		info.protocol = string(ep.protocol)
		body, err := readBody(w, r, s.opts.MaxBodyBytes)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		env, err := openai.ParseEnvelope(ep.path, body)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		info.model, info.stream = env.Model, env.Stream
		s.dispatch(w, r, call{endpoint: ep, body: body, env: env})
	})
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if err != nil && !errors.As(err, &mbe) {
		return nil, &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Message: "could not read the request body: " + err.Error()}
	}
	return body, err
}

// dispatch resolves the model and walks the plan: each backend is tried in
// turn until one answers; the next one is tried only when the failure came
// before anything reached the client and is of a kind another backend can
// fix (see retryable).
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, c call) {
	info := infoFrom(r.Context())
	plan := s.cfg.Table().Resolve(c.env.Model)
	if plan.Route == nil && !s.localHas(c.env.Model) {
		w.Header().Set(headerBackend, router.Local)
		info.backend = router.Local
		s.fail(w, r, &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Param: "model", Code: "model_not_found",
			Message: fmt.Sprintf("model %q not found: no route matches it and no local model has that name", c.env.Model)})
		return
	}
	var failed []string
	for i, t := range plan.Targets {
		info.backend = t.Backend
		err := s.attempt(w, r, c, t, failed)
		if err == nil {
			return
		}
		if r.Context().Err() != nil {
			return // the client left; nobody to answer
		}
		if i == len(plan.Targets)-1 || !retryable(err) {
			w.Header().Set(headerBackend, t.Backend)
			setFallbackHeader(w, failed)
			s.fail(w, r, err)
			return
		}
		next := plan.Targets[i+1].Backend
		s.log.WarnContext(r.Context(), "backend failed before the first byte; failing over",
			"model", c.env.Model, "backend", t.Backend, "next", next, "err", err)
		failed = append(failed, t.Backend)
		info.fallbackFrom = failed
	}
}

const (
	headerBackend      = "X-Modelbar-Backend"
	headerFallbackFrom = "X-Modelbar-Fallback-From"
	noBackend          = "none" // X-Modelbar-Backend when the gateway answered by itself
)

func setFallbackHeader(w http.ResponseWriter, failed []string) {
	if len(failed) > 0 {
		w.Header().Set(headerFallbackFrom, strings.Join(failed, ", "))
	}
}

// attempt sends the call to one backend. It returns nil once the response is
// committed to the client (whatever happens after), and an error when the
// backend failed before anything was written.
func (s *Server) attempt(w http.ResponseWriter, r *http.Request, c call, t router.Target, failed []string) error {
	if t.Backend == router.Local {
		return errLocalUnavailable
	}
	client, ok := s.cfg.Clients().Get(t.Backend)
	if !ok {
		return &unavailableError{Backend: t.Backend, Message: fmt.Sprintf("provider %q is not configured", t.Backend)}
	}
	if string(client.Type()) != string(c.endpoint.protocol) {
		return &unavailableError{Backend: t.Backend, Message: fmt.Sprintf(
			"provider %q speaks the %s API; translating %s requests to it is not supported yet", t.Backend, client.Type(), c.endpoint.protocol)}
	}
	body, err := protocol.SetTopLevelString(c.body, "model", t.Model)
	if err != nil {
		return &protocol.RequestError{Message: err.Error()}
	}
	resp, err := client.Forward(r.Context(), http.MethodPost, string(c.endpoint.path), upstreamHeader(r.Header), body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	commit := func() {
		copyResponseHeaders(w.Header(), resp.Header)
		w.Header().Set(headerBackend, t.Backend)
		setFallbackHeader(w, failed)
	}
	if c.env.Stream && isEventStream(resp.Header) {
		return s.relayStream(w, r, c.endpoint.protocol, resp, commit, t.Backend)
	}
	return relayBody(w, resp, commit, t.Backend)
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

// errLocalUnavailable: the local engine is not part of this build yet. It is
// a before-first-byte failure, so a route's fallbacks still answer.
var errLocalUnavailable = &unavailableError{Backend: router.Local, Message: "local engine not available: route this model to a provider, or add a fallback"}

// localHas reports whether the local engine serves model.
func (s *Server) localHas(string) bool { return false }

func isEventStream(h http.Header) bool {
	return strings.HasPrefix(strings.ToLower(h.Get("Content-Type")), "text/event-stream")
}
