package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// resolved is GET /api/routes/resolve's answer, the fields these tests read.
type resolved struct {
	Backend      string `json:"backend"`
	BackendModel string `json:"backend_model"`
	Chain        []struct {
		Backend  string `json:"backend"`
		Model    string `json:"model"`
		Known    *bool  `json:"known"`
		Cooldown *struct {
			State  string `json:"state"`
			Model  string `json:"model"`
			Reason string `json:"reason"`
		} `json:"cooldown"`
	} `json:"chain"`
	Warnings []struct {
		Step    int    `json:"step"`
		Backend string `json:"backend"`
		Model   string `json:"model"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"warnings"`
}

// modelsAndChat is a provider that lists m-small and m-large, answers chat
// completions, and fails the model "fail" with a 503.
func modelsAndChat(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		reply(200, `{"object":"list","data":[{"id":"m-small","object":"model"},{"id":"m-large","object":"model"}]}`)(w, r)
		return
	}
	var in struct {
		Model string `json:"model"`
	}
	json.NewDecoder(r.Body).Decode(&in)
	if in.Model == "fail" {
		reply(503, `{"error":{"message":"down for maintenance","type":"server_error"}}`)(w, r)
		return
	}
	okChat("Hello there, I am "+in.Model+" and I answer in more than a few words")(w, r)
}

func (h *harness) resolve(model string) resolved {
	h.t.Helper()
	var res resolved
	decode(h.t, h.mustAdmin(http.MethodGet, "/api/routes/resolve?model="+model, nil, http.StatusOK), &res)
	return res
}

type stepView struct {
	Backend, Model string
	Known          string // "yes", "no", "?"
}

func steps(res resolved) []stepView {
	out := []stepView{}
	for _, s := range res.Chain {
		k := "?"
		if s.Known != nil {
			k = map[bool]string{true: "yes", false: "no"}[*s.Known]
		}
		out = append(out, stepView{s.Backend, s.Model, k})
	}
	return out
}

func TestResolve_WarnsOfMissingModels(t *testing.T) {
	_, opt := withLocal(t)
	h := newHarness(t, opt)
	acme := newFake(t, modelsAndChat)
	h.putProvider("acme", acme.baseURL(), "sk-acme-1234")
	h.addRoute(map[string]any{"model_pattern": "fast", "backend": "acme", "backend_model": "m-small",
		"fallbacks": []string{"local:" + localModel, "acme:nope"}})

	// The provider's list is fetched in the background once asked for.
	deadline := time.Now().Add(5 * time.Second)
	res := h.resolve("fast")
	for res.Chain[0].Known == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		res = h.resolve("fast")
	}
	want := []stepView{{"acme", "m-small", "yes"}, {"local", localModel, "yes"}, {"acme", "nope", "no"}}
	if diff := cmp.Diff(want, steps(res)); diff != "" {
		t.Errorf("fast: chain (-want +got):\n%s", diff)
	}
	if len(res.Warnings) != 1 || res.Warnings[0].Step != 2 || res.Warnings[0].Code != "model_not_found" ||
		!strings.Contains(res.Warnings[0].Message, `acme does not list a model named "nope"`) {
		t.Errorf("fast: warnings %+v", res.Warnings)
	}

	res = h.resolve("gpt-4o")
	if len(res.Warnings) != 1 || res.Warnings[0].Code != "model_not_found" || res.Warnings[0].Backend != "local" ||
		!strings.Contains(res.Warnings[0].Message, `there is no local model named "gpt-4o"`) {
		t.Errorf("gpt-4o: warnings %+v", res.Warnings)
	}
	if res := h.resolve(localModel); len(res.Warnings) != 0 || steps(res)[0].Known != "yes" {
		t.Errorf("%s: %+v", localModel, res)
	}
}

func TestResolve_ShowsCooldowns(t *testing.T) {
	h := newHarness(t)
	acme := newFake(t, modelsAndChat)
	h.putProvider("acme", acme.baseURL(), "")
	h.addRoute(map[string]any{"model_pattern": "flaky", "backend": "acme", "backend_model": "fail", "fallbacks": []string{"acme:m-small"}})
	h.settings(map[string]any{"max_retries": -1, "cooldown_failures": 1, "cooldown_seconds": 600})
	if resp, b := h.post("/v1/chat/completions", `{"model":"flaky","messages":[{"role":"user","content":"hi"}]}`); resp.StatusCode != 200 {
		t.Fatalf("flaky: status %d: %s", resp.StatusCode, b)
	}
	res := h.resolve("flaky")
	if c := res.Chain[0].Cooldown; c == nil || c.State != "cooldown" || c.Model != "fail" || !strings.Contains(c.Reason, "503") {
		t.Fatalf("chain[0].cooldown = %+v", c)
	}
	if res.Chain[1].Cooldown != nil {
		t.Errorf("m-small has a cooldown: %+v", res.Chain[1].Cooldown)
	}
	found := false
	for _, w := range res.Warnings {
		if w.Code == "cooling_down" && w.Step == 0 && strings.Contains(w.Message, `model "fail" at acme is cooling down until`) {
			found = true
		}
	}
	if !found {
		t.Errorf("no cooling_down warning: %+v", res.Warnings)
	}
}

// tried is POST /api/routes/try's answer.
type tried struct {
	OK           bool     `json:"ok"`
	Model        string   `json:"model"`
	Status       int      `json:"status"`
	Backend      string   `json:"backend"`
	FallbackFrom []string `json:"fallback_from"`
	BackendModel string   `json:"backend_model"`
	Attempts     []step   `json:"attempts"`
	LatencyMS    int64    `json:"latency_ms"`
	Text         string   `json:"text"`
	Error        string   `json:"error"`
}

// step is one attempt of the route tester's chain (its duration left out).
type step struct {
	Backend string `json:"backend"`
	Model   string `json:"model"`
	Status  int    `json:"status"`
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
}

func TestTryRoute(t *testing.T) {
	h := newHarness(t)
	acme := newFake(t, modelsAndChat)
	h.putProvider("acme", acme.baseURL(), "")
	h.addRoute(map[string]any{"model_pattern": "fast", "backend": "acme", "backend_model": "m-small"})
	h.addRoute(map[string]any{"model_pattern": "flaky", "backend": "acme", "backend_model": "fail", "fallbacks": []string{"acme:m-large"}})
	h.addRoute(map[string]any{"model_pattern": "broken", "backend": "acme", "backend_model": "fail"})
	h.settings(map[string]any{"max_retries": -1, "require_api_keys": true}) // the test request needs no inference key

	tests := []struct {
		model string
		want  tried
	}{
		{"fast", tried{OK: true, Model: "fast", Status: 200, Backend: "acme", BackendModel: "m-small", FallbackFrom: []string{},
			Attempts: []step{{Backend: "acme", Model: "m-small", Status: 200, Outcome: "answered"}},
			Text:     "Hello there, I am m-small and I answer in more than a few words"}},
		// A failover between two models of one provider: the chain names the models and why.
		{"flaky", tried{OK: true, Model: "flaky", Status: 200, Backend: "acme", BackendModel: "m-large", FallbackFrom: []string{"acme"},
			Attempts: []step{{Backend: "acme", Model: "fail", Status: 503, Outcome: "failed", Reason: "HTTP 503"}, {Backend: "acme", Model: "m-large", Status: 200, Outcome: "answered"}},
			Text:     "Hello there, I am m-large and I answer in more than a few words"}},
		{"broken", tried{Model: "broken", Status: 503, Backend: "acme", FallbackFrom: []string{},
			Attempts: []step{{Backend: "acme", Model: "fail", Status: 503, Outcome: "failed", Reason: "HTTP 503"}},
			Error:    "acme answered 503: down for maintenance"}},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			var got tried
			decode(t, h.mustAdmin(http.MethodPost, "/api/routes/try", map[string]any{"model": tt.model}, http.StatusOK), &got)
			if got.LatencyMS < 0 {
				t.Errorf("latency %d", got.LatencyMS)
			}
			got.LatencyMS = 0
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// A client sees the answering backend's model too, for the same words.
	rec := httptest.NewRecorder()
	h.gw.ServeInference(rec, httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(`{"model":"flaky","messages":[{"role":"user","content":"hi"}]}`)))
	if got := rec.Header().Get("X-Modelbar-Backend-Model"); rec.Code != 200 || got != "m-large" || rec.Header().Get("X-Modelbar-Fallback-From") != "acme" {
		t.Errorf("chat through flaky: %d, X-Modelbar-Backend-Model %q, want 200 and m-large after acme failed", rec.Code, got)
	}
	var sent struct {
		MaxTokens int  `json:"max_tokens"`
		Stream    bool `json:"stream"`
	}
	decode(t, acme.requests()[0].Body, &sent)
	if sent.MaxTokens != 16 || sent.Stream {
		t.Errorf("the test request: %+v, want max_tokens 16, not streamed", sent)
	}
	resp, b := h.admin(http.MethodPost, "/api/routes/try", map[string]any{"model": ""})
	if resp.StatusCode != http.StatusBadRequest || deref(mustOpenAIError(t, b).Param) != "model" {
		t.Errorf("empty model: status %d: %s", resp.StatusCode, b)
	}
	// Without the admin's credential it is refused like every admin call.
	if resp, _ := h.post("/api/routes/try", `{"model":"fast"}`); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: status %d, want 401", resp.StatusCode)
	}
}
