package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/modelbar/modelbar/backend/reqlog"
)

// scrape reads /metrics as Prometheus does (no token) and parses it with
// Prometheus's own parser.
func (h *harness) scrape() map[string]*dto.MetricFamily {
	h.t.Helper()
	resp, b := h.do(h.request(http.MethodGet, "/metrics", nil))
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("GET /metrics: %d %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		h.t.Errorf("Content-Type %q", ct)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		h.t.Fatalf("parse /metrics: %v\n%s", err, b)
	}
	return fams
}

// metricValue is the value of the series of fam with exactly these labels,
// 0 if there is none; for a histogram, its count.
func metricValue(fams map[string]*dto.MetricFamily, fam string, labels map[string]string) float64 {
	for _, m := range fams[fam].GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if !cmp.Equal(got, labels) {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		case m.GetHistogram() != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return 0
}

func TestMetrics_CountRequests(t *testing.T) {
	h := newHarness(t)
	primary := newFake(t, reply(http.StatusServiceUnavailable, upstreamError))
	fallback := newFake(t, okChat("hi"))
	h.putProvider("primary", primary.baseURL(), "")
	h.putProvider("fallback", fallback.baseURL(), "")
	h.route("m", "primary", "fallback")
	for range 2 {
		if resp, b := h.post("/v1/chat/completions", chatBody); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
	}
	h.post("/v1/chat/completions", `{"model":"unrouted","messages":[{"role":"user","content":"x"}]}`)
	h.mustAdmin(http.MethodGet, "/api/status", nil, http.StatusOK) // not an inference request: not counted
	h.settle()

	fams := h.scrape()
	tests := []struct {
		fam    string
		labels map[string]string
		want   float64
	}{
		{"modelbar_requests_total", map[string]string{"protocol": "openai", "backend": "fallback", "code": "200"}, 2},
		{"modelbar_requests_total", map[string]string{"protocol": "openai", "backend": "local", "code": "404"}, 1},
		{"modelbar_request_errors_total", map[string]string{"protocol": "openai", "backend": "local"}, 1},
		{"modelbar_request_errors_total", map[string]string{"protocol": "openai", "backend": "fallback"}, 0},
		{"modelbar_failovers_total", map[string]string{"from": "primary"}, 2},
		{"modelbar_request_duration_seconds", map[string]string{"backend": "fallback"}, 2},
		{"modelbar_request_log_dropped_total", map[string]string{}, 0},
		{"modelbar_local_models_loaded", map[string]string{}, 0},
	}
	for _, tt := range tests {
		if got := metricValue(fams, tt.fam, tt.labels); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.fam, tt.labels, got, tt.want)
		}
	}
	if n := len(fams["modelbar_requests_total"].GetMetric()); n != 2 {
		t.Errorf("modelbar_requests_total has %d series, want 2", n)
	}
	for _, m := range fams["modelbar_request_duration_seconds"].GetMetric() {
		bs := m.GetHistogram().GetBucket()
		if len(bs) == 0 || bs[len(bs)-1].GetCumulativeCount() > m.GetHistogram().GetSampleCount() {
			t.Errorf("histogram buckets %v, count %d", bs, m.GetHistogram().GetSampleCount())
		}
	}
	// Families without series yet still declare themselves.
	_, text := h.do(h.request(http.MethodGet, "/metrics", nil))
	for _, typ := range []string{"modelbar_time_to_first_byte_seconds histogram", "modelbar_tokens_total counter",
		"modelbar_local_model_memory_bytes gauge"} {
		if !strings.Contains(string(text), "# TYPE "+typ+"\n") {
			t.Errorf("no TYPE line for %s", typ)
		}
	}
}

// /metrics needs no token but is guarded like /api: the Host allow-list
// against DNS rebinding, same-origin pages only, and never CORS headers.
func TestMetrics_HostAndOriginPolicy(t *testing.T) {
	h := newHarness(t)
	self := "http://" + h.srv.Listener.Addr().String()
	tests := []struct {
		name    string
		headers []string
		want    int
	}{
		{"scraper, no origin", nil, http.StatusOK},
		{"same-origin page", []string{"Origin", self}, http.StatusOK},
		{"localhost name", []string{"Host", "localhost"}, http.StatusOK},
		{"foreign page", []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"other loopback page", []string{"Origin", "http://127.0.0.1:5173"}, http.StatusForbidden},
		{"null origin", []string{"Origin", "null"}, http.StatusForbidden},
		{"rebound name", []string{"Host", "evil.example"}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := h.do(h.request(http.MethodGet, "/metrics", nil, tt.headers...))
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tt.want, b)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("Access-Control-Allow-Origin: %q", got)
			}
			if tt.want == http.StatusForbidden && strings.Contains(string(b), "modelbar_") {
				t.Errorf("refused response carries metrics: %s", b)
			}
		})
	}
	resp, _ := h.do(h.request(http.MethodOptions, "/metrics", nil, "Origin", "http://127.0.0.1:5173", "Access-Control-Request-Method", "GET"))
	if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.StatusCode < 400 {
		t.Errorf("preflight: status %d, headers %v", resp.StatusCode, resp.Header)
	}
}

// A request is in /api/requests, with its route, backend and failover, as
// soon as its response has finished: the log is written in batches but
// read through them.
func TestRequestLog_EntryVisibleAtOnce(t *testing.T) {
	h := newHarness(t)
	primary := newFake(t, reply(http.StatusServiceUnavailable, upstreamError))
	fallback := newFake(t, okChat("hi"))
	h.putProvider("primary", primary.baseURL(), "")
	h.putProvider("fallback", fallback.baseURL(), "")
	h.route("m*", "primary", "fallback")
	for i := range 3 {
		if resp, b := h.post("/v1/chat/completions", chatBody); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		h.settle()
		var entries []reqlog.Entry
		decode(t, h.mustAdmin(http.MethodGet, "/api/requests?limit=1", nil, http.StatusOK), &entries)
		if len(entries) != 1 || entries[0].ID != int64(i+1) {
			t.Fatalf("after request %d: %+v", i+1, entries)
		}
		e := entries[0]
		if e.Route != "m*" || e.Backend != "fallback" || !cmp.Equal(e.FallbackFrom, []string{"primary"}) || e.Status != 200 {
			t.Errorf("entry %+v", e)
		}
		if e.TTFBMS < -1 || e.TTFBMS > e.DurationMS || e.InputTokens < 0 || e.OutputTokens < 0 {
			t.Errorf("timings or usage out of range: %+v", e)
		}
	}
	var newer []reqlog.Entry
	decode(t, h.mustAdmin(http.MethodGet, "/api/requests?after=2", nil, http.StatusOK), &newer)
	if len(newer) != 1 || newer[0].ID != 3 {
		t.Errorf("?after=2: %+v", newer)
	}
}
