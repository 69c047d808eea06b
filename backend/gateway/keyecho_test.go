package gateway_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// A provider that echoes its key back — in a response header, in a 2xx
// body (plain, JSON-escaped, base64), and in a stream event with the key
// split across two writes — never gets it to the client, relayed or
// translated.
func TestKeyEcho_CutFromEverythingTheClientSees(t *testing.T) {
	const key = "sk-echo/SECRET+KEY-" + "abcdefghijklmnop"
	half := len(key) / 2
	stream := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Debug-Auth", r.Header.Get("Authorization"))
		startSSE(w)
		writeEvent(w, chunk("start "))
		// The key split across two flushed writes (two reads upstream).
		writeEvent(w, `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"`+key[:half])
		writeEvent(w, key[half:]+` b64:`+base64.StdEncoding.EncodeToString([]byte("user:"+key))+`"},"finish_reason":null}]}`+"\n\n")
		writeEvent(w, chunk(" end"))
		writeEvent(w, done)
	}
	whole := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Debug-Auth", r.Header.Get("Authorization"))
		// On the wire: the key, its JSON escape of '/', its base64.
		content := fmt.Sprintf(`plain %s escaped %s b64 %s`, key, strings.ReplaceAll(key, "/", `\/`), base64.URLEncoding.EncodeToString([]byte(key)))
		reply(http.StatusOK, `{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"m",`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":"`+content+`"},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)(w, r)
	}
	for _, c := range []struct {
		name    string
		handler http.HandlerFunc
		path    string
		body    string
	}{
		{"relayed stream", stream, "/v1/chat/completions", streamBody},
		{"translated stream", stream, "/v1/messages", `{"model":"m","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"x"}]}`},
		{"relayed body", whole, "/v1/chat/completions", chatBody},
		{"translated body", whole, "/v1/messages", `{"model":"m","max_tokens":50,"messages":[{"role":"user","content":"x"}]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			up := newFake(t, c.handler)
			h.putProvider("p", up.baseURL(), key)
			h.route("m", "p")
			resp, body := h.post(c.path, c.body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d body %s", resp.StatusCode, body)
			}
			lc := &leakCheck{t: t, secrets: []string{key, "SECRET+KEY", "SECRET\\/KEY", "abcdefghijklmnop",
				base64.StdEncoding.EncodeToString([]byte(key))[4:20]}}
			lc.response(c.name, resp, body)
			lc.assertNoKey()
			if !strings.Contains(string(body), "[REDACTED]") {
				t.Errorf("no [REDACTED] in %s", body)
			}
			if c.handler != nil && strings.Contains(c.name, "stream") && !strings.Contains(string(body), "end") {
				t.Errorf("the stream lost its end: %s", body)
			}
		})
	}
}

// A provider that redirects to another host does not take its key there:
// the redirect is not followed, the client gets a 502 naming it, and the
// chain moves on.
func TestKeyRedirect_NotFollowedToAnotherHost(t *testing.T) {
	for _, typ := range []string{"openai", "anthropic"} {
		t.Run(typ, func(t *testing.T) {
			h := newHarness(t)
			elsewhere := newFake(t, okChat("stolen"))
			redirecting := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				target := strings.Replace(elsewhere.srv.URL, "127.0.0.1", "localhost", 1) + r.URL.Path
				http.Redirect(w, r, target, http.StatusTemporaryRedirect)
			})
			fallback := newFake(t, okChat("from fallback"))
			base := redirecting.baseURL()
			if typ == "anthropic" {
				base = redirecting.srv.URL
			}
			h.mustAdmin(http.MethodPut, "/api/providers/r", map[string]any{"type": typ, "base_url": base, "api_key": liveKey}, http.StatusCreated)
			h.putProvider("f", fallback.baseURL(), "")
			h.route("solo", "r")
			h.route("chain", "r", "f")
			resp, body := h.post("/v1/chat/completions", chatFor("solo"))
			if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "redirect") {
				t.Errorf("solo: status %d body %s, want 502 naming the redirect", resp.StatusCode, body)
			}
			resp, body = h.post("/v1/chat/completions", chatFor("chain"))
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "from fallback") {
				t.Errorf("chain: status %d body %s, want the fallback", resp.StatusCode, body)
			}
			if n := len(elsewhere.requests()); n != 0 {
				t.Fatalf("the other host got %d requests", n)
			}
		})
	}
}
