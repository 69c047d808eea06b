package gateway

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/failover"
	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/redact"
)

// healthFake is an engine's health endpoint and model list that can be
// taken down, counting the checks and the headers they carried.
type healthFake struct {
	srv    *httptest.Server
	down   atomic.Bool
	mu     sync.Mutex
	paths  []string
	tenant []string // X-Tenant of each request
	auth   []string
}

func newHealthFake(t *testing.T) *healthFake {
	f := &healthFake{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.paths = append(f.paths, r.URL.Path)
		f.tenant = append(f.tenant, r.Header.Get("X-Tenant"))
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.mu.Unlock()
		if f.down.Load() {
			http.Error(w, `{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}`, http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"object":"list","data":[{"id":"m"}]}`))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *healthFake) checks() (paths, tenants, auths []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.paths...), append([]string(nil), f.tenant...), append([]string(nil), f.auth...)
}

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// healthGoroutines counts the goroutines running the health checks.
func healthGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "gateway.(*healthChecks)")
}

func providerState(b *failover.Breakers, name string) string {
	for _, c := range b.Status() {
		if c.Provider == name && c.Model == "" {
			return c.State
		}
	}
	return "closed"
}

// A failed check opens the provider's breaker and the next good one
// closes it; each provider runs on its own interval, with its key and
// extra headers, at its preset's health path; a change of interval
// restarts the check; close stops every goroutine.
func TestHealthChecks_FeedBreakersPerInterval(t *testing.T) {
	llama, lists := newHealthFake(t), newHealthFake(t)
	reg := providers.NewRegistry()
	defer reg.Close()
	cfgs := func(llamaEvery time.Duration) []providers.Config {
		return []providers.Config{
			{Name: "llama", Type: providers.OpenAI, BaseURL: llama.srv.URL + "/v1", Preset: "llamacpp", HealthCheck: llamaEvery,
				APIKey: redact.NewValue("sk-llama-key-123456"), ExtraHeaders: map[string]string{"X-Tenant": "a"}},
			{Name: "lms", Type: providers.OpenAI, BaseURL: lists.srv.URL + "/v1", Preset: "lmstudio", HealthCheck: time.Hour},
			{Name: "off", Type: providers.OpenAI, BaseURL: lists.srv.URL + "/v1"},
		}
	}
	reg.Sync(cfgs(20 * time.Millisecond))
	breakers := failover.NewBreakers(nil)
	var changes atomic.Int64
	before := healthGoroutines()
	h := newHealthChecks(reg, breakers, func() failover.Policy { return failover.Policy{CooldownFailures: 3, Cooldown: time.Minute} },
		func() { changes.Add(1) }, slog.New(slog.DiscardHandler))
	defer h.close()

	waitFor(t, "first checks", func() bool { return h.get("llama") != nil && h.get("lms") != nil })
	if h.get("off") != nil {
		t.Errorf("a provider without a health check has health %+v", h.get("off"))
	}
	paths, tenants, auths := llama.checks()
	if paths[0] != "/health" || tenants[0] != "a" || auths[0] != "Bearer sk-llama-key-123456" {
		t.Errorf("llama.cpp checked %v with X-Tenant %v, Authorization %v", paths, tenants, auths)
	}
	if lp, _, _ := lists.checks(); len(lp) != 1 || lp[0] != "/v1/models" {
		t.Errorf("LM Studio (no health endpoint, hourly) checked %v, want its model list once", lp)
	}

	llama.down.Store(true)
	waitFor(t, "a failed check", func() bool { hl := h.get("llama"); return hl != nil && !hl.OK })
	if hl := h.get("llama"); hl.Error == nil || !strings.Contains(*hl.Error, "503") || !strings.Contains(*hl.Error, "Loading model") {
		t.Errorf("health %+v", hl)
	}
	if s := providerState(breakers, "llama"); s != "cooldown" {
		t.Errorf("after a failed check the breaker is %q, want cooldown", s)
	}
	if _, c := breakers.Admit("llama", "m", false); c == nil {
		t.Error("a provider whose check failed admits requests")
	}
	llama.down.Store(false)
	waitFor(t, "a good check", func() bool { hl := h.get("llama"); return hl != nil && hl.OK })
	if s := providerState(breakers, "llama"); s != "closed" {
		t.Errorf("after a good check the breaker is %q, want closed", s)
	}
	if changes.Load() < 3 { // first checks, down, up
		t.Errorf("%d changes told", changes.Load())
	}

	// A longer interval restarts the check: one at once, then none for
	// the hour.
	reg.Sync(cfgs(time.Hour))
	h.refresh()
	n := len(first(llama.checks()))
	waitFor(t, "the restarted check", func() bool { return len(first(llama.checks())) == n+1 })
	time.Sleep(100 * time.Millisecond)
	if got := len(first(llama.checks())); got != n+1 {
		t.Errorf("%d checks after the restart, want 1 (hourly)", got-n)
	}

	h.close()
	if got := healthGoroutines(); got > before {
		t.Errorf("%d health goroutines left after close", got-before)
	}
}

// A failed check when the policy never cools down counts the failure and
// opens nothing.
func TestHealthChecks_NoCooldownPolicy(t *testing.T) {
	f := newHealthFake(t)
	f.down.Store(true)
	reg := providers.NewRegistry()
	defer reg.Close()
	reg.Sync([]providers.Config{{Name: "v", Type: providers.OpenAI, BaseURL: f.srv.URL + "/v1", Preset: "vllm", HealthCheck: time.Hour}})
	breakers := failover.NewBreakers(nil)
	h := newHealthChecks(reg, breakers, func() failover.Policy { return failover.Policy{} }, func() {}, slog.New(slog.DiscardHandler))
	defer h.close()
	waitFor(t, "a failed check", func() bool { hl := h.get("v"); return hl != nil && !hl.OK })
	if s := providerState(breakers, "v"); s != "failing" {
		t.Errorf("breaker %q, want failing (counted, not open)", s)
	}
}

func first(a, _, _ []string) []string { return a }
