package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/store"
)

// assertNoClientKey fails if any request the fake received carries key (or
// its random part) in a header or the body, or credentials other than the
// provider's own.
func assertNoClientKey(t *testing.T, f *fakeProvider, key string) {
	t.Helper()
	for i, req := range f.requests() {
		for name, values := range req.Header {
			for _, v := range values {
				if bytes.Contains([]byte(v), []byte(key[3:])) {
					t.Errorf("upstream request %d: header %s carries the client's modelbar key", i+1, name)
				}
			}
		}
		if bytes.Contains(req.Body, []byte(key[3:])) {
			t.Errorf("upstream request %d: the body carries the client's modelbar key", i+1)
		}
		if a := req.Header.Get("Authorization"); a != "" && a != "Bearer "+upstreamOpenAIKey {
			t.Errorf("upstream request %d: Authorization %q is not the provider's key", i+1, a)
		}
		if k := req.Header.Get("X-Api-Key"); k != "" && k != upstreamAnthropicKey {
			t.Errorf("upstream request %d: x-api-key %q is not the provider's key", i+1, k)
		}
	}
}

// The client's credentials stay between the client and modelbar: a provider
// gets its own key, whether modelbar checks the client's or not, whichever
// API either side speaks.
func TestAPIKeys_NeverForwarded(t *testing.T) {
	calls := []struct {
		name, path, body string
	}{
		{"chat", "/v1/chat/completions", `{"model":"sdk-text","messages":[{"role":"user","content":"Say hello."}]}`},
		{"chat stream", "/v1/chat/completions", `{"model":"sdk-text","stream":true,"messages":[{"role":"user","content":"Say hello."}]}`},
		{"messages", "/v1/messages", `{"model":"sdk-text","max_tokens":100,"messages":[{"role":"user","content":"Say hello."}]}`},
		{"messages stream", "/v1/messages", `{"model":"sdk-text","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"Say hello."}]}`},
		{"count tokens", "/v1/messages/count_tokens", `{"model":"sdk-text","messages":[{"role":"user","content":"Say hello."}]}`},
	}
	for _, required := range []bool{false, true} {
		for _, kind := range wireKinds {
			t.Run("keys required "+strconv.FormatBool(required)+", "+string(kind)+" provider", func(t *testing.T) {
				e := newSDKEnv(t, kind)
				key := e.h.createKey("forward-check").Key
				e.h.requireKeys(required)
				for _, c := range calls {
					resp, b := e.h.post(c.path, c.body,
						"Authorization", "Bearer "+key, "x-api-key", key, "anthropic-version", "2023-06-01")
					if resp.StatusCode != http.StatusOK {
						t.Errorf("%s: status %d: %s", c.name, resp.StatusCode, b)
					}
				}
				if len(e.up.requests()) == 0 {
					t.Fatal("the provider received nothing")
				}
				assertNoClientKey(t, e.up.fakeProvider, key)
			})
		}
	}
}

// An inference key is shown once, in the creation response, and nowhere
// else: not in other API responses, the log, or the database files, which
// hold only its hash.
func TestAPIKeys_NoLeak(t *testing.T) {
	h := newHarness(t)
	good := newFake(t, okChat("fine"))
	streaming := newFake(t, sse(chunk("fine"), done))
	echo := newFake(t, echoKey(http.StatusUnauthorized, "application/json"))
	h.putProvider("good", good.baseURL(), upstreamOpenAIKey)
	h.putProvider("streaming", streaming.baseURL(), upstreamOpenAIKey)
	h.putProvider("echo", echo.baseURL(), upstreamOpenAIKey)
	h.route("ok", "good")
	h.route("stream", "streaming")
	h.route("e401", "echo")
	h.requireKeys(true)

	const name = "leak-check-key"
	created := h.createKey(name)
	key := created.Key
	c := &leakCheck{t: t, secrets: []string{key[3:]}} // the random part

	for _, model := range []string{"ok", "stream", "e401", "unrouted-model"} {
		for _, creds := range [][]string{{"Authorization", "Bearer " + key}, {"x-api-key", key}, {"x-api-key", key + "0"}} {
			resp, b := h.post("/v1/chat/completions", `{"model":"`+model+`","stream":`+strconv.FormatBool(model == "stream")+`,"messages":[{"role":"user","content":"x"}]}`, creds...)
			c.response("POST /v1/chat/completions "+model, resp, b)
			resp, b = h.post("/v1/messages", `{"model":"`+model+`","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`, creds...)
			c.response("POST /v1/messages "+model, resp, b)
		}
	}
	for _, f := range []*fakeProvider{good, streaming, echo} {
		assertNoClientKey(t, f, key)
	}
	waitLastUsedSaved(t, h.dbPath, created.ID)

	for _, path := range []string{"/api/keys", "/api/requests", "/api/status", "/api/settings", "/api/providers", "/api/routes"} {
		resp, b := h.admin(http.MethodGet, path, nil)
		c.response("GET "+path, resp, b)
	}
	resp, b := h.admin(http.MethodDelete, "/api/keys/"+strconv.FormatInt(created.ID, 10), nil)
	c.response("DELETE /api/keys/{id}", resp, b)
	resp, b = h.post("/v1/chat/completions", `{"model":"ok","messages":[{"role":"user","content":"x"}]}`, "Authorization", "Bearer "+key)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("revoked key: status %d, want 401", resp.StatusCode)
	}
	c.response("POST with the revoked key", resp, b)
	resp, b = h.admin(http.MethodGet, "/api/keys", nil)
	c.response("GET /api/keys after revoking", resp, b)

	h.settle()
	c.add("the log", []byte(h.logs.String()))
	var db []byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(h.dbPath + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatalf("read database file: %v", err)
		}
		c.add("the database file modelbar.db"+suffix, b)
		db = append(db, b...)
	}
	c.assertNoKey()
	// The files read are the ones the key went into: its name and hash are
	// there (until the revoke is checkpointed, at least in the WAL).
	sum := sha256.Sum256([]byte(key))
	if !bytes.Contains(db, []byte(name)) || !bytes.Contains(db, []byte(hex.EncodeToString(sum[:]))) {
		t.Error("the database files hold neither the key's name nor its hash: did the test read the right files?")
	}
}

// waitLastUsedSaved waits until the key's use has been written to the
// database (it is written in the background), so the files read afterwards
// hold everything a use stores.
func waitLastUsedSaved(t *testing.T, dbPath string, id int64) {
	t.Helper()
	st, err := store.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatalf("open a second handle on the database: %v", err)
	}
	defer st.Close()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		keys, err := st.ListAPIKeys(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if k.ID == id && !k.LastUsedAt.IsZero() {
				return
			}
		}
	}
	t.Fatal("the key's use never reached the database")
}
