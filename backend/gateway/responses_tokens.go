package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/protocol/responses"
	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/router"
)

// inputTokensPath is the Responses API's token count.
const inputTokensPath = responses.Path + "/input_tokens"

// responsesInputTokens serves POST /v1/responses/input_tokens. An
// OpenAI-API provider with the Responses API counts for itself (relayed,
// previous_response_id and all); a local model counts with its chat
// template and tokenizer; otherwise, or when it cannot, the count is
// protocol.EstimateTokens of the decoded request (continued from a stored
// previous response), flagged as /v1/messages/count_tokens flags it:
// "estimated": true and X-Modelbar-Estimate. Its failures never count
// against a backend's health.
func (s *Server) responsesInputTokens(w http.ResponseWriter, r *http.Request) {
	info := infoFrom(r.Context())
	body, err := readBody(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	env, err := parseCountEnvelope(body)
	if err == nil && env.Model != "" {
		err = checkModelName(env.Model)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	info.model = env.Model
	var first *router.Target
	if env.Model != "" { // the model is optional here: without one, only the estimate
		plan, err := s.cfg.Table().ResolveContext(r.Context(), env.Model)
		if err != nil {
			return // the client left
		}
		t := plan.Targets[0]
		first = &t
		info.backend = t.Backend
		if client, ok := s.cfg.Clients().Get(t.Backend); ok && s.hasResponsesAPI(t.Backend, client) {
			err := s.providerCount(w, r, inputTokensPath, body, t, client)
			if err == nil {
				return
			}
			var pe *providers.Error
			if errors.As(err, &pe) && pe.Kind == providers.KindStatus && pe.Status == http.StatusBadRequest {
				w.Header().Set(headerBackend, t.Backend)
				s.fail(w, r, err) // the request itself is wrong: the client should hear so
				return
			}
			s.log.InfoContext(r.Context(), "provider cannot count input tokens; estimating", "backend", t.Backend, "err", err)
		}
	}
	req, n, err := s.inputTokensRequest(r.Context(), body, env)
	if err != nil {
		w.Header().Set(headerBackend, noBackend)
		s.fail(w, r, err)
		return
	}
	if first != nil && req != nil {
		if n, ok := s.localCount(r.Context(), *first, *req); ok {
			w.Header().Set(headerBackend, first.Backend)
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"object":"response.input_tokens","input_tokens":` + strconv.Itoa(n) + `}` + "\n"))
			return
		}
	}
	w.Header().Set(headerBackend, noBackend)
	w.Header().Set(headerEstimate, "true")
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"object":"response.input_tokens","input_tokens":` + strconv.Itoa(n) + `,"estimated":true}` + "\n"))
}

// hasResponsesAPI reports whether an OpenAI-API provider is thought to
// have the Responses API (responses yes, or auto not yet learnt otherwise).
func (s *Server) hasResponsesAPI(name string, client *providers.Client) bool {
	if providerProtocol(client) != protocol.OpenAI {
		return false
	}
	learnt, _ := s.noResponses.Load(name)
	mode := client.Responses()
	return mode == providers.ResponsesYes || (mode == providers.ResponsesAuto && learnt != client)
}

// inputTokensRequest decodes the request to count (continued from a
// stored response) and estimates its input; when it cannot be decoded,
// req is nil and the estimate is from its size. Only an unknown
// previous_response_id is refused.
func (s *Server) inputTokensRequest(ctx context.Context, body []byte, env responses.Envelope) (req *protocol.Request, n int, err error) {
	if env.PreviousResponseID != "" {
		history, err := s.history(ctx, env.PreviousResponseID)
		if err != nil {
			return nil, 0, err
		}
		if body, err = responses.Continue(body, history); err != nil {
			return nil, 0, err
		}
	}
	if env.Model == "" { // the decoder needs one; it does not count
		if withModel, err := protocol.SetTopLevelString(body, "model", "m"); err == nil {
			body = withModel
		}
	}
	decoded, err := responses.DecodeRequest(body)
	if err != nil {
		return nil, len(body)/4 + 1, nil // holds what the internal model cannot: estimate from its size
	}
	return &decoded, protocol.EstimateTokens(decoded), nil
}

// parseCountEnvelope is responses.ParseEnvelope for a count, whose model
// is optional.
func parseCountEnvelope(body []byte) (responses.Envelope, error) {
	var probe struct {
		Model json.RawMessage `json:"model"`
	}
	if json.Unmarshal(body, &probe) == nil && protocol.IsNull(probe.Model) {
		if withModel, err := protocol.SetTopLevelString(body, "model", "m"); err == nil {
			env, err := responses.ParseEnvelope(withModel)
			env.Model = ""
			return env, err
		}
	}
	return responses.ParseEnvelope(body)
}
