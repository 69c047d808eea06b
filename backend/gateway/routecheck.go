package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/modelbar/modelbar/backend/config"
	"github.com/modelbar/modelbar/backend/failover"
	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/reqlog"
	"github.com/modelbar/modelbar/backend/router"
)

// resolveStep is one backend of a resolved chain, with what the gateway
// knows of it now: whether it has the model (Known: nil when its list is
// not known) and its cooldown, if it has one.
type resolveStep struct {
	router.Target
	Known    *bool              `json:"known,omitempty"`
	Cooldown *failover.Cooldown `json:"cooldown,omitempty"`
}

// resolveWarning is something that will probably go wrong with a chain
// step: Step is its index in the chain.
type resolveWarning struct {
	Step    int    `json:"step"`
	Backend string `json:"backend"`
	Model   string `json:"model"`
	Code    string `json:"code"` // model_not_found, model_unusable, local_unavailable, cooling_down
	Message string `json:"message"`
}

// resolveAnswer is GET /api/routes/resolve: config.Resolution, its chain
// steps extended with what is known of them, and warnings.
type resolveAnswer struct {
	config.Resolution
	Chain    []resolveStep    `json:"chain"`
	Warnings []resolveWarning `json:"warnings"`
}

func (s *Server) resolveRoute(w http.ResponseWriter, r *http.Request) {
	model := r.URL.Query().Get("model")
	if err := checkModelName(model); err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.cfg.Resolve(model)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.checkChain(res))
}

// checkChain looks at each step of a resolved chain: whether its backend
// has the model (the local models; a provider's list when the catalog has
// it, which it never waits for) and whether it cools down.
func (s *Server) checkChain(res config.Resolution) resolveAnswer {
	out := resolveAnswer{Resolution: res, Chain: make([]resolveStep, len(res.Chain)), Warnings: []resolveWarning{}}
	local := map[string]localModel{}
	for _, m := range s.localModels() {
		local[m.ID] = m
	}
	cooldowns := s.breakers.Status()
	for i, t := range res.Chain {
		step := resolveStep{Target: t}
		warn := func(code, msg string) {
			out.Warnings = append(out.Warnings, resolveWarning{Step: i, Backend: t.Backend, Model: t.Model, Code: code, Message: msg})
		}
		if t.Backend == router.Local {
			s.checkLocal(&step, local, warn)
		} else {
			s.checkProvider(&step, warn)
			step.Cooldown = cooldownOf(cooldowns, t)
			if c := step.Cooldown; c != nil && c.State == "cooldown" {
				warn("cooling_down", fmt.Sprintf("%s is cooling down until %s%s: requests skip it until then", what(c), c.Until.Local().Format("15:04:05"), reasonSuffix(c.Reason)))
			}
		}
		out.Chain[i] = step
	}
	return out
}

func (s *Server) checkLocal(step *resolveStep, local map[string]localModel, warn func(code, msg string)) {
	if s.opts.Local == nil {
		no := false
		step.Known = &no
		warn("local_unavailable", "the local engine is not available here: "+errLocalUnavailable.Message)
		return
	}
	m, ok := local[step.Model]
	step.Known = &ok
	switch {
	case !ok:
		warn("model_not_found", fmt.Sprintf("there is no local model named %s: download it in Models, or add a route that sends this name to a provider", quoteName(step.Model)))
	case !m.Usable:
		warn("model_unusable", fmt.Sprintf("the local model %s cannot be used: %s", quoteName(step.Model), m.Reason))
	}
}

func (s *Server) checkProvider(step *resolveStep, warn func(code, msg string)) {
	list, ok := s.catalog.Models(step.Backend)
	if !ok {
		return // not known yet: asked for, no warning
	}
	_, has := s.catalog.Find(step.Backend, step.Model) // Ollama's "llama3.2" is its "llama3.2:latest"
	step.Known = &has
	if !has {
		warn("model_not_found", fmt.Sprintf("%s does not list a model named %s (its list has %d models): the request will probably fail there", step.Backend, quoteName(step.Model), len(list)))
	}
}

// cooldownOf is the cooldown of a step's provider, or of its model there:
// the provider's own first, as it takes the whole provider out.
func cooldownOf(all []failover.Cooldown, t router.Target) *failover.Cooldown {
	var found *failover.Cooldown
	for i := range all {
		c := &all[i]
		if c.Provider != t.Backend || (c.Model != "" && c.Model != t.Model) {
			continue
		}
		if c.Model == "" {
			return c
		}
		found = c
	}
	return found
}

func what(c *failover.Cooldown) string {
	if c.Model != "" {
		return fmt.Sprintf("model %s at %s", quoteName(c.Model), c.Provider)
	}
	return c.Provider
}

func reasonSuffix(reason string) string {
	if reason == "" {
		return ""
	}
	return " (" + reason + ")"
}

// tryTimeout bounds a test request: long enough for a cold local model or
// a slow provider with its retries, short enough to answer the user.
const tryTimeout = 90 * time.Second

// tryAnswer is POST /api/routes/try: how a small real request went.
type tryAnswer struct {
	OK           bool     `json:"ok"`
	Model        string   `json:"model"`
	Status       int      `json:"status"`
	Backend      string   `json:"backend"`
	FallbackFrom []string `json:"fallback_from"`
	// BackendModel is the model the answering backend was asked for ("" when none answered).
	BackendModel string `json:"backend_model"`
	// Attempts is the failover chain as walked, each backend and model
	// tried with how it ended and why (the request log's words).
	Attempts  []reqlog.Attempt `json:"attempts"`
	LatencyMS int64            `json:"latency_ms"`
	Text      string           `json:"text,omitempty"`  // the start of the answer
	Error     string           `json:"error,omitempty"` // why it failed, as the gateway told the client
}

// tryRoute serves POST /api/routes/try {"model": "...", "prompt": "..."}:
// it sends one small chat completion (max_tokens 16) through the gateway
// itself, as a client would, and says which backend answered, after which
// failures, how fast, and the answer's first words or the error. The
// request is logged like any other; it needs no inference key (the caller
// is the admin).
func (s *Server) tryRoute(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Model  string `json:"model"`
		Prompt string `json:"prompt"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if strings.TrimSpace(in.Model) == "" {
		s.fail(w, r, &protocol.RequestError{Param: "model", Message: "is required: the model name to send the test request for"})
		return
	}
	if err := checkModelName(in.Model); err != nil {
		s.fail(w, r, err)
		return
	}
	if in.Prompt == "" {
		in.Prompt = "Say hello in five words."
	}
	if utf8.RuneCountInString(in.Prompt) > 2000 {
		s.fail(w, r, &protocol.RequestError{Param: "prompt", Message: "is longer than 2000 characters: a test request is small"})
		return
	}
	body, _ := json.Marshal(map[string]any{
		"model": in.Model, "max_tokens": 16, "stream": false,
		"messages": []map[string]string{{"role": "user", "content": in.Prompt}},
	})
	ctx, cancel := context.WithTimeout(r.Context(), tryTimeout)
	defer cancel()
	// Admitted as the admin call it is: no inference key is asked for.
	ctx = context.WithValue(ctx, adminCallKey{}, true)
	var info *requestInfo
	ctx = context.WithValue(ctx, infoSinkKey{}, &info)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.opts.Addr+"/v1/chat/completions", bytes.NewReader(body))
	if err != nil {
		s.fail(w, r, fmt.Errorf("build the test request: %w", err))
		return
	}
	req.Host = r.Host
	req.RemoteAddr = r.RemoteAddr
	req.Header.Set("Content-Type", "application/json")
	rec := &captureWriter{header: http.Header{}}
	start := time.Now()
	s.handler.ServeHTTP(rec, req)
	out := tryResult(in.Model, rec, time.Since(start))
	if info != nil {
		out.Attempts = info.chain(out.Status, info.errMsg)
	}
	writeJSON(w, http.StatusOK, out)
}

// tryResult reads the gateway's answer to a test request.
func tryResult(model string, rec *captureWriter, took time.Duration) tryAnswer {
	out := tryAnswer{Model: model, Status: rec.status, Backend: rec.header.Get(headerBackend), BackendModel: rec.header.Get(headerBackendModel),
		FallbackFrom: []string{}, Attempts: []reqlog.Attempt{}, LatencyMS: took.Milliseconds()}
	if out.Status == 0 {
		out.Status = http.StatusOK
	}
	if f := rec.header.Get(headerFallbackFrom); f != "" {
		out.FallbackFrom = strings.Split(f, ", ")
	}
	var doc struct {
		Choices []struct {
			Message struct {
				Content   string `json:"content"`
				Reasoning string `json:"reasoning_content"`
				// Reasoning2: the field Ollama and newer vLLM send it in.
				Reasoning2 string `json:"reasoning"`
				ToolCalls  []any  `json:"tool_calls"`
			} `json:"message"`
		} `json:"choices"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(rec.body.Bytes(), &doc); err != nil {
		out.Error = fmt.Sprintf("the answer (HTTP %d) is not JSON", out.Status)
		return out
	}
	if out.Status >= 300 || doc.Error != nil {
		msg := "no message"
		if doc.Error != nil && doc.Error.Message != "" {
			msg = doc.Error.Message
		}
		out.Error = msg
		if out.Backend != "" && out.Backend != noBackend {
			out.Error = fmt.Sprintf("%s answered %d: %s", out.Backend, out.Status, msg) // the provider's own error, relayed
		}
		return out
	}
	out.OK = true
	if len(doc.Choices) > 0 {
		m := doc.Choices[0].Message
		out.Text = truncate(strings.TrimSpace(m.Content), 300)
		if out.Text == "" && len(m.ToolCalls) > 0 {
			out.Text = "(a tool call)"
		}
		if out.Text == "" && (m.Reasoning != "" || m.Reasoning2 != "") {
			out.Text = "(still reasoning after 16 tokens)"
		}
	}
	return out
}
