// Package metrics is a small Prometheus registry: counter and histogram
// vectors, and gauges and counters evaluated at scrape time, written in the
// text exposition format 0.0.4. It has no dependencies beyond the standard
// library: modelbar needs a handful of metrics, not the client library.
package metrics

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
)

// ContentType is the media type of what WriteText writes.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// Sample is one value of a scrape-time metric: its label values, in the
// order of the metric's label names, and the value.
type Sample struct {
	Labels []string
	Value  float64
}

// family is one metric as the registry writes it.
type family interface {
	header() (name, help, typ string)
	// write appends the family's sample lines, in a stable order.
	write(b *strings.Builder)
}

// Registry holds metric families and writes them sorted by name. The zero
// value is not ready: use NewRegistry. Safe for concurrent use.
type Registry struct {
	mu       sync.Mutex
	families map[string]family // guarded by mu
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{families: map[string]family{}} }

// register adds f. A bad or duplicate name, or a bad label name, panics:
// metrics are declared at start, so that is a programming error.
func (r *Registry) register(f family, labels []string) {
	name, _, _ := f.header()
	if !metricName.MatchString(name) {
		panic(fmt.Sprintf("metrics: invalid metric name %q", name))
	}
	for _, l := range labels {
		if !labelName.MatchString(l) || strings.HasPrefix(l, "__") || l == "le" {
			panic(fmt.Sprintf("metrics: %s: invalid label name %q", name, l))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.families[name]; dup {
		panic(fmt.Sprintf("metrics: %s registered twice", name))
	}
	r.families[name] = f
}

// Counter registers and returns a counter vector with these label names.
func (r *Registry) Counter(name, help string, labels ...string) *CounterVec {
	c := &CounterVec{name: name, help: help, labels: slices.Clone(labels), series: map[string]*counterSeries{}}
	r.register(c, labels)
	return c
}

// Histogram registers and returns a histogram vector with these upper
// bucket bounds (sorted here; +Inf is implied) and label names.
func (r *Registry) Histogram(name, help string, buckets []float64, labels ...string) *HistogramVec {
	b := slices.Clone(buckets)
	sort.Float64s(b)
	h := &HistogramVec{name: name, help: help, labels: slices.Clone(labels), buckets: b, series: map[string]*histogramSeries{}}
	r.register(h, labels)
	return h
}

// GaugeFunc registers a gauge whose samples fn returns at each scrape. fn
// runs on the scraping goroutine and must be quick and safe for concurrent
// use; samples whose label count is wrong are left out.
func (r *Registry) GaugeFunc(name, help string, labels []string, fn func() []Sample) {
	r.register(&funcFamily{name: name, help: help, typ: "gauge", labels: slices.Clone(labels), fn: fn}, labels)
}

// CounterFunc is GaugeFunc for a counter kept elsewhere (it must only grow).
func (r *Registry) CounterFunc(name, help string, labels []string, fn func() []Sample) {
	r.register(&funcFamily{name: name, help: help, typ: "counter", labels: slices.Clone(labels), fn: fn}, labels)
}

// WriteTo writes every family in the text exposition format 0.0.4:
// families sorted by name, each with its HELP and TYPE lines, series sorted
// by label values. Families are rendered in memory first, so a slow w holds
// no lock.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	fams := make([]family, 0, len(r.families))
	for _, f := range r.families {
		fams = append(fams, f)
	}
	r.mu.Unlock()
	sort.Slice(fams, func(i, j int) bool {
		a, _, _ := fams[i].header()
		b, _, _ := fams[j].header()
		return a < b
	})
	var b strings.Builder
	for _, f := range fams {
		name, help, typ := f.header()
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(help), name, typ)
		f.write(&b)
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}
