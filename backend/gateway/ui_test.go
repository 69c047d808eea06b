package gateway_test

import (
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/modelbar/modelbar/backend/gateway"
)

// An index.html of an older build, still carrying the placeholder the
// server once filled with the admin token.
const uiIndex = `<!doctype html><html><head><meta name="modelbar-admin-token" content=""></head><body></body></html>`

// /ui serves the built frontend as built — no secret is put into it — to
// this origin only; assets come from the same files.
func TestUI_ServesTheFrontendWithoutASecret(t *testing.T) {
	ui := fstest.MapFS{"index.html": {Data: []byte(uiIndex)}, "assets/app-1234.js": {Data: []byte("console.log(1)")}}
	h := newHarness(t, func(o *gateway.Options) { o.UI = ui })

	resp, body := h.do(h.request(http.MethodGet, "/ui/", nil))
	if resp.StatusCode != http.StatusOK || string(body) != uiIndex || strings.Contains(string(body), adminToken) {
		t.Fatalf("GET /ui/: %d %s, want the page as built, without the token", resp.StatusCode, body)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("index headers %v: want no-store and no CORS", resp.Header)
	}
	resp, body = h.do(h.request(http.MethodGet, "/ui/assets/app-1234.js", nil))
	if resp.StatusCode != http.StatusOK || string(body) != "console.log(1)" || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Errorf("asset: %d %q %s", resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}
	if resp, _ := h.do(h.request(http.MethodGet, "/ui/../../etc/passwd", nil)); resp.StatusCode == http.StatusOK {
		t.Error("a path outside the UI was served")
	}
	for _, path := range []string{"/ui/missing.js", "/ui/assets", "/ui/assets/"} {
		if resp, _ := h.do(h.request(http.MethodGet, path, nil)); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, resp.StatusCode)
		}
	}
	// A page of another origin cannot load it.
	if resp, _ := h.do(h.request(http.MethodGet, "/ui/", nil, "Origin", "https://evil.example")); resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign Origin: %d, want 403", resp.StatusCode)
	}
	if resp, _ := h.do(h.request(http.MethodGet, "/ui/", nil, "Host", "evil.example:80")); resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign Host: %d, want 403", resp.StatusCode)
	}
}

func TestUI_NotBuilt(t *testing.T) {
	h := newHarness(t)
	resp, body := h.do(h.request(http.MethodGet, "/ui/", nil))
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "npm run build") {
		t.Errorf("GET /ui/ without a UI: %d %s", resp.StatusCode, body)
	}
}
