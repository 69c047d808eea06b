package gateway

import (
	"net/http"
	"strconv"
	"time"

	"github.com/modelbar/modelbar/backend/metrics"
	"github.com/modelbar/modelbar/backend/reqlog"
)

// Histogram buckets in seconds. Answers of language models take from tens
// of milliseconds (a cached local model) to minutes (a long generation).
var (
	durationBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
	ttfbBuckets     = []float64{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}
)

// gatewayMetrics are the series the gateway records per inference request.
// Their labels are API names, backend names and status codes: nothing a
// client sends, so no prompt or key can reach /metrics.
type gatewayMetrics struct {
	requests  *metrics.CounterVec
	errors    *metrics.CounterVec
	failovers *metrics.CounterVec
	tokens    *metrics.CounterVec
	duration  *metrics.HistogramVec
	ttfb      *metrics.HistogramVec
}

// registerMetrics declares the gateway's metrics in reg, those read at
// scrape time included.
func (s *Server) registerMetrics(reg *metrics.Registry) *gatewayMetrics {
	m := &gatewayMetrics{
		requests: reg.Counter("modelbar_requests_total",
			"Inference requests, by API, the backend that answered (none: the gateway itself) and HTTP status.", "protocol", "backend", "code"),
		errors: reg.Counter("modelbar_request_errors_total",
			"Inference requests answered with a status of 400 or above.", "protocol", "backend"),
		failovers: reg.Counter("modelbar_failovers_total",
			"Backends that failed before the first byte and were failed over from.", "from"),
		tokens: reg.Counter("modelbar_tokens_total",
			"Tokens the backends reported, by direction (input or output).", "backend", "direction"),
		duration: reg.Histogram("modelbar_request_duration_seconds",
			"Time from a request's arrival to the end of its answer.", durationBuckets, "backend"),
		ttfb: reg.Histogram("modelbar_time_to_first_byte_seconds",
			"Time from a request's arrival to the first byte of its answer.", ttfbBuckets, "backend"),
	}
	reg.GaugeFunc("modelbar_local_models_loaded", "Local models in memory.", nil, s.loadedModelsGauge)
	reg.GaugeFunc("modelbar_local_model_memory_bytes", "Memory held by each local model in memory.",
		[]string{"model"}, s.modelMemoryGauge)
	reg.CounterFunc("modelbar_request_log_dropped_total",
		"Request-log entries lost because the queue was full or the database refused them.", nil,
		func() []metrics.Sample { return []metrics.Sample{{Value: float64(s.requests.Dropped())}} })
	return m
}

// observe records one finished inference request; ttfb < 0 means the
// answer never started.
func (m *gatewayMetrics) observe(e reqlog.Entry, d, ttfb time.Duration) {
	backend := e.Backend
	if backend == "" {
		backend = noBackend
	}
	m.requests.Inc(e.Protocol, backend, strconv.Itoa(e.Status))
	if e.IsError() { // as the request log counts them: a client that left (499) is no error, a stream that broke after it began is
		m.errors.Inc(e.Protocol, backend)
	}
	for _, from := range e.FallbackFrom {
		m.failovers.Inc(from)
	}
	m.duration.Observe(d.Seconds(), backend)
	if ttfb >= 0 {
		m.ttfb.Observe(ttfb.Seconds(), backend)
	}
	if e.InputTokens > 0 {
		m.tokens.Add(float64(e.InputTokens), backend, "input")
	}
	if e.OutputTokens > 0 {
		m.tokens.Add(float64(e.OutputTokens), backend, "output")
	}
}

func (s *Server) loadedModelsGauge() []metrics.Sample {
	n := 0
	for _, m := range s.localModels() {
		if m.Loaded {
			n++
		}
	}
	return []metrics.Sample{{Value: float64(n)}}
}

func (s *Server) modelMemoryGauge() []metrics.Sample {
	var out []metrics.Sample
	for _, m := range s.localModels() {
		if m.Loaded {
			out = append(out, metrics.Sample{Labels: []string{m.ID}, Value: float64(m.MemoryBytes)})
		}
	}
	return out
}

// serveMetrics answers a Prometheus scrape. It needs no token (scrapers
// rarely send one, and nothing in it is secret) but passes the same Host
// allow-list and Origin policy as /api: a web page may not read it.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", metrics.ContentType)
	w.Header().Set("Cache-Control", "no-store")
	if _, err := s.metrics.WriteTo(w); err != nil {
		s.log.DebugContext(r.Context(), "metrics scrape cut short", "err", err)
	}
}

// Metrics is the registry behind /metrics, for others to add their series.
func (s *Server) Metrics() *metrics.Registry { return s.metrics }
