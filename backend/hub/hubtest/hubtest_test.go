package hubtest_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/hub/hubtest"
)

// noRedirect is a client that shows the Hub's 302 instead of following it.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func TestResolve_RedirectsLFSToFileHost(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	weights := []byte("0123456789abcdef")
	m := h.AddModel("org/m", map[string][]byte{"model.safetensors": weights, "config.json": []byte(`{}`)}, hubtest.ModelOptions{})
	resp, err := noRedirect.Head(h.URL + "/org/m/resolve/main/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, h.FilesURL+"/") {
		t.Fatalf("status %d, Location %q", resp.StatusCode, loc)
	}
	for k, want := range map[string]string{"X-Repo-Commit": m.Commit, "X-Linked-Etag": `"` + hubtest.SHA256(weights) + `"`, "X-Linked-Size": "16"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// The file host honours Range, or ignores it when told to.
	for _, tt := range []struct {
		faults     hubtest.Faults
		wantStatus int
		wantBody   string
	}{
		{hubtest.Faults{}, http.StatusPartialContent, "abcdef"},
		{hubtest.Faults{IgnoreRange: true}, http.StatusOK, string(weights)},
	} {
		h.SetFaults(tt.faults)
		req, _ := http.NewRequest(http.MethodGet, loc, nil)
		req.Header.Set("Range", "bytes=10-")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.wantStatus || string(body) != tt.wantBody {
			t.Errorf("%+v: %d %q", tt.faults, resp.StatusCode, body)
		}
	}
	// A non-LFS file is served by the Hub itself, through a relative 307
	// to its resolve cache, with its git blob id as ETag.
	resp, err = noRedirect.Get(h.URL + "/org/m/resolve/" + m.Commit + "/config.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := "/api/resolve-cache/models/org/m/" + m.Commit + "/config.json"; resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != want {
		t.Errorf("config.json: %d Location %q, want 307 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	resp, err = http.Get(h.URL + "/org/m/resolve/main/config.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "{}" || resp.Header.Get("ETag") != `"`+hubtest.GitBlobID([]byte(`{}`))+`"` || resp.Header.Get("X-Repo-Commit") != m.Commit {
		t.Errorf("config.json: %d %q ETag %s", resp.StatusCode, body, resp.Header.Get("ETag"))
	}
}

func TestErrors_AsTheHubAnswers(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Token: "hf_ok"})
	h.AddModel("org/gated", map[string][]byte{"model.safetensors": []byte("w")}, hubtest.ModelOptions{Gated: true})
	tests := []struct {
		path, token string
		status      int
		code        string
	}{
		{"/api/models/org/none", "", 401, "RepoNotFound"},
		{"/api/models/org/none", "hf_ok", 404, "RepoNotFound"},
		{"/api/models/org/gated", "hf_bad", 401, ""},
		{"/api/models/org/gated/revision/v2", "", 404, "RevisionNotFound"},
		{"/org/gated/resolve/main/model.safetensors", "", 401, "GatedRepo"},
		{"/org/gated/resolve/main/model.safetensors", "hf_ok", 403, "GatedRepo"},
		{"/org/gated/resolve/main/nope.json", "", 401, "GatedRepo"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodGet, h.URL+tt.path, nil)
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status || resp.Header.Get("X-Error-Code") != tt.code {
			t.Errorf("%s (%q): %d %q, want %d %q", tt.path, tt.token, resp.StatusCode, resp.Header.Get("X-Error-Code"), tt.status, tt.code)
		}
	}
}
