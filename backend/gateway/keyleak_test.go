package gateway_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
)

const liveKey = "sk-live-SECRETSECRET-1234"

// echoKey is a careless provider that quotes the credential it was sent in
// its error message, as some self-hosted servers do.
func echoKey(status int, contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		auth := r.Header.Get("Authorization")
		if contentType == "application/json" {
			fmt.Fprintf(w, `{"error":{"message":"Incorrect API key provided: %s","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`, auth)
			return
		}
		fmt.Fprintf(w, "bad credentials %s", auth)
	}
}

// leakCheck collects everything a client or the disk can see and looks for
// secrets in it: the provider key of these tests unless told others.
type leakCheck struct {
	t       *testing.T
	secrets []string // nil: liveKey and its distinctive middle
	seen    []string // what was looked at, for the failure message
	blobs   [][]byte
}

func (c *leakCheck) add(what string, b []byte) {
	c.seen = append(c.seen, what)
	c.blobs = append(c.blobs, b)
}

func (c *leakCheck) response(what string, resp *http.Response, body []byte) {
	var hdr bytes.Buffer
	resp.Header.Write(&hdr)
	c.add(what+" headers", hdr.Bytes())
	c.add(what+" body", body)
}

func (c *leakCheck) assertNoKey() {
	c.t.Helper()
	secrets := c.secrets
	if secrets == nil {
		secrets = []string{liveKey, "SECRETSECRET"}
	}
	for i, b := range c.blobs {
		for _, secret := range secrets {
			if bytes.Contains(b, []byte(secret)) {
				c.t.Errorf("a key appears in %s:\n%s", c.seen[i], b)
			}
		}
	}
}

func TestKeyLeak_NowhereToBeSeen(t *testing.T) {
	h := newHarness(t)
	good := newFake(t, okChat("fine"))
	streaming := newFake(t, sse(chunk("fine"), done))
	echo401 := newFake(t, echoKey(http.StatusUnauthorized, "application/json"))
	echoText := newFake(t, echoKey(http.StatusForbidden, "text/plain"))
	echo500 := newFake(t, echoKey(http.StatusInternalServerError, "application/json"))
	c := &leakCheck{t: t}

	providers := map[string]string{
		"good": good.baseURL(), "streaming": streaming.baseURL(), "echo401": echo401.baseURL(),
		"echotext": echoText.baseURL(), "echo500": echo500.baseURL(), "dead": deadURL(t),
	}
	for name, u := range providers {
		resp, b := h.admin(http.MethodPut, "/api/providers/"+name, map[string]any{"type": "openai", "base_url": u, "api_key": liveKey})
		c.response("PUT /api/providers/"+name, resp, b)
	}
	routes := [][]string{
		{"ok", "good"}, {"stream", "streaming"}, {"e401", "echo401"}, {"etext", "echotext"},
		{"e500", "echo500", "good"}, {"e500-only", "echo500"}, {"dead", "dead", "good"}, {"dead-only", "dead"},
	}
	for _, r := range routes {
		h.route(r[0], r[1], r[2:]...)
	}

	for _, r := range routes {
		for _, stream := range []bool{false, true} {
			body := fmt.Sprintf(`{"model":%q,"stream":%t,"messages":[{"role":"user","content":"x"}]}`, r[0], stream)
			resp, b := h.post("/v1/chat/completions", body, "Authorization", "Bearer "+liveKey)
			c.response(fmt.Sprintf("POST %s stream=%t (status %d)", r[0], stream, resp.StatusCode), resp, b)
		}
	}
	if resp, b := h.post("/v1/chat/completions", `{"model":"e401","messages":[{"role":"user","content":"x"}]}`); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("echoing provider: status %d, want its 401: %s", resp.StatusCode, b)
	} else if !strings.Contains(string(b), "[REDACTED]") {
		t.Errorf("echoing provider: body %s, want the key cut out", b)
	}

	for _, path := range []string{
		"/api/providers", "/api/providers/good", "/api/providers/echo401", "/api/status", "/api/routes",
		"/api/requests", "/api/routes/resolve?model=e500", "/v1/models", "/v1/models/ok", "/metrics",
	} {
		resp, b := h.admin(http.MethodGet, path, nil)
		c.response("GET "+path, resp, b)
	}
	resp, b := h.admin(http.MethodPut, "/api/providers/good", map[string]any{"api_key": liveKey + " "})
	c.response("PUT with an invalid key", resp, b)
	resp, b = h.admin(http.MethodPost, "/api/providers/good/test", nil)
	c.response("POST /api/providers/good/test", resp, b)
	resp, b = h.admin(http.MethodPost, "/api/providers/dead/test", nil)
	c.response("POST /api/providers/dead/test", resp, b)
	for _, name := range []string{"echo401", "echotext", "echo500", "dead"} {
		resp, b = h.admin(http.MethodPost, "/api/providers/"+name+"/test", nil)
		c.response("POST /api/providers/"+name+"/test", resp, b)
		resp, b = h.admin(http.MethodGet, "/api/providers/"+name+"/models", nil)
		c.response("GET /api/providers/"+name+"/models", resp, b)
	}
	for _, model := range []string{"e401", "etext", "e500-only", "dead-only"} {
		resp, b = h.admin(http.MethodPost, "/api/routes/try", map[string]any{"model": model})
		c.response("POST /api/routes/try "+model, resp, b)
	}

	h.settle()
	c.add("the log", []byte(h.logs.String()))
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(h.dbPath + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatalf("read database file: %v", err)
		}
		c.add("the database file modelbar.db"+suffix, b)
	}
	c.assertNoKey()
	if !strings.Contains(h.logs.String(), "failing over") {
		t.Errorf("the log has no failover line; did the failing requests run?\n%s", h.logs.String())
	}
}

// The connection test asks the provider for its models through go-openai. A
// provider that quotes the key in its 401 must not have it shown by the
// admin API.
func TestKeyLeak_ProviderTestRedactsEchoedKey(t *testing.T) {
	h := newHarness(t)
	echo := newFake(t, echoKey(http.StatusUnauthorized, "application/json"))
	h.putProvider("echo", echo.baseURL(), liveKey)
	resp, b := h.admin(http.MethodPost, "/api/providers/echo/test", nil)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"ok":false`)) {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	c := &leakCheck{t: t}
	c.response("POST /api/providers/echo/test", resp, b)
	// The result is kept as the provider's last_test: that too says the 401 without the key.
	resp, b = h.admin(http.MethodGet, "/api/providers", nil)
	if !bytes.Contains(b, []byte(`"last_test":{`)) {
		t.Fatalf("GET /api/providers has no last_test: %s", b)
	}
	c.response("GET /api/providers", resp, b)
	h.settle()
	c.add("the log", []byte(h.logs.String()))
	c.assertNoKey()
}
