package gateway_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/modelbar/modelbar/backend/gateway"
)

// throughToxiproxy puts a real TCP proxy between the gateway and up, with
// one toxic (Toxiproxy's JSON form) on it, and returns the proxy's base
// URL: faults of the connection itself (a reset, a stall, a cut) are made
// on the wire, not simulated by the handler.
func throughToxiproxy(t *testing.T, up *fakeProvider, toxic string) string {
	t.Helper()
	u, err := url.Parse(up.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(server, t.Name(), "127.0.0.1:0", u.Host)
	if err := p.Start(); err != nil {
		t.Fatalf("toxiproxy: %v", err)
	}
	t.Cleanup(p.Stop)
	if _, err := p.Toxics.AddToxicJson(strings.NewReader(toxic)); err != nil {
		t.Fatalf("toxiproxy toxic %s: %v", toxic, err)
	}
	return "http://" + p.Listen + "/v1"
}

// TestFaultMatrix drives every upstream fault through the gateway with a
// fallback configured. Before the first byte, the client never sees the
// fault: the fallback answers. After it, the client sees the part it got
// and then the protocol's error event, never a stream that looks complete.
func TestFaultMatrix(t *testing.T) {
	const (
		toFallback = "fallback answers"
		inStream   = "partial answer, then an error event"
		relayed    = "the backend's own error event, relayed"
	)
	stallForever := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	cases := []struct {
		name    string
		primary http.HandlerFunc // the upstream behind the fault
		toxic   string           // a Toxiproxy toxic between gateway and upstream; "" for none
		dead    bool             // nothing listens
		stream  bool
		want    string
	}{
		{name: "429 with Retry-After", primary: reply(http.StatusTooManyRequests, upstreamError, "Retry-After", "30"), want: toFallback},
		{name: "500", primary: reply(http.StatusInternalServerError, upstreamError), want: toFallback},
		{name: "502", primary: reply(http.StatusBadGateway, upstreamError), want: toFallback},
		{name: "503", primary: reply(http.StatusServiceUnavailable, upstreamError), want: toFallback},
		{name: "connect refused", dead: true, want: toFallback},
		{name: "stream: connect refused", dead: true, stream: true, want: toFallback},
		{name: "reset before headers", primary: okChat("never seen"),
			toxic: `{"type":"reset_peer","stream":"downstream","attributes":{"timeout":0}}`, want: toFallback},
		{name: "stream: reset before headers", primary: sse(chunk("never seen"), done),
			toxic: `{"type":"reset_peer","stream":"downstream","attributes":{"timeout":0}}`, stream: true, want: toFallback},
		{name: "stall before the first byte", primary: okChat("never seen"),
			toxic: `{"type":"timeout","stream":"downstream","attributes":{"timeout":0}}`, want: toFallback},
		{name: "stream: stall before the first byte", primary: stallForever, stream: true, want: toFallback},
		{name: "malformed JSON", primary: reply(http.StatusOK, `{"id":"x","choices":[`), want: toFallback},
		{name: "HTML error page with 200", primary: reply(http.StatusOK, "<html>bad gateway</html>", "Content-Type", "text/html"), want: toFallback},
		{name: "stream: stall mid-stream", primary: func(w http.ResponseWriter, r *http.Request) {
			startSSE(w)
			writeEvent(w, chunk("partial"))
			<-r.Context().Done()
		}, stream: true, want: inStream},
		{name: "stream: truncated on the wire", primary: sse(chunk("partial"), chunk(strings.Repeat("x", 4096)), done),
			toxic: `{"type":"limit_data","stream":"downstream","attributes":{"bytes":600}}`, stream: true, want: inStream},
		{name: "stream: truncated by the server", primary: func(w http.ResponseWriter, _ *http.Request) {
			startSSE(w)
			writeEvent(w, chunk("partial"))
			abort()
		}, stream: true, want: inStream},
		{name: "stream: in-band error event", primary: sse(chunk("partial"),
			`data: {"error":{"message":"model overloaded","type":"server_error"}}`+"\n\n"), stream: true, want: relayed},
	}
	before := stableGoroutines()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, func(o *gateway.Options) {})
			h.settings(map[string]any{"retry_backoff_ms": 5, "retry_backoff_max_ms": 50, "first_byte_timeout_seconds": 1,
				"stream_idle_timeout_seconds": 1})
			primaryURL := deadURL(t)
			var primary *fakeProvider
			if !c.dead {
				primary = newFake(t, c.primary)
				primaryURL = primary.baseURL()
				if c.toxic != "" {
					primaryURL = throughToxiproxy(t, primary, c.toxic)
				}
			}
			body, fallbackReply := chatBody, okChat("from fallback")
			if c.stream {
				body, fallbackReply = streamBody, sse(chunk("from fallback"), done)
			}
			fallback := newFake(t, fallbackReply)
			h.putProvider("primary", primaryURL, "")
			h.putProvider("fallback", fallback.baseURL(), "")
			h.route("m", "primary", "fallback")

			resp, got := h.post("/v1/chat/completions", body)
			switch c.want {
			case toFallback:
				if resp.StatusCode != http.StatusOK || !bytes.Contains(got, []byte("from fallback")) {
					t.Fatalf("status %d, body %s: want the fallback's answer (no client-visible error)", resp.StatusCode, got)
				}
				if resp.Header.Get("X-Modelbar-Fallback-From") != "primary" || resp.Header.Get("X-Modelbar-Backend") != "fallback" {
					t.Errorf("backend %q, fallback from %q; want fallback from primary",
						resp.Header.Get("X-Modelbar-Backend"), resp.Header.Get("X-Modelbar-Fallback-From"))
				}
			case inStream, relayed:
				if resp.StatusCode != http.StatusOK || !bytes.Contains(got, []byte("partial")) || !bytes.Contains(got, []byte(`"error"`)) {
					t.Fatalf("status %d, body %s: want %s", resp.StatusCode, got, c.want)
				}
				if bytes.Contains(got, []byte("[DONE]")) || len(fallback.requests()) != 0 {
					t.Errorf("body %s, fallback called %d times: a started stream must neither look complete nor fail over",
						got, len(fallback.requests()))
				}
				if c.want == relayed && !bytes.Contains(got, []byte("model overloaded")) {
					t.Errorf("body %s: the backend's own error event was not relayed", got)
				}
			}
			h.settle()
		})
	}
	if after := stableGoroutines(); after > before+4 {
		t.Errorf("%d goroutines before the matrix, %d after: a leak", before, after)
	}
}

// With a fallback, a burst of requests through a failing primary sees no
// client-visible error even while the primary goes into cooldown.
func TestFaultMatrix_NoErrorsUnderCooldown(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"retry_backoff_ms": 1, "cooldown_failures": 2, "cooldown_seconds": 60})
	primary := newFake(t, reply(http.StatusServiceUnavailable, upstreamError))
	fallback := newFake(t, okChat("from fallback"))
	h.putProvider("primary", primary.baseURL(), "")
	h.putProvider("fallback", fallback.baseURL(), "")
	h.route("m", "primary", "fallback")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	burst := func() {
		errs := make(chan error, 50)
		for range 50 {
			go func() {
				req := h.request(http.MethodPost, "/v1/chat/completions", []byte(chatBody)).WithContext(ctx)
				resp, err := h.client.Do(req)
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte("from fallback")) {
						err = &statusErr{resp.StatusCode, string(b)}
					}
				}
				errs <- err
			}()
		}
		for range 50 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	}
	burst()
	calls := len(primary.requests())
	burst()
	if n := len(primary.requests()) - calls; n != 0 {
		t.Errorf("primary called %d times in a second burst: the cooldown did not spare it", n)
	}
}

type statusErr struct {
	status int
	body   string
}

func (e *statusErr) Error() string { return http.StatusText(e.status) + ": " + e.body }
