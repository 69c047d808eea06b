package gateway_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawRequest opens a connection to the gateway and writes head (a request
// line and headers, without the blank line) announcing a body of n bytes,
// then the first part of that body.
func (h *harness) rawRequest(head string, n int, first string) net.Conn {
	h.t.Helper()
	c, err := net.Dial("tcp", h.srv.Listener.Addr().String())
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "%s\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", head, h.srv.Listener.Addr(), n, first)
	return c
}

func readResponse(t *testing.T, c net.Conn, within time.Duration) (*http.Response, []byte) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no response within %v: %v", within, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// A body that trickles in is cut off at the body read timeout with a 408 in
// the client's API (the audit held 2,000 bodies sent a byte every 20 s).
func TestBody_SlowBodyIs408(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"body_read_timeout_seconds": 1})
	for _, c := range []struct {
		path      string
		anthropic bool
	}{{"/v1/chat/completions", false}, {"/v1/messages", true}, {"/api/settings", false}} {
		t.Run(c.path, func(t *testing.T) {
			method := "POST"
			if c.path == "/api/settings" {
				method = "PUT"
			}
			conn := h.rawRequest(method+" "+c.path+" HTTP/1.1\r\nAuthorization: Bearer "+adminToken, 1000, `{"mo`)
			start := time.Now()
			resp, b := readResponse(t, conn, 10*time.Second)
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Fatalf("status %d body %s, want 408", resp.StatusCode, b)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("answered after %v with a 1 s body timeout", el)
			}
			if c.anthropic {
				mustAnthropicError(t, b)
			} else if e := mustOpenAIError(t, b); deref(e.Code) != "body_timeout" {
				t.Errorf("code %q, want body_timeout", deref(e.Code))
			}
		})
	}
	// A body that arrives in time is unaffected, and so is a long stream
	// after it (the deadline is cleared once the body is read).
	up := newFake(t, func(w http.ResponseWriter, _ *http.Request) {
		startSSE(w)
		for range 15 {
			writeEvent(w, chunk("tok"))
			time.Sleep(100 * time.Millisecond)
		}
		writeEvent(w, done)
	})
	h.putProvider("p", up.baseURL(), "")
	h.route("m", "p")
	resp, body := h.post("/v1/chat/completions", streamBody)
	if resp.StatusCode != http.StatusOK || !bytes.HasSuffix(body, []byte(done)) {
		t.Errorf("a 1.5 s stream after a 1 s body timeout: status %d, ends %q", resp.StatusCode, body[max(0, len(body)-40):])
	}
}

// Beyond max_connections a connection is answered 503 with Retry-After at
// once, and the others are served; a freed place is taken again.
func TestLimits_ConnectionCap(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"max_connections": 4})
	var idle []net.Conn
	for range 4 {
		c, err := net.Dial("tcp", h.srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	time.Sleep(100 * time.Millisecond) // let the server accept them
	c, err := net.Dial("tcp", h.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", h.srv.Listener.Addr())
	resp, b := readResponse(t, c, 5*time.Second)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("over the cap: status %d Retry-After %q body %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	if e := mustOpenAIError(t, b); deref(e.Code) != "too_many_connections" {
		t.Errorf("code %q", deref(e.Code))
	}
	idle[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", h.srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", h.srv.Listener.Addr())
		resp, _ := readResponse(t, c, 5*time.Second)
		c.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a closed connection's place was not freed: still %d", resp.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Beyond max_inflight_requests a request is answered 503 with Retry-After
// in its API's shape; health checks still answer; the place comes back.
func TestLimits_InflightCap(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"max_inflight_requests": 2})
	release := make(chan struct{})
	up := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		okChat("done")(w, r)
	})
	h.putProvider("p", up.baseURL(), "")
	h.route("m", "p")
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := h.client.Do(h.request(http.MethodPost, "/v1/chat/completions", []byte(chatBody)))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	for deadline := time.Now().Add(5 * time.Second); len(up.requests()) < 2; {
		if time.Now().After(deadline) {
			t.Fatal("the two requests did not reach the provider")
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, b := h.post("/v1/chat/completions", chatBody)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third request: status %d Retry-After %q body %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	if e := mustOpenAIError(t, b); deref(e.Code) != "overloaded" {
		t.Errorf("code %q", deref(e.Code))
	}
	resp, b = h.post("/v1/messages", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("anthropic: status %d", resp.StatusCode)
	}
	mustAnthropicError(t, b)
	if resp, _ := h.do(h.request(http.MethodGet, "/healthz", nil)); resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz under the cap: %d", resp.StatusCode)
	}
	close(release)
	wg.Wait()
	h.settle()
	if resp, b := h.post("/v1/chat/completions", chatBody); resp.StatusCode != http.StatusOK {
		t.Errorf("after the two ended: %d %s", resp.StatusCode, b)
	}
}

// Requests to translate share a budget of decoded bytes: one beyond it
// waits for room, and gets it when another ends.
func TestLimits_TranslationBudgetWaits(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"translation_budget_mb": 1})
	release := make(chan struct{})
	var once sync.Once
	up := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { <-release }) // the first request holds its budget
		reply(http.StatusOK, `{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"ok"}],`+
			`"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}`)(w, r)
	})
	h.mustAdmin(http.MethodPut, "/api/providers/a", map[string]any{"type": "anthropic", "base_url": up.srv.URL}, http.StatusCreated)
	h.route("claude", "a")
	big := `{"model":"claude","messages":[{"role":"user","content":"` + strings.Repeat("x", 700<<10) + `"}]}`
	first := make(chan int)
	go func() {
		resp, err := h.client.Do(h.request(http.MethodPost, "/v1/chat/completions", []byte(big)))
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	for deadline := time.Now().Add(5 * time.Second); len(up.requests()) < 1; {
		if time.Now().After(deadline) {
			t.Fatal("the first request did not reach the provider")
		}
		time.Sleep(10 * time.Millisecond)
	}
	second := make(chan int)
	go func() {
		resp, b := h.post("/v1/chat/completions", big)
		if resp.StatusCode != http.StatusOK {
			t.Logf("second: %s", b)
		}
		second <- resp.StatusCode
	}()
	time.Sleep(500 * time.Millisecond)
	if n := len(up.requests()); n != 1 {
		t.Fatalf("the second request reached the provider (%d requests) while the budget was full", n)
	}
	close(release)
	if s := <-first; s != http.StatusOK {
		t.Errorf("first: %d", s)
	}
	if s := <-second; s != http.StatusOK {
		t.Errorf("second, after waiting for room: %d", s)
	}
}

// A request that finds no room within a few seconds is refused with 503.
func TestLimits_TranslationBudgetRefuses(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the budget")
	}
	h := newHarness(t)
	h.settings(map[string]any{"translation_budget_mb": 1})
	release := make(chan struct{})
	defer close(release)
	up := newFake(t, func(w http.ResponseWriter, r *http.Request) { <-release })
	h.mustAdmin(http.MethodPut, "/api/providers/a", map[string]any{"type": "anthropic", "base_url": up.srv.URL}, http.StatusCreated)
	h.route("claude", "a")
	big := `{"model":"claude","messages":[{"role":"user","content":"` + strings.Repeat("x", 700<<10) + `"}]}`
	go h.client.Do(h.request(http.MethodPost, "/v1/chat/completions", []byte(big)))
	for deadline := time.Now().Add(5 * time.Second); len(up.requests()) < 1; {
		if time.Now().After(deadline) {
			t.Fatal("the first request did not reach the provider")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	resp, b := h.post("/v1/chat/completions", big)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d Retry-After %q body %s, want 503", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	if el := time.Since(start); el < 4*time.Second {
		t.Errorf("refused after %v: it should wait for room first", el)
	}
	if n := len(up.requests()); n != 1 {
		t.Errorf("provider got %d requests", n)
	}
}

// Model names are at most 256 bytes: a longer one is refused with a 400
// that quotes only its start, and adds nothing to the request log.
func TestModelName_TooLong(t *testing.T) {
	h := newHarness(t)
	long := strings.Repeat("m", 4<<20)
	cases := []struct {
		method, path, body string
		anthropic          bool
	}{
		{"POST", "/v1/chat/completions", chatFor(long), false},
		{"POST", "/v1/completions", `{"model":"` + long + `","prompt":"x"}`, false},
		{"POST", "/v1/messages", `{"model":"` + long + `","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`, true},
		{"POST", "/v1/messages/count_tokens", `{"model":"` + long + `","messages":[{"role":"user","content":"x"}]}`, true},
		{"GET", "/v1/models/" + long[:100_000], "", false},
	}
	logBefore := h.logs.Len()
	for _, c := range cases {
		var body []byte
		if c.body != "" {
			body = []byte(c.body)
		}
		resp, b := h.do(h.request(c.method, c.path, body))
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s: status %d", c.path, resp.StatusCode)
		}
		if len(b) > 2000 {
			t.Errorf("%s: the error is %d bytes: it echoes the name", c.path, len(b))
		}
		if c.anthropic {
			mustAnthropicError(t, b)
		} else if e := mustOpenAIError(t, b); deref(e.Param) != "model" {
			t.Errorf("%s: param %q", c.path, deref(e.Param))
		}
	}
	h.settle()
	if grown := h.logs.Len() - logBefore; grown > 4000 {
		t.Errorf("the log grew by %d bytes for %d refused requests", grown, len(cases))
	}
	if b := h.mustAdmin(http.MethodGet, "/api/requests?limit=100", nil, http.StatusOK); len(b) > 4000 {
		t.Errorf("/api/requests is %d bytes after refused long names", len(b))
	}
	if resp, _ := h.admin(http.MethodGet, "/api/routes/resolve?model="+long[:300], nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("resolve with a long name: %d", resp.StatusCode)
	}
	resp, b := h.admin(http.MethodPost, "/api/routes", map[string]any{"model_pattern": strings.Repeat("a*", 129), "backend": "local"})
	if resp.StatusCode != http.StatusBadRequest || deref(mustOpenAIError(t, b).Param) != "model_pattern" {
		t.Errorf("a 258-character pattern: %d %s", resp.StatusCode, b)
	}
	h.route(strings.Repeat("a", 255)+"*", "local") // the longest pattern, accepted
	if resp, b := h.post("/v1/chat/completions", chatFor(strings.Repeat("m", 256))); resp.StatusCode == http.StatusBadRequest {
		t.Errorf("a 256-byte name was refused: %s", b) // the longest name is routed (here: to no model, 404)
	}
}

// Invalid UTF-8 in a JSON body is refused, not relayed.
func TestBody_InvalidUTF8(t *testing.T) {
	h := newHarness(t)
	up := newFake(t, okChat("hi"))
	h.putProvider("p", up.baseURL(), "")
	h.route("m", "p")
	bad := "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"caf\xe9\"}]}"
	for _, path := range []string{"/v1/chat/completions", "/v1/messages"} {
		resp, b := h.post(path, bad)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "UTF-8") {
			t.Errorf("%s: status %d body %s, want 400 naming UTF-8", path, resp.StatusCode, b)
		}
	}
	if resp, _ := h.do(h.request(http.MethodPut, "/api/settings", []byte("{\"allowed_origins\":[\"http://\xff\"]}"), "Authorization", "Bearer "+adminToken)); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("admin API: status %d", resp.StatusCode)
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("the provider got %d requests with invalid UTF-8", n)
	}
}

// Origins of other schemes (browser extensions, editor webviews) get no
// CORS and no answer unless allowed_origins lists them; the list is
// validated.
func TestOrigin_AllowedOrigins(t *testing.T) {
	h := newHarness(t)
	call := func(origin, path string) *http.Response {
		resp, _ := h.do(h.request(http.MethodGet, path, nil, "Origin", origin, "Authorization", "Bearer "+adminToken))
		return resp
	}
	for _, o := range []string{"chrome-extension://abcdef", "vscode-webview://1234", "http://192.168.1.5:3000", "moz-extension://x"} {
		if resp := call(o, "/v1/models"); resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s unlisted: status %d ACAO %q, want 403 without CORS", o, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	h.settings(map[string]any{"allowed_origins": []string{"chrome-extension://abcdef", "http://192.168.1.5:3000"}})
	for _, o := range []string{"chrome-extension://abcdef", "http://192.168.1.5:3000"} {
		if resp := call(o, "/v1/models"); resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != o {
			t.Errorf("%s listed: status %d ACAO %q", o, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		if resp := call(o, "/api/status"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s on /api: %d, want 403 (the admin API is same-origin only)", o, resp.StatusCode)
		}
	}
	if resp := call("vscode-webview://1234", "/v1/models"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("still unlisted: %d", resp.StatusCode)
	}
	if resp := call("wails://wails", "/v1/models"); resp.StatusCode != http.StatusOK {
		t.Errorf("the desktop window on /v1: %d", resp.StatusCode)
	}
	for _, bad := range []string{"*", "https://x.example/path", "not an origin", "chrome-extension://*"} {
		resp, b := h.admin(http.MethodPut, "/api/settings", map[string]any{"allowed_origins": []string{"http://ok.example", bad}})
		if resp.StatusCode != http.StatusBadRequest || deref(mustOpenAIError(t, b).Param) != "allowed_origins[1]" {
			t.Errorf("allowed_origins with %q: %d %s", bad, resp.StatusCode, b)
		}
	}
}
