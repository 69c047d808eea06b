package gateway_test

import (
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/gateway"
)

func TestHost_AllowList(t *testing.T) {
	h := newHarness(t)
	_, port, _ := net.SplitHostPort(h.srv.Listener.Addr().String())
	tests := []struct {
		host string
		want int
	}{
		{"evil.example", http.StatusForbidden},
		{"evil.example:" + port, http.StatusForbidden},
		{"127.0.0.1.evil.example", http.StatusForbidden},
		{"localhost.evil.example:" + port, http.StatusForbidden},
		{"192.168.1.10:" + port, http.StatusForbidden},
		{"localhost:" + port, http.StatusOK},
		{"LOCALHOST:" + port, http.StatusOK},
		{"127.0.0.1:" + port, http.StatusOK},
		{"[::1]:" + port, http.StatusOK},
		{"[::1]", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			for _, path := range []string{"/v1/models", "/api/status"} {
				resp, b := h.do(h.request(http.MethodGet, path, nil, "Host", tt.host, "Authorization", "Bearer "+adminToken))
				if resp.StatusCode != tt.want {
					t.Fatalf("%s: status %d, want %d: %s", path, resp.StatusCode, tt.want, b)
				}
				if tt.want == http.StatusForbidden {
					if e := mustOpenAIError(t, b); deref(e.Code) != "host_not_allowed" {
						t.Errorf("code = %q, want host_not_allowed", deref(e.Code))
					}
				}
			}
		})
	}
}

func TestOrigin_Policy(t *testing.T) {
	h := newHarness(t)
	self := "http://" + h.srv.Listener.Addr().String()
	tests := []struct {
		name   string
		method string
		path   string
		origin string
		want   int
		acao   string // the Access-Control-Allow-Origin wanted
	}{
		{"web page on /v1", "GET", "/v1/models", "https://evil.example", http.StatusForbidden, ""},
		{"web page on /api", "GET", "/api/status", "https://evil.example", http.StatusForbidden, ""},
		{"null origin", "GET", "/v1/models", "null", http.StatusForbidden, ""},
		{"file origin", "GET", "/v1/models", "file://", http.StatusForbidden, ""},
		{"loopback app on /v1", "GET", "/v1/models", "http://localhost:3000", http.StatusOK, "http://localhost:3000"},
		{"loopback IP app on /v1", "GET", "/v1/models", "http://127.0.0.1:5173", http.StatusOK, "http://127.0.0.1:5173"},
		{"preflight", "OPTIONS", "/v1/chat/completions", "http://localhost:3000", http.StatusNoContent, "http://localhost:3000"},
		{"preflight from a web page", "OPTIONS", "/v1/chat/completions", "https://evil.example", http.StatusForbidden, ""},
		{"same origin on /api", "GET", "/api/status", self, http.StatusOK, ""},
		{"other loopback port on /api", "GET", "/api/status", "http://localhost:3000", http.StatusForbidden, ""},
		{"desktop webview on /api", "GET", "/api/status", "wails://wails", http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := h.request(tt.method, tt.path, nil, "Origin", tt.origin, "Authorization", "Bearer "+adminToken)
			if tt.method == http.MethodOptions {
				req.Header.Set("Access-Control-Request-Method", "POST")
				req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
			}
			resp, b := h.do(req)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, b)
			}
			if resp.StatusCode == http.StatusForbidden {
				if e := mustOpenAIError(t, b); deref(e.Code) != "origin_not_allowed" {
					t.Errorf("code = %q, want origin_not_allowed", deref(e.Code))
				}
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tt.acao {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tt.acao)
			}
			if tt.acao != "" && !hasToken(resp.Header, "Vary", "Origin") {
				t.Errorf("Vary = %q, want it to name Origin", resp.Header.Values("Vary"))
			}
			if tt.acao != "" && !hasToken(resp.Header, "Access-Control-Expose-Headers", "X-Modelbar-Backend") {
				t.Errorf("Access-Control-Expose-Headers = %q: a browser app cannot read which backend answered", resp.Header.Values("Access-Control-Expose-Headers"))
			}
		})
	}
}

// The OpenAI and Anthropic JavaScript SDKs send X-Stainless-* headers (and
// Anthropic's its direct-browser-access header) on every request; a
// preflight that does not allow them blocks every such local web app.
func TestOrigin_PreflightAllowsRequestedHeaders(t *testing.T) {
	h := newHarness(t)
	requested := []string{"authorization", "content-type", "x-stainless-os", "x-stainless-timeout", "anthropic-dangerous-direct-browser-access"}
	req := h.request(http.MethodOptions, "/v1/chat/completions", nil,
		"Origin", "http://localhost:3000",
		"Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", strings.Join(requested, ","))
	resp, b := h.do(req)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	for _, name := range requested {
		if !hasToken(resp.Header, "Access-Control-Allow-Headers", name) {
			t.Errorf("Access-Control-Allow-Headers = %q lacks %s", resp.Header.Values("Access-Control-Allow-Headers"), name)
		}
	}
	if !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("Access-Control-Allow-Methods = %q", resp.Header.Get("Access-Control-Allow-Methods"))
	}
}

// The provider's own CORS headers never reach the client: the gateway's
// policy is the only one, and it never allows every origin. (The harness
// fails any test whose response says "*".)
func TestOrigin_UpstreamCORSHeadersDropped(t *testing.T) {
	h := newHarness(t)
	up := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		w.Header().Set("Vary", "Accept-Encoding")
		okChat("hi")(w, r)
	})
	h.putProvider("p", up.baseURL(), "")
	h.route("m", "p")
	for _, origin := range []string{"", "http://localhost:3000"} {
		resp, b := h.post("/v1/chat/completions", chatBody, "Origin", origin)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("origin %q: status %d: %s", origin, resp.StatusCode, b)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != origin {
			t.Errorf("origin %q: Access-Control-Allow-Origin = %q", origin, got)
		}
		if got := resp.Header.Get("Access-Control-Allow-Credentials"); got != "" {
			t.Errorf("origin %q: the provider's Access-Control-Allow-Credentials reached the client", origin)
		}
		if origin != "" && !hasToken(resp.Header, "Vary", "Origin") {
			t.Errorf("Vary = %q: the provider's Vary replaced the gateway's Vary: Origin", resp.Header.Values("Vary"))
		}
	}
}

func TestBodyLimit_TooLarge(t *testing.T) {
	h := newHarness(t, func(o *gateway.Options) { o.MaxBodyBytes = 1024 })
	up := newFake(t, okChat("hi"))
	h.putProvider("p", up.baseURL(), "")
	h.route("m", "p")
	big := `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("x", 2000) + `"}]}`
	for _, path := range []string{"/v1/chat/completions", "/v1/completions", "/v1/embeddings"} {
		resp, b := h.post(path, big)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("%s: status %d, want 413: %s", path, resp.StatusCode, b)
		}
		if e := mustOpenAIError(t, b); deref(e.Code) != "request_too_large" || e.Type != "invalid_request_error" {
			t.Errorf("%s: error %+v", path, e)
		}
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("provider received %d requests, want 0", n)
	}
	if resp, b := h.post("/v1/chat/completions", chatBody); resp.StatusCode != http.StatusOK {
		t.Errorf("a body under the limit: status %d: %s", resp.StatusCode, b)
	}
}

// hasToken reports whether a comma-separated header lists token (any case).
func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		if slices.ContainsFunc(strings.Split(v, ","), func(s string) bool {
			return strings.EqualFold(strings.TrimSpace(s), token)
		}) {
			return true
		}
	}
	return false
}
