package gateway_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A provider whose key cannot be read (a corrupt secrets.enc) is never sent
// a request without it: the client hears why (502) and the chain moves on;
// /api/status and the provider say so; setting the key again works.
func TestKeyUnreadable_NoRequestWithoutTheKey(t *testing.T) {
	h := newHarness(t)
	up := newFake(t, okChat("from p"))
	fallback := newFake(t, okChat("from fallback"))
	h.putProvider("p", up.baseURL(), "sk-original-key-1234")
	h.putProvider("f", fallback.baseURL(), "")
	h.route("solo", "p")
	h.route("chain", "p", "f")
	if err := os.WriteFile(filepath.Join(h.secretsDir, "secrets.enc"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.route("republish", "local") // any change reloads the keys

	resp, body := h.post("/v1/chat/completions", chatFor("solo"))
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "cannot be read") {
		t.Fatalf("solo: status %d body %s, want 502 naming the unreadable key", resp.StatusCode, body)
	}
	resp, body = h.post("/v1/chat/completions", chatFor("chain"))
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("from fallback")) || resp.Header.Get("X-Modelbar-Fallback-From") != "p" {
		t.Fatalf("chain: status %d fallback-from %q body %s", resp.StatusCode, resp.Header.Get("X-Modelbar-Fallback-From"), body)
	}
	if n := len(up.requests()); n != 0 {
		t.Fatalf("p got %d requests without its key", n)
	}
	var prov map[string]any
	decode(t, h.mustAdmin(http.MethodGet, "/api/providers/p", nil, http.StatusOK), &prov)
	if prov["key_unreadable"] != true || prov["key_error"] == "" {
		t.Errorf("provider: %v, want key_unreadable with key_error", prov)
	}
	var st struct {
		Problems []map[string]string `json:"problems"`
	}
	decode(t, h.mustAdmin(http.MethodGet, "/api/status", nil, http.StatusOK), &st)
	if len(st.Problems) != 1 || st.Problems[0]["component"] != "secrets" || st.Problems[0]["subject"] != "p" {
		t.Errorf("status problems %v, want p's key", st.Problems)
	}

	if cd := h.cooldowns(); cd["p"] == "" {
		t.Fatalf("cooldowns %v: the unreadable key should have cooled p down", cd)
	}
	h.mustAdmin(http.MethodPut, "/api/providers/p", map[string]any{"api_key": "sk-new-key-5678"}, http.StatusOK)
	if cd := h.cooldowns(); len(cd) != 0 {
		t.Errorf("cooldowns after the provider changed: %v, want none", cd)
	}
	resp, body = h.post("/v1/chat/completions", chatFor("solo"))
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("from p")) {
		t.Fatalf("after a new key: status %d body %s", resp.StatusCode, body)
	}
	if got := up.only(t).Header.Get("Authorization"); got != "Bearer sk-new-key-5678" {
		t.Errorf("Authorization %q, want the new key", got)
	}
	decode(t, h.mustAdmin(http.MethodGet, "/api/status", nil, http.StatusOK), &st)
	if len(st.Problems) != 0 {
		t.Errorf("problems after the new key: %v", st.Problems)
	}
	matches, _ := filepath.Glob(filepath.Join(h.secretsDir, "secrets.enc.corrupt-*"))
	if len(matches) != 1 {
		t.Errorf("moved-aside files: %v, want one", matches)
	}
}
