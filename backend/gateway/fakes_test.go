package gateway_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// received is one request as a fake provider saw it.
type received struct {
	Method string
	Path   string
	Query  string // the raw query
	Header http.Header
	Body   []byte
}

// fakeProvider is an OpenAI-style upstream on loopback that records every
// request and answers with a scripted handler.
type fakeProvider struct {
	srv *httptest.Server

	mu   sync.Mutex
	reqs []received // guarded by mu
}

// newFake starts a fake provider that answers with respond, after recording
// the request (r.Body can still be read: it is replayed).
func newFake(t *testing.T, respond http.HandlerFunc) *fakeProvider {
	t.Helper()
	f := &fakeProvider{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("fake provider: read body: %v", err)
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, received{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		f.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		respond(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// baseURL follows the OpenAI SDK convention: the version is part of it.
func (f *fakeProvider) baseURL() string { return f.srv.URL + "/v1" }

// requests returns what the fake has received so far.
func (f *fakeProvider) requests() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.reqs...)
}

// only returns the single request the fake received, failing otherwise.
func (f *fakeProvider) only(t *testing.T) received {
	t.Helper()
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("fake provider received %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

// reply answers status with body as JSON; headers are name, value pairs.
func reply(status int, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// okChat is a chat completion answer carrying content and a field no SDK
// knows, so a test can tell the gateway relayed it untouched.
func okChat(content string) http.HandlerFunc {
	return reply(http.StatusOK, fmt.Sprintf(
		`{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"m",`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2},"x_vendor":{"cached":true}}`, content))
}

// chunk is one OpenAI streaming event carrying content.
func chunk(content string) string {
	return fmt.Sprintf(`data: {"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"m",`+
		`"choices":[{"index":0,"delta":{"content":%q},"finish_reason":null}]}`+"\n\n", content)
}

const done = "data: [DONE]\n\n"

// sse starts an event stream, writing each event and flushing after each.
func sse(events ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		startSSE(w)
		for _, ev := range events {
			writeEvent(w, ev)
		}
	}
}

func startSSE(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	http.NewResponseController(w).Flush()
}

func writeEvent(w http.ResponseWriter, ev string) {
	io.WriteString(w, ev)
	http.NewResponseController(w).Flush()
}

// abort cuts the connection without ending the response properly: the client
// sees the body end early.
func abort() { panic(http.ErrAbortHandler) }
