package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// member is a group member for a route body.
func member(backend string, weight int) map[string]any {
	return map[string]any{"backend": backend, "weight": weight}
}

// groupRoute sends pattern to a group of members under policy, then the
// fallbacks.
func (h *harness) groupRoute(pattern, policy string, members []map[string]any, fallbacks ...string) {
	h.t.Helper()
	if fallbacks == nil {
		fallbacks = []string{}
	}
	h.addRoute(map[string]any{"model_pattern": pattern, "policy": policy, "targets": members, "fallbacks": fallbacks})
}

// chatTurn is a chat body for model: its opening (first user
// message), then turns more messages, and the OpenAI user if any.
func chatTurn(model, opening string, turns int, user string) string {
	msgs := fmt.Sprintf(`{"role":"system","content":"be brief"},{"role":"user","content":%q}`, opening)
	for i := range turns {
		msgs += fmt.Sprintf(`,{"role":"assistant","content":"answer %d"},{"role":"user","content":"follow-up %d"}`, i, i)
	}
	u := ""
	if user != "" {
		u = fmt.Sprintf(`,"user":%q`, user)
	}
	return fmt.Sprintf(`{"model":%q,"messages":[%s]%s}`, model, msgs, u)
}

// answeredBy posts body and returns the backend that answered, failing the
// test on any status but 200.
func (h *harness) answeredBy(path, body string) string {
	h.t.Helper()
	resp, b := h.post(path, body)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	return resp.Header.Get("X-Modelbar-Backend")
}

// modelIn is the model a request body names.
func modelIn(body []byte) string {
	var b struct {
		Model string `json:"model"`
	}
	json.Unmarshal(body, &b)
	return b.Model
}

// A weighted group spreads conversations by its weights; each member is
// sent its own model or the requested one.
func TestGroup_WeightedSpreads(t *testing.T) {
	h := newHarness(t)
	fakes := map[string]*fakeProvider{"p1": newFake(t, okChat("one")), "p2": newFake(t, okChat("two"))}
	for name, f := range fakes {
		h.putProvider(name, f.baseURL(), "")
	}
	h.groupRoute("m", "weighted", []map[string]any{{"backend": "p1", "model": "big", "weight": 3}, member("p2", 1)})
	counts := map[string]int{}
	for i := range 200 {
		counts[h.answeredBy("/v1/chat/completions", chatTurn("m", fmt.Sprint("topic ", i), 0, ""))]++
	}
	if counts["p1"] != 150 || counts["p2"] != 50 {
		t.Errorf("answers per member %v, want p1 150 and p2 50 (weights 3:1)", counts)
	}
	if got := modelIn(fakes["p1"].requests()[0].Body); got != "big" {
		t.Errorf("p1 was sent model %q, want its own %q", got, "big")
	}
	if got := modelIn(fakes["p2"].requests()[0].Body); got != "m" {
		t.Errorf("p2 was sent model %q, want the requested %q", got, "m")
	}
}

// A member that fails before the first byte fails over to the next
// member, then to the fallbacks, each failure named.
func TestGroup_FailsOverWithinTheGroupThenToFallbacks(t *testing.T) {
	h := newHarness(t)
	ok := newFake(t, okChat("saved"))
	h.putProvider("dead1", deadURL(t), "")
	h.putProvider("dead2", deadURL(t), "")
	h.putProvider("ok", ok.baseURL(), "")
	h.groupRoute("inner", "first", []map[string]any{member("dead1", 1), member("ok", 1)})
	h.groupRoute("outer", "first", []map[string]any{member("dead1", 1), member("dead2", 1)}, "ok")
	tests := []struct {
		model, backend, from string
	}{
		{"inner", "ok", "dead1"},
		{"outer", "ok", "dead1, dead2"},
	}
	for _, tt := range tests {
		resp, b := h.post("/v1/chat/completions", chatFor(tt.model))
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Modelbar-Backend") != tt.backend || resp.Header.Get("X-Modelbar-Fallback-From") != tt.from {
			t.Errorf("%s: status %d, backend %q, fallback-from %q; want 200 from %s after %s: %s", tt.model, resp.StatusCode,
				resp.Header.Get("X-Modelbar-Backend"), resp.Header.Get("X-Modelbar-Fallback-From"), tt.backend, tt.from, b)
		}
	}
}

// A failover between two members of one provider shows in
// X-Modelbar-Fallback-From (which names backends, as it always has; the
// answering model is X-Modelbar-Backend-Model), also when both fail and
// the client hears the second's failure.
func TestGroup_TwoMembersOfOneProviderAreNamedApart(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"max_retries": -1})
	p := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if modelIn(mustRead(r)) == "a" || r.Header.Get("X-Test-All-Fail") != "" {
			reply(http.StatusServiceUnavailable, `{"error":{"message":"overloaded"}}`)(w, r)
			return
		}
		okChat("from b")(w, r)
	})
	h.putProvider("p", p.baseURL(), "")
	h.groupRoute("pair", "first", []map[string]any{{"backend": "p", "model": "a"}, {"backend": "p", "model": "b"}})
	resp, b := h.post("/v1/chat/completions", chatFor("pair"))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Modelbar-Backend") != "p" || resp.Header.Get("X-Modelbar-Backend-Model") != "b" ||
		resp.Header.Get("X-Modelbar-Fallback-From") != "p" {
		t.Errorf("a failed over to b: %d, backend %q model %q, fallback-from %q: %s", resp.StatusCode, resp.Header.Get("X-Modelbar-Backend"),
			resp.Header.Get("X-Modelbar-Backend-Model"), resp.Header.Get("X-Modelbar-Fallback-From"), b)
	}
	req, _ := http.NewRequest(http.MethodPost, h.url("/v1/chat/completions"), strings.NewReader(chatFor("pair")))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Test-All-Fail", "1")
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("X-Modelbar-Fallback-From") != "p" {
		t.Errorf("both failed: %d, fallback-from %q; want 503 after p", resp.StatusCode, resp.Header.Get("X-Modelbar-Fallback-From"))
	}
}

// A member cooling down is passed over: a weighted group sends every new
// conversation to the healthy member without trying the other.
func TestGroup_CoolingMemberIsPassedOver(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"cooldown_failures": 1, "cooldown_seconds": 60, "max_retries": -1})
	var bad atomic.Int64
	down := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		bad.Add(1)
		reply(http.StatusServiceUnavailable, upstreamError)(w, r)
	})
	up := newFake(t, okChat("fine"))
	h.putProvider("down", down.baseURL(), "")
	h.putProvider("up", up.baseURL(), "")
	h.groupRoute("m", "weighted", []map[string]any{member("down", 1), member("up", 1)})
	for i := range 10 {
		if got := h.answeredBy("/v1/chat/completions", chatTurn("m", fmt.Sprint("c", i), 0, "")); got != "up" {
			t.Fatalf("request %d answered by %s", i, got)
		}
	}
	if n := bad.Load(); n != 1 {
		t.Errorf("the failing member was tried %d times, want once (then it cools down)", n)
	}
}

// Least-busy sends a request to the idle member while another is busy.
func TestGroup_LeastBusyPrefersTheIdleMember(t *testing.T) {
	h := newHarness(t)
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	defer free()
	entered := make(chan struct{}, 1)
	slow := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		okChat("slow")(w, r)
	})
	fast := newFake(t, okChat("fast"))
	h.putProvider("slow", slow.baseURL(), "")
	h.putProvider("fast", fast.baseURL(), "")
	h.groupRoute("m", "least-busy", []map[string]any{member("slow", 1), member("fast", 1)})
	done := make(chan string, 1)
	go func() {
		resp, _ := h.client.Do(h.request(http.MethodPost, "/v1/chat/completions", []byte(chatTurn("m", "first", 0, ""))))
		if resp != nil {
			resp.Body.Close()
			done <- resp.Header.Get("X-Modelbar-Backend")
		}
		close(done)
	}()
	select {
	case <-entered: // all idle: the first member, in group order
	case <-time.After(10 * time.Second):
		t.Fatal("the first request never reached the first member")
	}
	for i := range 5 {
		if got := h.answeredBy("/v1/chat/completions", chatTurn("m", fmt.Sprint("other ", i), 0, "")); got != "fast" {
			t.Errorf("request %d while slow is busy went to %s, want fast", i, got)
		}
	}
	free()
	if got := <-done; got != "slow" {
		t.Errorf("the first request was answered by %q, want slow", got)
	}
}

// Affinity: a conversation — named by user, or by its opening — stays on
// one member of a weighted group while it is healthy, moves when that
// member fails, and stays where it moved.
func TestGroup_AffinityStaysAndMoves(t *testing.T) {
	for _, tt := range []struct {
		name string
		body func(turn int) string
	}{
		{"by user", func(turn int) string { return chatTurn("m", fmt.Sprint("new topic ", turn), 0, "alice") }},
		{"by opening", func(turn int) string { return chatTurn("m", "the same opening", turn, "") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.settings(map[string]any{"cooldown_failures": 1, "cooldown_seconds": 60, "max_retries": -1})
			var failing [3]atomic.Bool
			for i := range 3 {
				f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
					if failing[i].Load() {
						reply(http.StatusServiceUnavailable, upstreamError)(w, r)
						return
					}
					okChat("hi")(w, r)
				})
				h.putProvider(fmt.Sprint("p", i), f.baseURL(), "")
			}
			h.groupRoute("m", "weighted", []map[string]any{member("p0", 1), member("p1", 1), member("p2", 1)})
			// Other conversations move the round-robin between turns.
			other := func(i int) {
				h.answeredBy("/v1/chat/completions", chatTurn("m", fmt.Sprint("someone else ", i), 0, ""))
			}
			home := h.answeredBy("/v1/chat/completions", tt.body(0))
			for turn := 1; turn <= 10; turn++ {
				other(turn)
				if got := h.answeredBy("/v1/chat/completions", tt.body(turn)); got != home {
					t.Fatalf("turn %d went to %s, the conversation is on %s", turn, got, home)
				}
			}
			failing[home[1]-'0'].Store(true)
			resp, b := h.post("/v1/chat/completions", tt.body(11))
			moved := resp.Header.Get("X-Modelbar-Backend")
			if resp.StatusCode != http.StatusOK || moved == home || resp.Header.Get("X-Modelbar-Fallback-From") != home {
				t.Fatalf("after %s failed: status %d from %s (fallback-from %q): %s", home, resp.StatusCode, moved, resp.Header.Get("X-Modelbar-Fallback-From"), b)
			}
			failing[home[1]-'0'].Store(false)
			for turn := 12; turn <= 20; turn++ {
				other(turn)
				if got := h.answeredBy("/v1/chat/completions", tt.body(turn)); got != moved {
					t.Fatalf("turn %d went to %s, the conversation moved to %s", turn, got, moved)
				}
			}
		})
	}
}

// Anthropic's metadata.user_id keeps a conversation too.
func TestGroup_AffinityByAnthropicUserID(t *testing.T) {
	h := newHarness(t)
	for i := range 3 {
		h.putProvider(fmt.Sprint("p", i), newFake(t, okChat("hi")).baseURL(), "")
	}
	h.groupRoute("m", "least-busy", []map[string]any{member("p0", 1), member("p1", 1), member("p2", 1)})
	seen := map[string]bool{}
	for i := range 6 {
		body := fmt.Sprintf(`{"model":"m","max_tokens":16,"metadata":{"user_id":"bob"},"messages":[{"role":"user","content":"question %d"}]}`, i)
		seen[h.answeredBy("/v1/messages", body)] = true
	}
	if len(seen) != 1 {
		t.Errorf("one user's requests went to %v, want one member", seen)
	}
}

// Streamed answers through a least-busy group are counted in flight while
// they stream and give each member a time to first byte; a member that
// failed before answering gets none.
func TestGroup_LoadIsTrackedAcrossStreams(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"max_retries": -1})
	a := newFake(t, sse(chunk("a"), done))
	b := newFake(t, sse(chunk("b"), done))
	h.putProvider("a", a.baseURL(), "")
	h.putProvider("b", b.baseURL(), "")
	h.putProvider("dead", deadURL(t), "")
	rt := h.addRoute(map[string]any{"model_pattern": "m", "policy": "least-busy", "fallbacks": []string{},
		"targets": []map[string]any{member("dead", 1), member("a", 1), member("b", 1)}})
	for i := range 6 {
		body := fmt.Sprintf(`{"model":"m","stream":true,"messages":[{"role":"user","content":"c%d"}]}`, i)
		if resp, b := h.post("/v1/chat/completions", body); resp.StatusCode != http.StatusOK || resp.Header.Get("X-Modelbar-Backend") == "dead" {
			t.Fatalf("stream %d: status %d from %s: %s", i, resp.StatusCode, resp.Header.Get("X-Modelbar-Backend"), b)
		}
	}
	h.settle()
	inFlight, latency := h.gw.GroupLoad(rt.ID)
	if len(inFlight) != 3 {
		t.Fatalf("loads %v", inFlight)
	}
	for i, n := range inFlight {
		if n != 0 {
			t.Errorf("member %d: %d in flight after every stream ended", i, n)
		}
	}
	if latency[0] != 0 || latency[1] <= 0 || latency[2] <= 0 {
		t.Errorf("latencies %v: want none for the dead member, some for the others", latency)
	}
	if len(a.requests()) == 0 || len(b.requests()) == 0 {
		t.Errorf("least-busy used one member only: a %d, b %d", len(a.requests()), len(b.requests()))
	}
}
