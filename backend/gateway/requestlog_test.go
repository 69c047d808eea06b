package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/modelbar/modelbar/backend/reqlog"
)

// endless streams one-word chat chunks every few milliseconds until the
// gateway goes away.
func endless(w http.ResponseWriter, r *http.Request) {
	startSSE(w)
	for {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(5 * time.Millisecond):
			writeEvent(w, chunk("word "))
		}
	}
}

// streamAndStop sends a streaming request with a real client, reads n
// events and closes the connection, as a client's Stop button does.
func streamAndStop(t *testing.T, h *harness, path, body string, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := h.request(http.MethodPost, path, []byte(body)).WithContext(ctx)
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	rd := bufio.NewReader(resp.Body)
	for seen := 0; seen < n; {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("after %d events: %v", seen, err)
		}
		if strings.HasPrefix(line, "data:") {
			seen++
		}
	}
	cancel()
	resp.Body.Close()
	h.settle()
}

func lastEntry(t *testing.T, h *harness) reqlog.Entry {
	t.Helper()
	var es []reqlog.Entry
	decode(t, h.mustAdmin(http.MethodGet, "/api/requests?limit=1", nil, http.StatusOK), &es)
	if len(es) != 1 {
		t.Fatalf("request log: %v", es)
	}
	return es[0]
}

// A stream the client stops is logged as cancelled (499) with the output
// it was sent, estimated from the streamed text when no usage came,
// whatever the path: relayed, translated to the client's API, or the
// local engine's (whose tokens are counted).
func TestRequestLog_ClientStopsStream(t *testing.T) {
	_, local := withLocal(t)
	h := newHarness(t, local)
	fake := newFake(t, endless)
	h.putProvider("fake", fake.baseURL(), "")
	h.route("m", "fake")
	tests := []struct {
		name, path, body string
		backend, source  string
	}{
		{"relayed", "/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"go"}]}`,
			"fake", reqlog.TokensEstimated},
		{"translated", "/v1/messages", `{"model":"m","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"go"}]}`,
			"fake", reqlog.TokensEstimated},
		// Greedy, so the random test model's answer is the same every run
		// (sampled, it sometimes ended before the client stopped it).
		{"local engine", "/v1/chat/completions", `{"model":"` + localModel + `","max_tokens":100000,"temperature":0,"stream":true,"messages":[{"role":"user","content":"go on"}]}`,
			"local", reqlog.TokensCounted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			streamAndStop(t, h, tt.path, tt.body, 8)
			e := lastEntry(t, h)
			if e.Status != 499 || e.Backend != tt.backend || e.OutputTokensSource != tt.source || e.OutputTokens < 3 || e.TTFBMS < 0 || e.Error != "" {
				t.Errorf("entry: status %d backend %q output %d (%q) ttfb %d error %q; want 499, %q, at least 3 (%q)",
					e.Status, e.Backend, e.OutputTokens, e.OutputTokensSource, e.TTFBMS, e.Error, tt.backend, tt.source)
			}
			if n := len(e.Attempts); n != 1 || e.Attempts[0].Outcome != reqlog.OutcomeCancelled || e.Attempts[0].Status != 499 {
				t.Errorf("chain: %+v; want one cancelled step", e.Attempts)
			}
		})
	}
}

// A stream that ends is 200, however its client closes the connection
// afterwards; its output is the backend's usage when it reports one, else
// estimated from the text.
func TestRequestLog_FinishedStreamTokens(t *testing.T) {
	h := newHarness(t)
	usage := `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}` + "\n\n"
	with := newFake(t, sse(chunk("Hello "), chunk("there, friend"), usage, done))
	without := newFake(t, sse(chunk("Hello "), chunk("there, friend"), done))
	h.putProvider("with", with.baseURL(), "")
	h.putProvider("without", without.baseURL(), "")
	h.route("u", "with")
	h.route("n", "without")
	for _, tt := range []struct {
		model, source string
		out           int64
	}{{"u", reqlog.TokensUsage, 2}, {"n", reqlog.TokensEstimated, 5}} {
		resp, body := h.post("/v1/chat/completions", `{"model":"`+tt.model+`","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "[DONE]") {
			t.Fatalf("%s: %d %s", tt.model, resp.StatusCode, body)
		}
		h.settle()
		e := lastEntry(t, h)
		if e.Status != 200 || e.OutputTokens != tt.out || e.OutputTokensSource != tt.source {
			t.Errorf("%s: status %d output %d (%q); want 200, %d (%q)", tt.model, e.Status, e.OutputTokens, e.OutputTokensSource, tt.out, tt.source)
		}
	}
}

// Every request records its failover chain, each step with its status and
// a short reason; GET /api/requests/{id} returns one entry, and the list
// filters by errors, failovers and backend.
func TestRequestLog_ChainFiltersAndTotals(t *testing.T) {
	h := newHarness(t)
	fake := newFake(t, okChat("hi"))
	h.putProvider("dead", deadURL(t), "")
	h.putProvider("fake", fake.baseURL(), "")
	h.route("via-dead", "dead", "fake")
	h.route("only-dead", "dead")
	h.route("ok", "fake")
	for _, m := range []string{"via-dead", "only-dead", "ok"} {
		h.post("/v1/chat/completions", `{"model":"`+m+`","messages":[{"role":"user","content":"secret prompt"}]}`)
	}
	h.settle()

	var one reqlog.Entry
	decode(t, h.mustAdmin(http.MethodGet, "/api/requests/1", nil, http.StatusOK), &one)
	if one.Model != "via-dead" || one.Route != "via-dead" || one.Backend != "fake" || one.Status != 200 {
		t.Fatalf("entry 1: %+v", one)
	}
	var steps []string
	for _, a := range one.Attempts {
		if strings.Contains(a.Reason, "secret") {
			t.Errorf("a reason quotes the prompt: %q", a.Reason)
		}
		steps = append(steps, fmt.Sprintf("%s %s %d %s", a.Backend, a.Outcome, a.Status, a.Reason))
	}
	// dead is retried (max_retries 2) before the chain moves on.
	if len(steps) != 4 || !strings.HasPrefix(steps[0], "dead failed 502 Nothing is listening on 127.0.0.1:") || strings.Contains(steps[0], "dial tcp") ||
		one.Attempts[2].Retry != 2 || steps[3] != "fake answered 200 " {
		t.Errorf("chain:\n%s", strings.Join(steps, "\n"))
	}

	ids := func(query string) []int64 {
		var es []reqlog.Entry
		decode(t, h.mustAdmin(http.MethodGet, "/api/requests"+query, nil, http.StatusOK), &es)
		out := []int64{}
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	for query, want := range map[string][]int64{
		"":                         {3, 2, 1},
		"?errors=1":                {2},
		"?failovers=true":          {1},
		"?backend=dead":            {2, 1},
		"?backend=fake&errors=0":   {3, 1},
		"?backend=fake&after=1":    {3},
		"?errors=1&failovers=1":    {},
		"?limit=1":                 {3},
		"?limit=nonsense&after=xx": {3, 2, 1}, // as before: a bad limit or after is the default
	} {
		if diff := cmp.Diff(want, ids(query)); diff != "" {
			t.Errorf("GET /api/requests%s (-want +got):\n%s", query, diff)
		}
	}

	var totals struct {
		Hour []reqlog.Totals `json:"hour"`
		Day  []reqlog.Totals `json:"day"`
	}
	decode(t, h.mustAdmin(http.MethodGet, "/api/requests/totals", nil, http.StatusOK), &totals)
	want := []reqlog.Totals{
		{Backend: "fake", Requests: 2, Failovers: 1, InputTokens: 2, OutputTokens: 2},
		{Backend: "dead", Requests: 1, Errors: 1},
	}
	opts := cmpopts.IgnoreFields(reqlog.Totals{}, "P50DurationMS", "P50TTFBMS")
	if diff := cmp.Diff(want, totals.Hour, opts); diff != "" {
		t.Errorf("totals of the hour (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, totals.Day, opts); diff != "" {
		t.Errorf("totals of the day (-want +got):\n%s", diff)
	}
	if totals.Hour[0].P50DurationMS < 0 || totals.Hour[0].P50TTFBMS < 0 || totals.Hour[1].P50TTFBMS != -1 {
		t.Errorf("medians: %+v", totals.Hour)
	}

	for path, want := range map[string]int{
		"/api/requests/99":          http.StatusNotFound,
		"/api/requests/abc":         http.StatusBadRequest,
		"/api/requests?errors=yes!": http.StatusBadRequest,
	} {
		resp, b := h.admin(http.MethodGet, path, nil)
		if resp.StatusCode != want || mustOpenAIError(t, b).Message == "" {
			t.Errorf("GET %s: %d %s; want %d with an error body", path, resp.StatusCode, b, want)
		}
	}
}

// A backend skipped while it cools down is a step of the chain too, and a
// client that leaves before the answer begins ends its step as cancelled.
func TestRequestLog_ChainSkipsAndCancels(t *testing.T) {
	h := newHarness(t)
	fake := newFake(t, okChat("hi"))
	slow := newFake(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	h.putProvider("dead", deadURL(t), "")
	h.putProvider("fake", fake.baseURL(), "")
	h.putProvider("slow", slow.baseURL(), "")
	h.mustAdmin(http.MethodPut, "/api/settings", map[string]any{"max_retries": -1, "cooldown_failures": 1, "cooldown_seconds": 600}, http.StatusOK)
	h.route("m", "dead", "fake")
	h.route("s", "slow")
	for range 2 {
		if resp, b := h.post("/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"x"}]}`); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
	}
	h.settle()
	e := lastEntry(t, h)
	if len(e.Attempts) != 2 || e.Attempts[0].Outcome != reqlog.OutcomeSkipped || e.Attempts[0].Status != 503 ||
		!strings.Contains(e.Attempts[0].Reason, "cooling down") || e.Attempts[1].Outcome != reqlog.OutcomeAnswered {
		t.Errorf("second request's chain: %+v", e.Attempts)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if resp, err := h.client.Do(h.request(http.MethodPost, "/v1/chat/completions", []byte(`{"model":"s","messages":[{"role":"user","content":"x"}]}`)).WithContext(ctx)); err == nil {
		resp.Body.Close()
		t.Fatalf("the slow provider answered: %d", resp.StatusCode)
	}
	h.settle()
	e = lastEntry(t, h)
	if e.Status != 499 || len(e.Attempts) != 1 || e.Attempts[0].Outcome != reqlog.OutcomeCancelled || e.Attempts[0].Status != 499 || e.OutputTokens != 0 || e.OutputTokensSource != "" {
		t.Errorf("left before the answer: status %d, %+v", e.Status, e)
	}
}
