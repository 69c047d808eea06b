package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// lastTestView is GET /api/providers' last_test.
type lastTestView struct {
	At         time.Time `json:"at"`
	OK         bool      `json:"ok"`
	LatencyMS  int64     `json:"latency_ms"`
	ModelCount int       `json:"model_count"`
	Error      string    `json:"error"`
	Code       string    `json:"code"`
	HTTPStatus int       `json:"http_status"`
}

// lastTests is every provider's last_test as GET /api/providers shows it;
// a provider without one maps to nil.
func lastTests(t *testing.T, h *harness) map[string]*lastTestView {
	t.Helper()
	var list []struct {
		Name     string        `json:"name"`
		LastTest *lastTestView `json:"last_test"`
	}
	decode(t, h.mustAdmin(http.MethodGet, "/api/providers", nil, http.StatusOK), &list)
	out := make(map[string]*lastTestView, len(list))
	for _, p := range list {
		out[p.Name] = p.LastTest
	}
	return out
}

// A provider's last connection test outlives the page that ran it: GET
// /api/providers (and GET /api/providers/{name}) show it until the provider
// changes or goes.
func TestProviders_LastTest(t *testing.T) {
	h := newHarness(t)
	good := httptest.NewServer(reply(200, `{"object":"list","data":[{"id":"m-1","object":"model"},{"id":"m-2","object":"model"}]}`))
	t.Cleanup(good.Close)
	nokey := httptest.NewServer(reply(401, `{"error":{"message":"missing key"}}`))
	t.Cleanup(nokey.Close)
	h.putProvider("good", good.URL+"/v1", "sk-good-1234")
	h.putProvider("nokey", nokey.URL+"/v1", "")

	if got := lastTests(t, h); got["good"] != nil || got["nokey"] != nil {
		t.Fatalf("before any test: last_test %+v, %+v; want none", got["good"], got["nokey"])
	}

	before := time.Now().Add(-time.Second)
	h.mustAdmin(http.MethodPost, "/api/providers/good/test", nil, http.StatusOK)
	h.mustAdmin(http.MethodPost, "/api/providers/nokey/test", nil, http.StatusOK)
	got := lastTests(t, h)

	tests := []struct {
		name       string
		ok         bool
		models     int
		code       string
		httpStatus int
		error      string
	}{
		{"good", true, 2, "", 0, ""},
		{"nokey", false, 0, "http_status", 401, "401: the provider wants an API key, and none is set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lt := got[tt.name]
			if lt == nil {
				t.Fatal("no last_test after a test")
			}
			if lt.OK != tt.ok || lt.ModelCount != tt.models || lt.Code != tt.code || lt.HTTPStatus != tt.httpStatus {
				t.Errorf("last_test %+v; want ok %v, %d models, code %q, http_status %d", lt, tt.ok, tt.models, tt.code, tt.httpStatus)
			}
			if !strings.HasPrefix(lt.Error, tt.error) || (tt.error == "") != (lt.Error == "") {
				t.Errorf("error %q, want it to start with %q", lt.Error, tt.error)
			}
			if lt.At.Before(before) || lt.At.After(time.Now().Add(time.Second)) {
				t.Errorf("at %v, want about now", lt.At)
			}
			var one struct {
				LastTest *lastTestView `json:"last_test"`
			}
			decode(t, h.mustAdmin(http.MethodGet, "/api/providers/"+tt.name, nil, http.StatusOK), &one)
			if one.LastTest == nil || one.LastTest.OK != tt.ok {
				t.Errorf("GET /api/providers/%s: last_test %+v", tt.name, one.LastTest)
			}
		})
	}

	// A changed provider is another one: its old result no longer says
	// anything about it. A deleted one forgets its own, so that a new
	// provider of that name starts untested.
	h.mustAdmin(http.MethodPut, "/api/providers/nokey", map[string]any{"type": "openai", "base_url": nokey.URL + "/v1", "api_key": "sk-now-5678"}, http.StatusOK)
	h.mustAdmin(http.MethodDelete, "/api/providers/good", nil, http.StatusNoContent)
	h.putProvider("good", good.URL+"/v1", "sk-good-1234")
	if got := lastTests(t, h); got["good"] != nil || got["nokey"] != nil {
		t.Errorf("after a change and a delete: last_test %+v, %+v; want none", got["good"], got["nokey"])
	}
}
