package gateway

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/modelbar/modelbar/backend/metrics"
	"github.com/modelbar/modelbar/backend/reqlog"
)

// logRequest maps what the handler learned (requestInfo) to the request
// log and the metrics; the inference path fills requestInfo.
func TestLogRequest_MapsRequestInfo(t *testing.T) {
	start := time.Now().Add(-2 * time.Second)
	tests := []struct {
		name   string
		status int
		info   requestInfo
		want   reqlog.Entry
	}{
		{
			name:   "answered after a failover",
			status: http.StatusOK,
			info: requestInfo{protocol: "anthropic", model: "claude", route: "claude-*", backend: "openrouter",
				fallbackFrom: []string{"anthropic"}, stream: true, firstByte: start.Add(750 * time.Millisecond),
				inputTokens: 120, outputTokens: 34},
			want: reqlog.Entry{Method: "POST", Path: "/v1/messages", Protocol: "anthropic", Model: "claude", Route: "claude-*",
				Backend: "openrouter", FallbackFrom: []string{"anthropic"}, Status: 200, Stream: true,
				InputTokens: 120, OutputTokens: 34, OutputTokensSource: reqlog.TokensUsage, TTFBMS: 750, Attempts: []reqlog.Attempt{}},
		},
		{
			name:   "never started",
			status: http.StatusBadGateway,
			info:   requestInfo{protocol: "openai", model: "m", backend: "p", errMsg: strings.Repeat("x", 400)},
			want: reqlog.Entry{Method: "POST", Path: "/v1/messages", Protocol: "openai", Model: "m", Backend: "p",
				FallbackFrom: []string{}, Status: 502, TTFBMS: -1, Error: strings.Repeat("x", 300) + "…", Attempts: []reqlog.Attempt{}},
		},
		{
			name: "client gone before the status",
			info: requestInfo{protocol: "openai", model: "m"},
			want: reqlog.Entry{Method: "POST", Path: "/v1/messages", Protocol: "openai", Model: "m",
				FallbackFrom: []string{}, Status: 499, TTFBMS: -1, Attempts: []reqlog.Attempt{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := bareServer(t)
			info := tt.info
			s.logRequest(httptest.NewRequest(http.MethodPost, "/v1/messages", nil), tt.status, start, &info)
			got, err := s.requests.Recent(t.Context(), 10, 0)
			if err != nil || len(got) != 1 {
				t.Fatalf("Recent = %v, %v; want one entry", got, err)
			}
			if got[0].DurationMS < 2000 || !got[0].Time.Equal(start) {
				t.Errorf("time %v duration %d ms; want %v and at least 2000", got[0].Time, got[0].DurationMS, start)
			}
			opts := cmpopts.IgnoreFields(reqlog.Entry{}, "ID", "Time", "DurationMS")
			if diff := cmp.Diff(tt.want, got[0], opts); diff != "" {
				t.Errorf("entry (-want +got):\n%s", diff)
			}
		})
	}
}

// Requests without a model (admin calls, model lists) are neither logged
// nor counted.
func TestLogRequest_SkipsRequestsWithoutModel(t *testing.T) {
	s := bareServer(t)
	s.logRequest(httptest.NewRequest(http.MethodGet, "/api/status", nil), 200, time.Now(), &requestInfo{})
	if got, _ := s.requests.Recent(t.Context(), 10, 0); len(got) != 0 {
		t.Errorf("logged %v", got)
	}
	if got := s.met.requests.Value("", noBackend, "200"); got != 0 {
		t.Errorf("counted %v", got)
	}
}

func TestLogRequest_RecordsMetrics(t *testing.T) {
	s := bareServer(t)
	start := time.Now()
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	s.logRequest(r, 200, start, &requestInfo{protocol: "openai", model: "m", backend: "b", fallbackFrom: []string{"a", "local"},
		firstByte: start.Add(10 * time.Millisecond), inputTokens: 7, outputTokens: 3})
	s.logRequest(r, 429, start, &requestInfo{protocol: "openai", model: "m", backend: "a"})
	s.logRequest(r, 400, start, &requestInfo{protocol: "openai", model: "m"})
	s.logRequest(r, 499, start, &requestInfo{protocol: "openai", model: "m", backend: "c"})                                 // the client left: no error
	s.logRequest(r, 200, start, &requestInfo{protocol: "openai", model: "m", backend: "d", errMsg: "upstream d broke off"}) // a stream that broke after it began
	counts := []struct {
		name string
		c    *metrics.CounterVec
		vals []string
		want float64
	}{
		{"requests b 200", s.met.requests, []string{"openai", "b", "200"}, 1},
		{"requests a 429", s.met.requests, []string{"openai", "a", "429"}, 1},
		{"requests none 400", s.met.requests, []string{"openai", noBackend, "400"}, 1},
		{"errors a", s.met.errors, []string{"openai", "a"}, 1},
		{"errors b", s.met.errors, []string{"openai", "b"}, 0},
		{"errors c (cancelled)", s.met.errors, []string{"openai", "c"}, 0},
		{"errors d (broken stream)", s.met.errors, []string{"openai", "d"}, 1},
		{"failovers a", s.met.failovers, []string{"a"}, 1},
		{"failovers local", s.met.failovers, []string{"local"}, 1},
		{"input tokens", s.met.tokens, []string{"b", "input"}, 7},
		{"output tokens", s.met.tokens, []string{"b", "output"}, 3},
	}
	for _, c := range counts {
		if got := c.c.Value(c.vals...); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	var b strings.Builder
	s.metrics.WriteTo(&b)
	for _, line := range []string{
		`modelbar_time_to_first_byte_seconds_count{backend="b"} 1`,
		`modelbar_request_duration_seconds_count{backend="a"} 1`,
		"modelbar_request_log_dropped_total 0",
		"modelbar_local_models_loaded 0",
	} {
		if !strings.Contains(b.String(), line+"\n") {
			t.Errorf("no line %q in\n%s", line, b.String())
		}
	}
	if strings.Contains(b.String(), `modelbar_time_to_first_byte_seconds_count{backend="a"}`) {
		t.Errorf("a request that never started has a time to first byte:\n%s", b.String())
	}
}

// bareServer is a Server with just what logRequest needs.
func bareServer(t *testing.T) *Server {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	requests := reqlog.New(&reqlog.Memory{}, reqlog.Options{Log: log})
	t.Cleanup(func() { requests.Close() })
	s := &Server{log: log, requests: requests, metrics: metrics.NewRegistry()}
	s.met = s.registerMetrics(s.metrics)
	return s
}
