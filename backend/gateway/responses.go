package gateway

import (
	"errors"
	"net/http"
	"strings"

	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/protocol/responses"
	"github.com/modelbar/modelbar/backend/providers"
)

// responsesEndpoint is POST /v1/responses: relayed to OpenAI-API providers
// that have the Responses API, translated through the internal model for
// every other backend.
var responsesEndpoint = endpoint{responses.Path, protocol.Responses, true}

// responsesCreate serves POST /v1/responses. Before routing only the
// envelope is checked (a JSON object, model, stream); a relayed request is
// the provider's to judge (previous_response_id included), a translated
// one is decoded in full, continued from the stored response it names,
// and its answer stored (responses_state.go).
func (s *Server) responsesCreate(w http.ResponseWriter, r *http.Request) {
	var env responses.Envelope
	c := s.accept(w, r, responsesEndpoint, func(body []byte) (string, bool, error) {
		var err error
		env, err = responses.ParseEnvelope(body)
		return env.Model, env.Stream, err
	})
	if c == nil {
		return
	}
	st, w := s.planStoring(w, c.body, env)
	c.decode = func(body []byte) (protocol.Request, error) { return s.decodeResponses(r.Context(), body, env, st) }
	if st != nil {
		st.capture.call = c
	}
	defer c.done()
	defer s.keep(r.Context(), c, st, env.Model) // also after a panic: waiters are released
	s.dispatch(w, r, c)
}

// viaOpenAIProvider serves a Responses call at an OpenAI-API provider: relayed
// when the provider has the Responses API, translated to chat completions
// when it has not. A provider set to "auto" is tried; a 404 or 405 for
// /responses means it has none, which is remembered (until the provider's
// settings change or modelbar restarts) so later calls go straight to chat
// completions.
func (s *Server) viaOpenAIProvider(a *attempt) error {
	mode := a.client.Responses()
	if responsesOnly(a.client, a.t) {
		mode = providers.ResponsesYes // the route says its model speaks only this API
	}
	learnt, _ := s.noResponses.Load(a.t.Backend)
	if mode == providers.ResponsesNo || (mode == providers.ResponsesAuto && learnt == a.client) {
		return s.translate(a)
	}
	err := s.passThrough(a)
	if mode == providers.ResponsesAuto && a.state != committed && hasNoResponsesAPI(err) {
		s.log.InfoContext(a.r.Context(), "provider has no Responses API; translating to chat completions from now on", "backend", a.t.Backend)
		s.noResponses.Store(a.t.Backend, a.client) // a changed provider (a new client) is tried again
		return s.translate(a)
	}
	return err
}

// hasNoResponsesAPI reports whether a provider's answer says it has no
// /responses endpoint.
func hasNoResponsesAPI(err error) bool {
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Kind != providers.KindStatus {
		return false
	}
	// OpenAI answers an unknown model with a 404 too: that one says so.
	modelNotFound := strings.Contains(strings.ToLower(pe.Message+" "+string(pe.Body)), "model")
	return pe.Status == http.StatusMethodNotAllowed || (pe.Status == http.StatusNotFound && !modelNotFound)
}
