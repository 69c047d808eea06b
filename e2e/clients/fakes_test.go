package clients

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// record is one request a fake provider received, and what it answered.
type record struct {
	Fake     string
	Time     time.Time
	Path     string
	Model    string
	Stream   bool
	CaseID   string
	Decision string // text, tool, final, object, side, or an error
	Tools    string
	Body     string // the request, cut to a few KB
}

func (r record) String() string {
	return fmt.Sprintf("%s %s %s model=%q stream=%v case=%q -> %s (tools: %s)\n    %s",
		r.Time.Format("15:04:05.000"), r.Fake, r.Path, r.Model, r.Stream, r.CaseID, r.Decision, r.Tools, r.Body)
}

// recorder keeps every request the fakes saw; safe for concurrent use.
type recorder struct {
	mu   sync.Mutex
	recs []record // guarded by mu
}

func (rc *recorder) add(r record) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.recs = append(rc.recs, r)
}

// forCase returns the requests that carried the case's tag.
func (rc *recorder) forCase(id string) []record {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []record
	for _, r := range rc.recs {
		if r.CaseID == id {
			out = append(out, r)
		}
	}
	return out
}

// between returns the requests received in [from, to]: a failing case's
// side requests, which carry no tag.
func (rc *recorder) between(from, to time.Time) []record {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []record
	for _, r := range rc.recs {
		if !r.Time.Before(from) && !r.Time.After(to) {
			out = append(out, r)
		}
	}
	return out
}

// fake is a provider on loopback.
type fake struct {
	name string
	url  string // its base URL in its SDK's convention
	srv  *http.Server
}

func startFake(name string, h http.Handler, withV1 bool) (*fake, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &fake{name: name, url: "http://" + ln.Addr().String(), srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	if withV1 {
		f.url += "/v1"
	}
	go f.srv.Serve(ln)
	return f, nil
}

func (f *fake) close() { f.srv.Close() }

// events is a conversation's user turns and tool results, in order: the
// script looks at the tool results after the last tagged user turn.
type events struct {
	texts       []string
	resultAfter []int // resultAfter[i]: tool results seen after user text i
	results     int
}

func (e *events) user(text string) {
	e.texts = append(e.texts, text)
	e.resultAfter = append(e.resultAfter, e.results)
}

func (e *events) toolResult() { e.results++ }

// fill sets the conversation's UserTexts and ToolResults.
func (e *events) fill(c *conversation) {
	c.UserTexts = e.texts
	if i := tagIndex(e.texts); i >= 0 {
		c.ToolResults = e.results - e.resultAfter[i]
	}
}

func readJSON(r *http.Request) (map[string]any, string, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		return nil, "", err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, cut(string(b), 4096), fmt.Errorf("not JSON: %w", err)
	}
	return m, cut(string(b), 4096), nil
}

// cut shortens s to n bytes, keeping its head and tail.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n/2] + fmt.Sprintf(" …(%d bytes cut)… ", len(s)-n) + s[len(s)-n/2:]
}

// sse writes Server-Sent Events and flushes each one.
type sse struct {
	w http.ResponseWriter
	f *http.ResponseController
}

func newSSE(w http.ResponseWriter) *sse {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	return &sse{w: w, f: http.NewResponseController(w)}
}

func (s *sse) event(name string, v any) {
	if name != "" {
		fmt.Fprintf(s.w, "event: %s\n", name)
	}
	if str, ok := v.(string); ok {
		fmt.Fprintf(s.w, "data: %s\n\n", str)
	} else {
		fmt.Fprintf(s.w, "data: %s\n\n", jsonString(v))
	}
	s.f.Flush()
}

// pieces splits s in up to three parts, to stream it in several deltas.
func pieces(s string) []string {
	if len(s) < 6 {
		return []string{s}
	}
	a, b := len(s)/3, 2*len(s)/3
	return []string{s[:a], s[a:b], s[b:]}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write([]byte(jsonString(v)))
}

func textOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		var parts []string
		for _, p := range x {
			if m, ok := p.(map[string]any); ok {
				if t, ok := m["text"].(string); ok {
					parts = append(parts, t)
				}
			}
		}
		return strings.Join(parts, "\n")
	}
	return ""
}
