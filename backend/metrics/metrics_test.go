package metrics_test

import (
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/modelbar/modelbar/backend/metrics"
)

func render(t *testing.T, r *metrics.Registry) string {
	t.Helper()
	var b strings.Builder
	if _, err := r.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// parse reads the exposition with Prometheus's own parser.
func parse(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("Prometheus cannot parse the output: %v\n%s", err, text)
	}
	return fams
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// find returns the metric of fam with exactly these labels.
func find(t *testing.T, fam *dto.MetricFamily, labels map[string]string) *dto.Metric {
	t.Helper()
	if fam == nil {
		t.Fatalf("no such family")
	}
	for _, m := range fam.GetMetric() {
		if cmp.Equal(labelsOf(m), labels) {
			return m
		}
	}
	t.Fatalf("%s has no series %v", fam.GetName(), labels)
	return nil
}

func TestRegistry_ParsesWithPrometheus(t *testing.T) {
	r := metrics.NewRegistry()
	reqs := r.Counter("app_requests_total", "Requests by code.", "backend", "code")
	lat := r.Histogram("app_duration_seconds", "Duration.", []float64{1, 0.1, 10}, "backend")
	r.GaugeFunc("app_loaded", "Loaded models.", nil, func() []metrics.Sample { return []metrics.Sample{{Value: 2}} })
	r.GaugeFunc("app_memory_bytes", "Memory per model.", []string{"model"}, func() []metrics.Sample {
		return []metrics.Sample{{Labels: []string{"b"}, Value: 1 << 30}, {Labels: []string{"a"}, Value: 5}, {Labels: []string{"x", "y"}, Value: 9}}
	})
	r.CounterFunc("app_dropped_total", "Dropped.", nil, func() []metrics.Sample { return []metrics.Sample{{Value: 3}} })

	reqs.Inc("openai", "200")
	reqs.Inc("openai", "200")
	reqs.Add(3, "anthropic", "429")
	for _, v := range []float64{0.05, 0.1, 0.5, 2, 100} {
		lat.Observe(v, "openai")
	}
	fams := parse(t, render(t, r))

	counters := []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"backend": "openai", "code": "200"}, 2},
		{map[string]string{"backend": "anthropic", "code": "429"}, 3},
	}
	for _, c := range counters {
		if got := find(t, fams["app_requests_total"], c.labels).GetCounter().GetValue(); got != c.want {
			t.Errorf("app_requests_total%v = %v, want %v", c.labels, got, c.want)
		}
	}
	if fams["app_requests_total"].GetType() != dto.MetricType_COUNTER || fams["app_requests_total"].GetHelp() != "Requests by code." {
		t.Errorf("app_requests_total: type %v help %q", fams["app_requests_total"].GetType(), fams["app_requests_total"].GetHelp())
	}

	h := find(t, fams["app_duration_seconds"], map[string]string{"backend": "openai"}).GetHistogram()
	var buckets [][2]float64
	for _, b := range h.GetBucket() {
		buckets = append(buckets, [2]float64{b.GetUpperBound(), float64(b.GetCumulativeCount())})
	}
	// 0.1 falls in le="0.1": bounds are inclusive. +Inf is implied by _count.
	wantBuckets := [][2]float64{{0.1, 2}, {1, 3}, {10, 4}, {math.Inf(1), 5}}
	if diff := cmp.Diff(wantBuckets, buckets); diff != "" {
		t.Errorf("buckets (-want +got):\n%s", diff)
	}
	if h.GetSampleCount() != 5 || h.GetSampleSum() != 102.65 {
		t.Errorf("count %d sum %v, want 5 and 102.65", h.GetSampleCount(), h.GetSampleSum())
	}

	if got := find(t, fams["app_loaded"], map[string]string{}).GetGauge().GetValue(); got != 2 {
		t.Errorf("app_loaded = %v", got)
	}
	if got := find(t, fams["app_memory_bytes"], map[string]string{"model": "b"}).GetGauge().GetValue(); got != 1<<30 {
		t.Errorf("app_memory_bytes{model=b} = %v", got)
	}
	if n := len(fams["app_memory_bytes"].GetMetric()); n != 2 {
		t.Errorf("app_memory_bytes has %d series, want 2 (the sample with two labels left out)", n)
	}
	if got := find(t, fams["app_dropped_total"], map[string]string{}).GetCounter().GetValue(); got != 3 {
		t.Errorf("app_dropped_total = %v", got)
	}
}

func TestRegistry_EscapesLabelValuesAndHelp(t *testing.T) {
	values := []string{`back\slash`, `"quoted"`, "new\nline", "ünïcode ✓", "", "bad \xff utf8", `}{,=`}
	r := metrics.NewRegistry()
	c := r.Counter("esc_total", "Help with a \\ backslash\nand a new line.", "v")
	for _, v := range values {
		c.Inc(v)
	}
	text := render(t, r)
	fams := parse(t, text)
	if got, want := fams["esc_total"].GetHelp(), "Help with a \\ backslash\nand a new line."; got != want {
		t.Errorf("help %q, want %q", got, want)
	}
	for _, v := range values {
		want := strings.ToValidUTF8(v, "\uFFFD")
		if got := find(t, fams["esc_total"], map[string]string{"v": want}).GetCounter().GetValue(); got != 1 {
			t.Errorf("value %q: %v", v, got)
		}
	}
	for _, raw := range []string{"new\nline", `"quoted"`} {
		if strings.Contains(text, raw) {
			t.Errorf("output holds %q unescaped:\n%s", raw, text)
		}
	}
}

// The output is the same on every scrape and ordered: families by name,
// series by label values, buckets ascending.
func TestRegistry_StableOrder(t *testing.T) {
	r := metrics.NewRegistry()
	b := r.Counter("b_total", "B.", "x")
	a := r.Histogram("a_seconds", "A.", []float64{0.5, 1}, "x")
	r.GaugeFunc("c", "C.", []string{"m"}, func() []metrics.Sample {
		return []metrics.Sample{{Labels: []string{"z"}, Value: 1}, {Labels: []string{"y"}, Value: 2}}
	})
	for _, x := range []string{"q", "p"} {
		b.Inc(x)
		a.Observe(0.7, x)
	}
	want := `# HELP a_seconds A.
# TYPE a_seconds histogram
a_seconds_bucket{x="p",le="0.5"} 0
a_seconds_bucket{x="p",le="1"} 1
a_seconds_bucket{x="p",le="+Inf"} 1
a_seconds_sum{x="p"} 0.7
a_seconds_count{x="p"} 1
a_seconds_bucket{x="q",le="0.5"} 0
a_seconds_bucket{x="q",le="1"} 1
a_seconds_bucket{x="q",le="+Inf"} 1
a_seconds_sum{x="q"} 0.7
a_seconds_count{x="q"} 1
# HELP b_total B.
# TYPE b_total counter
b_total{x="p"} 1
b_total{x="q"} 1
# HELP c C.
# TYPE c gauge
c{m="y"} 2
c{m="z"} 1
`
	for range 3 {
		if diff := cmp.Diff(want, render(t, r)); diff != "" {
			t.Fatalf("output (-want +got):\n%s", diff)
		}
	}
}

// A family with no series yet still says what it is, and parses.
func TestRegistry_EmptyFamilies(t *testing.T) {
	r := metrics.NewRegistry()
	r.Counter("none_total", "Nothing yet.", "x")
	r.Histogram("none_seconds", "Nothing yet.", []float64{1}, "x")
	text := render(t, r)
	parse(t, text)
	if !strings.Contains(text, "# TYPE none_total counter\n") || !strings.Contains(text, "# TYPE none_seconds histogram\n") {
		t.Errorf("missing TYPE lines:\n%s", text)
	}
}

func TestRegistry_RefusesMistakes(t *testing.T) {
	tests := []struct {
		name string
		f    func(r *metrics.Registry)
	}{
		{"bad metric name", func(r *metrics.Registry) { r.Counter("1bad", "h") }},
		{"bad label name", func(r *metrics.Registry) { r.Counter("ok_total", "h", "a-b") }},
		{"reserved label", func(r *metrics.Registry) { r.Histogram("ok_seconds", "h", nil, "le") }},
		{"duplicate", func(r *metrics.Registry) { r.Counter("dup", "h"); r.GaugeFunc("dup", "h", nil, nil) }},
		{"wrong label count", func(r *metrics.Registry) { r.Counter("ok_total", "h", "a").Inc("x", "y") }},
		{"negative counter", func(r *metrics.Registry) { r.Counter("ok_total", "h").Add(-1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tt.f(metrics.NewRegistry())
		})
	}
}

func TestRegistry_ConcurrentUse(t *testing.T) {
	r := metrics.NewRegistry()
	c := r.Counter("c_total", "C.", "k")
	h := r.Histogram("h_seconds", "H.", []float64{1}, "k")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 500 {
				c.Inc([]string{"a", "b"}[i%2])
				h.Observe(0.5, "a")
			}
		})
		wg.Go(func() { render(t, r) })
	}
	wg.Wait()
	if got := c.Value("a") + c.Value("b"); got != 4000 {
		t.Errorf("total %v, want 4000", got)
	}
	fams := parse(t, render(t, r))
	if got := find(t, fams["h_seconds"], map[string]string{"k": "a"}).GetHistogram().GetSampleCount(); got != 4000 {
		t.Errorf("histogram count %d, want 4000", got)
	}
}
