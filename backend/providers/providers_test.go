package providers

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/redact"
)

// recorder is a fake provider that records the last request.
type recorder struct {
	srv    *httptest.Server
	got    *http.Request
	body   string
	answer func(w http.ResponseWriter, r *http.Request)
}

func newRecorder(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) *recorder {
	rec := &recorder{answer: answer}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.got, rec.body = r, string(b)
		rec.answer(w, r)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func ok(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, `{"ok":true}`) }

func TestClient_ForwardAddsCredentialsPerType(t *testing.T) {
	tests := []struct {
		typ        Type
		base       string
		path       string
		wantPath   string
		wantHeader map[string]string
	}{
		{OpenAI, "/v1", "/v1/chat/completions", "/v1/chat/completions", map[string]string{"Authorization": "Bearer sk-provider-key-1234", "X-Api-Key": "", "OpenAI-Beta": "assistants=v2", "Anthropic-Beta": "", "Anthropic-Version": ""}},
		{OpenAI, "/openai/v1", "/v1/completions", "/openai/v1/completions", map[string]string{"Authorization": "Bearer sk-provider-key-1234"}},
		{Anthropic, "", "/v1/messages", "/v1/messages", map[string]string{"X-Api-Key": "sk-provider-key-1234", "Authorization": "", "Anthropic-Version": AnthropicVersion, "Anthropic-Beta": "tools-2024", "OpenAI-Beta": ""}},
	}
	for _, tt := range tests {
		rec := newRecorder(t, ok)
		c := NewClient(Config{Name: "p", Type: tt.typ, BaseURL: rec.srv.URL + tt.base, APIKey: redact.NewValue("sk-provider-key-1234")})
		in := http.Header{"Authorization": {"Bearer client-own-key"}, "X-Api-Key": {"client-own-key"}, "Content-Type": {"application/json"}, "Cookie": {"a=b"},
			"Openai-Beta": {"assistants=v2"}, "Anthropic-Beta": {"tools-2024"}}
		resp, err := c.Forward(context.Background(), "POST", tt.path, TranslatedHeader(tt.typ, in), []byte(`{"model":"m"}`))
		if err != nil {
			t.Fatalf("%s: %v", tt.typ, err)
		}
		resp.Body.Close()
		if rec.got.URL.Path != tt.wantPath {
			t.Errorf("%s: path %q, want %q", tt.typ, rec.got.URL.Path, tt.wantPath)
		}
		for k, v := range tt.wantHeader {
			if got := rec.got.Header.Get(k); got != v {
				t.Errorf("%s: header %s = %q, want %q", tt.typ, k, got, v)
			}
		}
		if rec.got.Header.Get("Cookie") != "" || rec.body != `{"model":"m"}` || rec.got.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: forwarded cookie=%q body=%q ct=%q", tt.typ, rec.got.Header.Get("Cookie"), rec.body, rec.got.Header.Get("Content-Type"))
		}
	}
}

// A relayed request keeps every header of the client but credentials,
// hop-by-hop, browser and address headers: beta flags newer than modelbar
// reach the provider. Forward never sends the client's credentials, even
// when a caller hands them over.
func TestRelayedHeader(t *testing.T) {
	in := http.Header{"Authorization": {"Bearer client"}, "X-Api-Key": {"client"}, "Cookie": {"a=b"}, "Connection": {"close"},
		"Anthropic-Beta": {"mid-conversation-system-2026-04-07", "context-management-2025-06-27"}, "X-Stainless-Lang": {"js"},
		"X-Claude-Code-Session-Id": {"s1"}, "Accept-Encoding": {"gzip"}, "Sec-Fetch-Site": {"same-origin"}, "X-Modelbar-Backend": {"x"},
		"Origin": {"http://127.0.0.1:11500"}, "X-Forwarded-For": {"1.2.3.4"}, "Content-Type": {"application/json"}}
	got := RelayedHeader(in)
	want := http.Header{"Anthropic-Beta": {"mid-conversation-system-2026-04-07", "context-management-2025-06-27"},
		"X-Stainless-Lang": {"js"}, "X-Claude-Code-Session-Id": {"s1"}, "Content-Type": {"application/json"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RelayedHeader = %v, want %v", got, want)
	}
	rec := newRecorder(t, ok)
	c := NewClient(Config{Name: "p", Type: Anthropic, BaseURL: rec.srv.URL, APIKey: redact.NewValue("sk-provider-key-1234")})
	resp, err := c.Forward(context.Background(), "POST", "/v1/messages?beta=true", in, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if rec.got.URL.RawQuery != "beta=true" || rec.got.Header.Get("X-Api-Key") != "sk-provider-key-1234" || rec.got.Header.Get("Authorization") != "" || rec.got.Header.Get("Cookie") != "" {
		t.Errorf("query %q, x-api-key %q, authorization %q, cookie %q", rec.got.URL.RawQuery, rec.got.Header.Get("X-Api-Key"), rec.got.Header.Get("Authorization"), rec.got.Header.Get("Cookie"))
	}
	if v := rec.got.Header.Values("Anthropic-Beta"); len(v) != 2 {
		t.Errorf("anthropic-beta %v, want both values", v)
	}
}

func TestClient_ForwardKeepsClientAnthropicVersion(t *testing.T) {
	rec := newRecorder(t, ok)
	c := NewClient(Config{Name: "a", Type: Anthropic, BaseURL: rec.srv.URL})
	resp, err := c.Forward(context.Background(), "POST", "/v1/messages", http.Header{"Anthropic-Version": {"2099-01-01"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := rec.got.Header.Get("anthropic-version"); got != "2099-01-01" {
		t.Errorf("anthropic-version = %q", got)
	}
	if rec.got.Header.Get("x-api-key") != "" {
		t.Error("a provider without a key was sent an empty x-api-key")
	}
}

func TestClient_ErrorsAreTypedAndRetryableAsExpected(t *testing.T) {
	dead := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr
	}()
	status := func(code int, body string, h map[string]string) string {
		rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
			for k, v := range h {
				w.Header().Set(k, v)
			}
			w.WriteHeader(code)
			io.WriteString(w, body)
		})
		return rec.srv.URL
	}
	tests := []struct {
		name       string
		base       string
		kind       Kind
		status     int
		message    string
		retry      bool
		retryAfter time.Duration
	}{
		{"openai 400", status(400, `{"error":{"message":"bad thing","type":"invalid_request_error"}}`, nil), KindStatus, 400, "bad thing", false, 0},
		{"anthropic 529", status(529, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, nil), KindStatus, 529, "Overloaded", true, 0},
		{"429 retry-after", status(429, `{"error":"slow down"}`, map[string]string{"Retry-After": "7"}), KindStatus, 429, "slow down", true, 7 * time.Second},
		{"500 plain text", status(500, "upstream exploded\n", nil), KindStatus, 500, "upstream exploded", true, 0},
		{"503 detail", status(503, `{"detail":"loading model"}`, nil), KindStatus, 503, "loading model", true, 0},
		{"401", status(401, `{"message":"no key"}`, nil), KindStatus, 401, "no key", false, 0},
		{"404", status(404, `{}`, nil), KindStatus, 404, "{}", false, 0},
		{"408", status(408, ``, nil), KindStatus, 408, "", true, 0},
		{"refused", dead, KindConnection, 0, "", true, 0},
	}
	for _, tt := range tests {
		c := NewClient(Config{Name: "p", Type: OpenAI, BaseURL: tt.base})
		_, err := c.Forward(context.Background(), "POST", "/v1/chat/completions", http.Header{}, []byte("{}"))
		var pe *Error
		if !errors.As(err, &pe) {
			t.Fatalf("%s: error %v is not *Error", tt.name, err)
		}
		if pe.Kind != tt.kind || pe.Status != tt.status || pe.Message != tt.message || pe.RetryAfter != tt.retryAfter {
			t.Errorf("%s: got kind=%d status=%d message=%q retryAfter=%v", tt.name, pe.Kind, pe.Status, pe.Message, pe.RetryAfter)
		}
		if Retryable(err) != tt.retry {
			t.Errorf("%s: Retryable = %v, want %v", tt.name, Retryable(err), tt.retry)
		}
	}
}

func TestClient_CancelledIsNotRetryable(t *testing.T) {
	block := make(chan struct{})
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { <-block })
	defer close(block)
	c := NewClient(Config{Name: "p", Type: OpenAI, BaseURL: rec.srv.URL})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Forward(ctx, "POST", "/v1/chat/completions", http.Header{}, nil)
		errc <- err
	}()
	cancel()
	err := <-errc
	var pe *Error
	if !errors.As(err, &pe) || pe.Kind != KindCanceled || Retryable(err) {
		t.Errorf("cancelled call: %v (retryable %v)", err, Retryable(err))
	}
}

func TestClient_RedactsAnEchoedKey(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
		io.WriteString(w, `{"error":{"message":"invalid key `+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")+`"}}`)
	})
	c := NewClient(Config{Name: "p", Type: OpenAI, BaseURL: rec.srv.URL, APIKey: redact.NewValue("sk-echo-me-please-42")})
	_, err := c.Forward(context.Background(), "POST", "/v1/chat/completions", http.Header{}, nil)
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatal(err)
	}
	for _, s := range []string{err.Error(), pe.Message, string(pe.Body)} {
		if strings.Contains(s, "sk-echo-me-please-42") {
			t.Errorf("key leaked: %s", s)
		}
	}
	if !strings.Contains(pe.Message, "[REDACTED]") {
		t.Errorf("message %q lost its context", pe.Message)
	}
}

func TestRegistry_SyncRebuildsOnlyChangedClients(t *testing.T) {
	r := NewRegistry()
	defer r.Close()
	a := Config{Name: "a", Type: OpenAI, BaseURL: "http://127.0.0.1:1/v1", APIKey: redact.NewValue("key-a-0001")}
	b := Config{Name: "b", Type: Anthropic, BaseURL: "http://127.0.0.1:2"}
	r.Sync([]Config{a, b})
	ca, _ := r.Get("a")
	cb, _ := r.Get("b")
	a2 := a
	a2.APIKey = redact.NewValue("key-a-0001") // equal value, new pointer
	b2 := b
	b2.BaseURL = "http://127.0.0.1:3"
	r.Sync([]Config{a2, b2})
	if got, _ := r.Get("a"); got != ca {
		t.Error("unchanged provider got a new client")
	}
	if got, _ := r.Get("b"); got == cb || got.URL("/v1/messages") != "http://127.0.0.1:3/v1/messages" {
		t.Error("changed provider kept its old client")
	}
	r.Sync([]Config{a2})
	if _, ok := r.Get("b"); ok {
		t.Error("removed provider still has a client")
	}
	if _, ok := r.Get("a"); !ok {
		t.Error("remaining provider lost its client")
	}
}

func TestClient_ProbeListsModels(t *testing.T) {
	oa := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer sk-probe-0000" {
			w.WriteHeader(401)
			io.WriteString(w, `{"error":{"message":"bad key","type":"invalid_request_error"}}`)
			return
		}
		io.WriteString(w, `{"object":"list","data":[{"id":"gpt-4o","object":"model","owned_by":"openai"},{"id":"gpt-4o-mini","object":"model"}]}`)
	})
	an := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"data":[{"id":"claude-sonnet-4-5","type":"model"}],"has_more":false}`)
	})
	c := NewClient(Config{Name: "oa", Type: OpenAI, BaseURL: oa.srv.URL + "/v1", APIKey: redact.NewValue("sk-probe-0000")})
	p, err := c.Probe(context.Background())
	if err != nil || len(p.Models) != 2 || p.Models[0] != "gpt-4o" {
		t.Errorf("openai probe: %+v %v", p, err)
	}
	if oa.got.URL.Path != "/v1/models" {
		t.Errorf("openai probe path %q", oa.got.URL.Path)
	}
	bad := NewClient(Config{Name: "oa", Type: OpenAI, BaseURL: oa.srv.URL + "/v1", APIKey: redact.NewValue("sk-wrong-0000")})
	_, err = bad.Probe(context.Background())
	var pe *Error
	if !errors.As(err, &pe) || pe.Status != 401 || pe.Message != "bad key" {
		t.Errorf("bad key probe: %v", err)
	}
	c = NewClient(Config{Name: "an", Type: Anthropic, BaseURL: an.srv.URL, APIKey: redact.NewValue("sk-ant-0000")})
	p, err = c.Probe(context.Background())
	if err != nil || len(p.Models) != 1 || an.got.Header.Get("x-api-key") != "sk-ant-0000" || an.got.URL.Path != "/v1/models" {
		t.Errorf("anthropic probe: %+v %v path=%s", p, err, an.got.URL.Path)
	}
}

func TestNormalizeBaseURL(t *testing.T) {
	tests := map[string]string{
		"https://api.openai.com/v1/": "https://api.openai.com/v1",
		" http://localhost:11434/v1": "http://localhost:11434/v1",
		"ftp://x":                    "",
		"localhost:1234":             "",
		"https://h/v1?x=1":           "",
		"https://user:pw@h/v1":       "",
		"https:///v1":                "",
	}
	for in, want := range tests {
		got, err := NormalizeBaseURL(in)
		if want == "" && err == nil {
			t.Errorf("NormalizeBaseURL(%q) = %q, want an error", in, got)
		}
		if want != "" && (err != nil || got != want) {
			t.Errorf("NormalizeBaseURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestClient_ReasoningModel(t *testing.T) {
	c := NewClient(Config{Name: "p", Type: OpenAI, BaseURL: "https://api.openai.com/v1"})
	for model, want := range map[string]bool{
		"o3": true, "o4-mini": true, "gpt-5": true, "gpt-5.1-codex": true, "openai/gpt-oss-120b": true,
		"deepseek-reasoner": true, "deepseek-r1-distill-llama-70b": true, "qwen/qwq-32b": true, "Qwen3-8B": true,
		"claude-sonnet-4-thinking": true,
		"gpt-4o":                   false, "gpt-4.1-mini": false, "llama-3.3-70b-versatile": false, "mistral-large": false, "omni-moderation": false,
	} {
		if got := c.ReasoningModel(model); got != want {
			t.Errorf("ReasoningModel(%q) = %v, want %v", model, got, want)
		}
	}
}
