package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/protocol"
)

const streamBody = `{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`

// gate is a channel a fake provider waits on; open is safe to call twice and
// is also run at cleanup, so a failing test never leaves a fake blocked.
type gate struct {
	ch   chan struct{}
	once sync.Once
}

func newGate(t *testing.T) *gate {
	g := &gate{ch: make(chan struct{})}
	t.Cleanup(g.open)
	return g
}

func (g *gate) open() { g.once.Do(func() { close(g.ch) }) }

// within waits for ch, failing the test if it does not close in a generous
// time: a liveness guard, so a gateway that buffers fails instead of hanging.
func within(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// nextEvent reads one SSE event (through its blank line) from br.
func nextEvent(br *bufio.Reader) (string, error) {
	var ev strings.Builder
	for {
		line, err := br.ReadString('\n')
		ev.WriteString(line)
		if err != nil {
			return ev.String(), err
		}
		if line == "\n" || line == "\r\n" {
			return ev.String(), nil
		}
	}
}

func readEvent(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	ev, err := nextEvent(br)
	if err != nil {
		t.Fatalf("reading an event: %v (read so far %q)", err, ev)
	}
	return ev
}

// openStream posts a streaming chat request and returns the open response.
func openStream(t *testing.T, h *harness) *http.Response {
	t.Helper()
	resp, err := h.client.Do(h.request(http.MethodPost, "/v1/chat/completions", []byte(streamBody)))
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	return resp
}

// The fake sends event 1 and then waits until the test has read event 1 from
// the gateway: a gateway that buffered would never deliver it.
func TestStream_RelaysEachEventAsItArrives(t *testing.T) {
	h := newHarness(t)
	release := newGate(t)
	up := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		startSSE(w)
		writeEvent(w, chunk("one"))
		select {
		case <-release.ch:
		case <-r.Context().Done():
			return
		}
		writeEvent(w, chunk("two"))
		writeEvent(w, done)
	})
	h.putProvider("p", up.baseURL(), "")
	h.route("m", "p")

	resp := openStream(t, h)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q", ct)
	}
	if b := resp.Header.Get("X-Modelbar-Backend"); b != "p" {
		t.Errorf("X-Modelbar-Backend = %q, want p", b)
	}
	br := bufio.NewReader(resp.Body)
	first := make(chan string, 1)
	go func() {
		ev, _ := nextEvent(br)
		first <- ev
	}()
	var ev1 string
	select {
	case ev1 = <-first:
	case <-time.After(30 * time.Second):
		t.Fatal("event 1 did not arrive while the provider held event 2 back: the gateway buffers")
	}
	if ev1 != chunk("one") {
		t.Fatalf("event 1 = %q, want %q", ev1, chunk("one"))
	}
	release.open()
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("read rest: %v", err)
	}
	if want := chunk("two") + done; string(rest) != want {
		t.Errorf("rest of stream = %q, want %q", rest, want)
	}
}

// After the first event has reached the client, a failure is reported in the
// stream as an OpenAI error event and the fallback is never tried.
func TestStream_FailureAfterFirstByteEndsWithErrorEvent(t *testing.T) {
	tests := []struct {
		name    string
		primary http.HandlerFunc
	}{
		{"connection cut", func(w http.ResponseWriter, _ *http.Request) {
			startSSE(w)
			writeEvent(w, chunk("one"))
			abort()
		}},
		{"ends without [DONE]", sse(chunk("one"))},
		{"cut inside an event", func(w http.ResponseWriter, _ *http.Request) {
			startSSE(w)
			writeEvent(w, chunk("one"))
			writeEvent(w, `data: {"id":"c1","choi`)
			abort()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			primary := newFake(t, tt.primary)
			fallback := newFake(t, sse(chunk("fallback"), done))
			h.putProvider("primary", primary.baseURL(), "")
			h.putProvider("fallback", fallback.baseURL(), "")
			h.route("m", "primary", "fallback")

			resp := openStream(t, h)
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("the gateway's own stream must end cleanly: %v", err)
			}
			rest, ok := strings.CutPrefix(string(body), chunk("one"))
			if !ok {
				t.Fatalf("stream %q does not start with the first event", body)
			}
			if strings.Contains(rest, "[DONE]") {
				t.Errorf("a failed stream ends with [DONE]: %q", body)
			}
			events := strings.SplitAfter(strings.TrimSuffix(rest, "\n\n"), "\n\n")
			if len(events) != 1 {
				t.Fatalf("after the first event got %q, want exactly one error event", rest)
			}
			var ev struct {
				Error openAIError `json:"error"`
			}
			data := protocol.EventData([]byte(events[0]))
			if err := json.Unmarshal(data, &ev); err != nil || ev.Error.Message == "" || ev.Error.Type != "server_error" {
				t.Errorf("error event %q: want data: {\"error\":{message, type server_error}} (%v)", events[0], err)
			}
			if got := resp.Header.Get("X-Modelbar-Backend"); got != "primary" {
				t.Errorf("X-Modelbar-Backend = %q, want primary", got)
			}
			if got := resp.Header.Get("X-Modelbar-Fallback-From"); got != "" {
				t.Errorf("X-Modelbar-Fallback-From = %q, want none", got)
			}
			if n := len(fallback.requests()); n != 0 {
				t.Errorf("the fallback received %d requests after the first byte, want 0", n)
			}
		})
	}
}

// A stream that reached [DONE] is complete, however the connection ends
// afterwards: nothing may follow [DONE].
func TestStream_CutAfterDoneIsComplete(t *testing.T) {
	h := newHarness(t)
	up := newFake(t, func(w http.ResponseWriter, _ *http.Request) {
		startSSE(w)
		writeEvent(w, chunk("one"))
		writeEvent(w, done)
		abort()
	})
	h.putProvider("p", up.baseURL(), "")
	h.route("m", "p")
	resp := openStream(t, h)
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if want := chunk("one") + done; string(body) != want {
		t.Errorf("stream = %q, want %q", body, want)
	}
}

// Some compatible servers end a stream after the finish_reason chunk without
// [DONE]. A clean end after a finish is complete: no error event follows,
// and the relay adds no [DONE] the server did not send. A cut connection
// after the finish is not a clean end.
func TestStream_FinishWithoutDone(t *testing.T) {
	const finish = `data: {"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n"
	for name, tt := range map[string]struct {
		upstream  http.HandlerFunc
		wantError bool
	}{
		"clean end": {sse(chunk("one"), finish), false},
		"cut after the finish": {func(w http.ResponseWriter, _ *http.Request) {
			startSSE(w)
			writeEvent(w, chunk("one"))
			writeEvent(w, finish)
			abort()
		}, true},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.putProvider("p", newFake(t, tt.upstream).baseURL(), "")
			h.route("m", "p")
			body, err := io.ReadAll(openStream(t, h).Body)
			if err != nil {
				t.Fatal(err)
			}
			rest, ok := strings.CutPrefix(string(body), chunk("one")+finish)
			if !ok {
				t.Fatalf("stream %q lost events", body)
			}
			if gotError := strings.Contains(rest, `"error"`); gotError != tt.wantError {
				t.Errorf("after the finish: %q; want an error event: %v", rest, tt.wantError)
			}
		})
	}
}

// A client that gives up while the provider is still thinking cancels the
// provider's request too, and no fallback is tried on its behalf.
func TestNonStream_ClientDisconnectCancelsUpstream(t *testing.T) {
	h := newHarness(t)
	arrived, cancelled := make(chan struct{}), make(chan struct{})
	release := newGate(t)
	up := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-release.ch:
		}
	})
	fallback := newFake(t, okChat("fallback"))
	h.putProvider("p", up.baseURL(), "")
	h.putProvider("fallback", fallback.baseURL(), "")
	h.route("m", "p", "fallback")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := h.request(http.MethodPost, "/v1/chat/completions", []byte(chatBody)).WithContext(ctx)
	errc := make(chan error, 1)
	go func() {
		resp, err := h.client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	within(t, arrived, "the request to reach the provider")
	cancel()
	if err := <-errc; err == nil {
		t.Errorf("the cancelled request succeeded")
	}
	within(t, cancelled, "the upstream request to be cancelled after the client left")
	h.settle()
	if n := len(fallback.requests()); n != 0 {
		t.Errorf("the fallback received %d requests for a client that left", n)
	}
}

func TestStream_ClientDisconnectCancelsUpstream(t *testing.T) {
	h := newHarness(t)
	cancelled := make(chan struct{})
	release := newGate(t)
	up := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		startSSE(w)
		writeEvent(w, chunk("one"))
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-release.ch:
		}
	})
	h.putProvider("p", up.baseURL(), "")
	h.route("m", "p")

	resp := openStream(t, h)
	if ev := readEvent(t, bufio.NewReader(resp.Body)); ev != chunk("one") {
		t.Fatalf("event 1 = %q", ev)
	}
	resp.Body.Close()
	within(t, cancelled, "the upstream request to be cancelled after the client left")
}
