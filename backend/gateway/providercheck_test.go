package gateway_test

import (
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/config"
)

// probeAnswer is POST /api/providers/{name}/test's answer.
type probeAnswer struct {
	OK         bool   `json:"ok"`
	Error      string `json:"error"`
	Code       string `json:"code"`
	Status     int    `json:"status"`
	HTTPStatus int    `json:"http_status"`
	Detail     string `json:"detail"`
}

// closingURL is a base URL whose server accepts connections and closes
// them at once, without a word.
func closingURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return "http://" + ln.Addr().String() + "/v1"
}

func TestProviderTest_FailuresInPlainWords(t *testing.T) {
	h := newHarness(t)
	status := func(code int, body string) string {
		srv := httptest.NewServer(reply(code, body))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	tlsSrv := httptest.NewUnstartedServer(reply(200, `{"data":[]}`))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake the client refuses
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	plain := httptest.NewServer(reply(200, `{"data":[]}`))
	t.Cleanup(plain.Close)
	dead := deadURL(t)
	deadHost := strings.TrimSuffix(strings.TrimPrefix(dead, "http://"), "/v1")

	tests := []struct {
		name, typ, url, key string
		code                string
		httpStatus          int
		want                []string // in the message
	}{
		{"dead port", "openai", dead, "", "connection_refused", 0,
			[]string{"Nothing is listening on " + deadHost + " — is the server running"}},
		{"unknown host", "openai", "http://nowhere.invalid/v1", "", "dns", 0,
			[]string{"nowhere.invalid does not exist", "typo"}},
		{"key refused", "openai", status(401, `{"error":{"message":"Incorrect API key provided"}}`) + "/v1", "sk-wrong-1234", "http_status", 401,
			[]string{"401: the key was refused", "Incorrect API key provided"}},
		{"no key", "openai", status(401, `{"error":{"message":"missing key"}}`) + "/v1", "", "http_status", 401,
			[]string{"401: the provider wants an API key, and none is set"}},
		{"no /v1", "openai", status(404, `404 page not found`), "", "http_status", 404,
			[]string{"404: there is no model list at http://", "/models", "usually end in /v1"}},
		{"rate limited", "anthropic", status(429, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`), "sk-ant-1234", "http_status", 429,
			[]string{"429: too many requests", "slow down"}},
		{"self-signed certificate", "openai", tlsSrv.URL + "/v1", "", "tls", 0,
			[]string{"TLS certificate is not signed by an authority"}},
		{"https to a plain server", "openai", strings.Replace(plain.URL, "http://", "https://", 1) + "/v1", "", "tls", 0,
			[]string{"answered in plain HTTP", "use http://"}},
		{"closed at once", "openai", closingURL(t), "", "connection_closed", 0,
			[]string{"closed the connection without answering"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "p" + string(rune('a'+i))
			in := map[string]any{"type": tt.typ, "base_url": tt.url}
			if tt.key != "" {
				in["api_key"] = tt.key
			}
			h.mustAdmin(http.MethodPut, "/api/providers/"+name, in, http.StatusCreated)
			var got probeAnswer
			decode(t, h.mustAdmin(http.MethodPost, "/api/providers/"+name+"/test", nil, http.StatusOK), &got)
			if got.OK || got.Code != tt.code || got.HTTPStatus != tt.httpStatus {
				t.Errorf("ok %v, code %q, http_status %d; want false, %q, %d (%+v)", got.OK, got.Code, got.HTTPStatus, tt.code, tt.httpStatus, got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got.Error, w) {
					t.Errorf("error %q does not say %q", got.Error, w)
				}
			}
			if strings.HasPrefix(got.Error, "provider ") || got.Detail == "" {
				t.Errorf("error %q reads like a Go error, or no detail (%q)", got.Error, got.Detail)
			}
		})
	}
}

// Ollama's port gets its own question, when nothing listens there.
func TestProviderTest_NamesOllama(t *testing.T) {
	if c, err := net.Dial("tcp", "127.0.0.1:11434"); err == nil {
		c.Close()
		t.Skip("something listens on 127.0.0.1:11434")
	}
	h := newHarness(t)
	h.putProvider("ollama", "http://127.0.0.1:11434/v1", "")
	var got probeAnswer
	decode(t, h.mustAdmin(http.MethodPost, "/api/providers/ollama/test", nil, http.StatusOK), &got)
	if want := "Nothing is listening on 127.0.0.1:11434 — is Ollama running?"; got.Error != want {
		t.Errorf("error %q, want %q", got.Error, want)
	}
}

func TestProviders_Warnings(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name string
		in   map[string]any
		want []config.Warning
	}{
		{"ollama-ok", map[string]any{"type": "openai", "base_url": "http://127.0.0.1:11434/v1"}, []config.Warning{}},
		{"ollama-no-v1", map[string]any{"type": "openai", "base_url": "http://127.0.0.1:11434"}, []config.Warning{{Field: "base_url",
			Message: "has no /v1: OpenAI-compatible servers usually serve under /v1, and modelbar sends to base_url + /chat/completions; did you mean http://127.0.0.1:11434/v1?"}}},
		{"gemini", map[string]any{"type": "openai", "base_url": "https://generativelanguage.googleapis.com/v1beta/openai", "api_key": "k-1234"}, []config.Warning{}},
		{"openai-no-key", map[string]any{"type": "openai"}, []config.Warning{{Field: "api_key",
			Message: "OpenAI refuses requests without an API key, and none is set: enter one, or name an environment variable that holds it"}}},
		{"groq-env-unset", map[string]any{"type": "openai", "base_url": "https://api.groq.com/openai/v1", "api_key_env": "MODELBAR_TEST_UNSET_API_KEY"}, []config.Warning{{Field: "api_key",
			Message: "Groq refuses requests without an API key, and $MODELBAR_TEST_UNSET_API_KEY is not set in modelbar's environment"}}},
		{"anthropic-v1", map[string]any{"type": "anthropic", "base_url": "https://api.anthropic.com/v1", "api_key": "sk-ant-1234"}, []config.Warning{{Field: "base_url",
			Message: "ends in /v1: an Anthropic base URL has none (modelbar adds /v1/messages); did you mean https://api.anthropic.com?"}}},
		{"anthropic-ok", map[string]any{"type": "anthropic", "api_key": "sk-ant-1234"}, []config.Warning{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var put struct {
				Name     string           `json:"name"`
				Warnings []config.Warning `json:"warnings"`
			}
			decode(t, h.mustAdmin(http.MethodPut, "/api/providers/"+tt.name, tt.in, http.StatusCreated), &put)
			if diff := cmp.Diff(tt.want, put.Warnings); diff != "" || put.Name != tt.name {
				t.Errorf("PUT %s: warnings (-want +got):\n%s", put.Name, diff)
			}
			var list []struct {
				Name     string           `json:"name"`
				Warnings []config.Warning `json:"warnings"`
			}
			decode(t, h.mustAdmin(http.MethodGet, "/api/providers", nil, http.StatusOK), &list)
			for _, p := range list {
				if p.Name == tt.name {
					if diff := cmp.Diff(tt.want, p.Warnings); diff != "" {
						t.Errorf("GET: warnings (-want +got):\n%s", diff)
					}
				}
			}
		})
	}
}

func TestProviders_DeleteInUseNamesPatterns(t *testing.T) {
	h := newHarness(t)
	h.putProvider("acme", "http://127.0.0.1:1/v1", "")
	h.route("gpt-*", "acme")
	h.route("fast", "local", "acme:small")
	resp, b := h.admin(http.MethodDelete, "/api/providers/acme", nil)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("status %d, want 409: %s", resp.StatusCode, b)
	}
	want := `provider "acme" is used by the routes "gpt-*" and "fast" (as a fallback): change or delete them first`
	if got := mustOpenAIError(t, b).Message; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
}

func TestProviders_ModelList(t *testing.T) {
	h := newHarness(t)
	fake := newFake(t, reply(200, `{"object":"list","data":[{"id":"m-small","object":"model"},{"id":"m-large","object":"model"}]}`))
	h.putProvider("acme", fake.baseURL(), "sk-acme-1234")
	h.putProvider("gone", deadURL(t), "")

	var got struct {
		Provider string `json:"provider"`
		Known    bool   `json:"known"`
		Models   []struct {
			ID string `json:"id"`
		} `json:"models"`
		Error string `json:"error"`
	}
	decode(t, h.mustAdmin(http.MethodGet, "/api/providers/acme/models", nil, http.StatusOK), &got)
	ids := []string{}
	for _, m := range got.Models {
		ids = append(ids, m.ID)
	}
	if !got.Known || !cmp.Equal(ids, []string{"m-small", "m-large"}) {
		t.Errorf("acme: known %v, models %v", got.Known, ids)
	}

	got.Models, got.Known = nil, true
	decode(t, h.mustAdmin(http.MethodGet, "/api/providers/gone/models", nil, http.StatusOK), &got)
	if got.Known || len(got.Models) != 0 || !strings.Contains(got.Error, "Nothing is listening") {
		t.Errorf("gone: %+v", got)
	}
	// No engine in the harness: local is not known, and lists nothing.
	decode(t, h.mustAdmin(http.MethodGet, "/api/providers/local/models", nil, http.StatusOK), &got)
	if got.Provider != "local" || got.Known || len(got.Models) != 0 {
		t.Errorf("local: %+v", got)
	}
	h.mustAdmin(http.MethodGet, "/api/providers/nope/models", nil, http.StatusNotFound)
}
