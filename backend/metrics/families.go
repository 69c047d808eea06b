package metrics

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// CounterVec is a counter per combination of label values. Safe for
// concurrent use.
type CounterVec struct {
	name, help string
	labels     []string
	mu         sync.Mutex
	series     map[string]*counterSeries // guarded by mu; keyed by seriesKey
}

type counterSeries struct {
	values []string
	value  float64
}

func (c *CounterVec) header() (string, string, string) { return c.name, c.help, "counter" }

// Inc adds 1 to the series with these label values.
func (c *CounterVec) Inc(values ...string) { c.Add(1, values...) }

// Add adds v (>= 0) to the series with these label values. A wrong number
// of values, or a negative v, panics: the caller is wrong.
func (c *CounterVec) Add(v float64, values ...string) {
	values = checkValues(c.name, c.labels, values)
	if v < 0 || math.IsNaN(v) {
		panic(fmt.Sprintf("metrics: %s: counters only go up, not by %v", c.name, v))
	}
	k := seriesKey(values)
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.series[k]
	if s == nil {
		s = &counterSeries{values: slices.Clone(values)}
		c.series[k] = s
	}
	s.value += v
}

// Value is the series' current value, 0 if it was never added to.
func (c *CounterVec) Value(values ...string) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.series[seriesKey(values)]; s != nil {
		return s.value
	}
	return 0
}

func (c *CounterVec) write(b *strings.Builder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range sortedKeys(c.series) {
		s := c.series[k]
		writeSample(b, c.name, c.labels, s.values, "", "", s.value)
	}
}

// HistogramVec is a histogram per combination of label values. Safe for
// concurrent use.
type HistogramVec struct {
	name, help string
	labels     []string
	buckets    []float64 // upper bounds, ascending, without +Inf
	mu         sync.Mutex
	series     map[string]*histogramSeries // guarded by mu; keyed by seriesKey
}

type histogramSeries struct {
	values []string
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	count  uint64
}

func (h *HistogramVec) header() (string, string, string) { return h.name, h.help, "histogram" }

// Observe records v in the series with these label values. A wrong number
// of values panics.
func (h *HistogramVec) Observe(v float64, values ...string) {
	values = checkValues(h.name, h.labels, values)
	i := sort.SearchFloat64s(h.buckets, v) // first bound >= v: buckets are "less or equal"
	k := seriesKey(values)
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.series[k]
	if s == nil {
		s = &histogramSeries{values: slices.Clone(values), counts: make([]uint64, len(h.buckets)+1)}
		h.series[k] = s
	}
	s.counts[i]++
	s.sum += v
	s.count++
}

func (h *HistogramVec) write(b *strings.Builder) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, k := range sortedKeys(h.series) {
		s := h.series[k]
		var cum uint64
		for i, n := range s.counts {
			cum += n
			le := "+Inf"
			if i < len(h.buckets) {
				le = formatFloat(h.buckets[i])
			}
			writeSample(b, h.name+"_bucket", h.labels, s.values, "le", le, float64(cum))
		}
		writeSample(b, h.name+"_sum", h.labels, s.values, "", "", s.sum)
		writeSample(b, h.name+"_count", h.labels, s.values, "", "", float64(s.count))
	}
}

// funcFamily is a gauge or counter whose samples a function returns at
// scrape time.
type funcFamily struct {
	name, help, typ string
	labels          []string
	fn              func() []Sample
}

func (f *funcFamily) header() (string, string, string) { return f.name, f.help, f.typ }

func (f *funcFamily) write(b *strings.Builder) {
	samples := map[string]Sample{}
	for _, s := range f.fn() {
		if len(s.Labels) == len(f.labels) {
			s.Labels = slices.Clone(s.Labels)
			for i, v := range s.Labels {
				s.Labels[i] = strings.ToValidUTF8(v, "\uFFFD")
			}
			samples[seriesKey(s.Labels)] = s // a repeated label set: the last wins
		}
	}
	for _, k := range sortedKeys(samples) {
		writeSample(b, f.name, f.labels, samples[k].Labels, "", "", samples[k].Value)
	}
}

// checkValues panics on a wrong number of label values and returns them as
// valid UTF-8, which the format requires.
func checkValues(name string, labels, values []string) []string {
	if len(values) != len(labels) {
		panic(fmt.Sprintf("metrics: %s has labels %v, got %d values", name, labels, len(values)))
	}
	for i, v := range values {
		if !utf8.ValidString(v) {
			values = slices.Clone(values)
			values[i] = strings.ToValidUTF8(v, "\uFFFD")
		}
	}
	return values
}

// seriesKey joins label values with a byte that cannot occur in UTF-8 text,
// so distinct value lists give distinct keys that sort like the lists.
func seriesKey(values []string) string { return strings.Join(values, "\xff") }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// writeSample writes one line: name{labels,extra="value"} value.
func writeSample(b *strings.Builder, name string, labels, values []string, extraName, extraValue string, v float64) {
	b.WriteString(name)
	if len(labels) > 0 || extraName != "" {
		b.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				b.WriteByte(',')
			}
			writeLabel(b, l, values[i])
		}
		if extraName != "" {
			if len(labels) > 0 {
				b.WriteByte(',')
			}
			writeLabel(b, extraName, extraValue)
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(formatFloat(v))
	b.WriteByte('\n')
}

func writeLabel(b *strings.Builder, name, value string) {
	b.WriteString(name)
	b.WriteString(`="`)
	b.WriteString(labelValueEscaper.Replace(value))
	b.WriteByte('"')
}

// The format escapes backslash, double quote and line feed in label values,
// and backslash and line feed in HELP text.
var (
	labelValueEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper       = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeHelp(s string) string { return helpEscaper.Replace(s) }

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
