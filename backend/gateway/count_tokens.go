package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/protocol/anthropic"
	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/router"
)

// headerEstimate marks a token count that no tokenizer of the model made.
const headerEstimate = "X-Modelbar-Estimate"

// countTokens serves POST /v1/messages/count_tokens. Claude Code calls it on
// every turn, so it always answers: an Anthropic provider counts for itself,
// a local model with its chat template and tokenizer; otherwise (an
// OpenAI-API provider, or a backend that cannot) the answer is
// protocol.EstimateTokens, flagged with "estimated": true and an
// X-Modelbar-Estimate header. Its failures never count against a
// backend's health.
func (s *Server) countTokens(w http.ResponseWriter, r *http.Request) {
	info := infoFrom(r.Context())
	body, err := readBody(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	env, err := anthropic.ParseEnvelope(body)
	if err == nil {
		err = checkModelName(env.Model)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// What the internal model cannot hold (a role or block newer than
	// modelbar, a document) is still countable: by the provider, or from
	// the body's size.
	req, err := anthropic.DecodeCountTokensRequest(body)
	decoded := err == nil
	info.model = env.Model
	plan, err := s.cfg.Table().ResolveContext(r.Context(), env.Model)
	if err != nil {
		return // the client left
	}
	t := plan.Targets[0]
	info.backend = t.Backend
	if client, ok := s.cfg.Clients().Get(t.Backend); ok && client.Type() == providers.Anthropic {
		err := s.providerCount(w, r, "/v1/messages/count_tokens", body, t, client)
		if err == nil {
			return
		}
		var pe *providers.Error
		if errors.As(err, &pe) && pe.Kind == providers.KindStatus && pe.Status == http.StatusBadRequest {
			w.Header().Set(headerBackend, t.Backend)
			s.fail(w, r, err) // the request itself is wrong: the client should hear so
			return
		}
		s.log.InfoContext(r.Context(), "provider cannot count tokens; estimating", "backend", t.Backend, "err", err)
	}
	if decoded {
		if n, ok := s.localCount(r.Context(), t, req); ok {
			w.Header().Set(headerBackend, t.Backend)
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"input_tokens":` + strconv.Itoa(n) + `}` + "\n"))
			return
		}
	}
	n := len(body)/4 + 1 // holds what the internal model cannot: estimate from its size
	if decoded {
		n = protocol.EstimateTokens(req)
	}
	w.Header().Set(headerBackend, noBackend)
	w.Header().Set(headerEstimate, "true")
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"input_tokens":` + strconv.Itoa(n) + `,"estimated":true}` + "\n"))
}

// localCount counts req's prompt with the local engine, as the model t
// names would be given it (its chat template, its tokenizer), when t is a
// local model; ok is false when it is not, or the engine cannot count (the
// model fails to load, has no chat template, or its template refuses the
// conversation: the chat request would be refused the same way), and the
// caller estimates. The model is loaded as a chat request loads it: the
// count precedes the request that needs it.
func (s *Server) localCount(ctx context.Context, t router.Target, req protocol.Request) (n int, ok bool) {
	if t.Backend != router.Local || !s.localHas(t.Model) {
		return 0, false
	}
	req.Model = t.Model
	n, err := s.opts.Local.CountTokens(ctx, req)
	if err != nil {
		if ctx.Err() == nil {
			s.log.InfoContext(ctx, "the local engine cannot count tokens; estimating", "model", t.Model, "err", err)
		}
		return 0, false
	}
	return n, true
}

// countTimeout bounds a provider's token count.
const countTimeout = 4 * time.Second

// providerCount relays a token count to a provider that counts (Anthropic's
// count_tokens, the Responses API's input_tokens at path) and its answer,
// which must hold input_tokens, to the client.
func (s *Server) providerCount(w http.ResponseWriter, r *http.Request, path string, body []byte, t router.Target, client *providers.Client) error {
	body, err := protocol.SetTopLevelString(body, "model", t.Model)
	if err != nil {
		return err
	}
	// Claude Code counts every turn: a provider that does not answer soon is
	// estimated for instead of holding the editor up.
	ctx, cancel := context.WithTimeout(providers.WithConnectTimeout(r.Context(), s.policy().ConnectTimeout), countTimeout)
	defer cancel()
	if q := r.URL.RawQuery; q != "" {
		path += "?" + q
	}
	resp, err := client.Forward(ctx, http.MethodPost, path, relayedHeader(r.Header), body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var count struct {
		InputTokens *int `json:"input_tokens"`
	}
	raw, err := readAllLimited(resp, 1<<20)
	if err != nil || json.Unmarshal(raw, &count) != nil || count.InputTokens == nil {
		return &providers.Error{Provider: t.Backend, Kind: providers.KindStatus, Status: http.StatusBadGateway, Message: "unreadable token count"}
	}
	copyResponseHeaders(w.Header(), resp.Header)
	w.Header().Set(headerBackend, t.Backend)
	w.WriteHeader(http.StatusOK)
	w.Write(raw)
	return nil
}
