package gateway_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// "/" answers without a credential: a program (curl, Claude Code's HEAD at
// start) learns modelbar runs, a browser is sent to the UI. The Host and
// Origin checks still apply; other unknown paths stay 404s.
func TestRoot_AnswersProgramsAndSendsBrowsersToTheUI(t *testing.T) {
	const browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	tests := []struct {
		name     string
		method   string
		path     string
		headers  []string
		status   int
		body     string // checked when status is 200
		location string // checked on a redirect
	}{
		{"curl GET", "GET", "/", []string{"Accept", "*/*"}, 200, "modelbar is running\n", ""},
		{"no Accept", "GET", "/", nil, 200, "modelbar is running\n", ""},
		{"HEAD, as Claude Code sends", "HEAD", "/", nil, 200, "", ""},
		{"JSON client", "GET", "/", []string{"Accept", "application/json"}, 200, "modelbar is running\n", ""},
		{"HTML refused", "GET", "/", []string{"Accept", "text/html;q=0, */*"}, 200, "modelbar is running\n", ""},
		{"browser", "GET", "/", []string{"Accept", browser}, 302, "", "/ui/"},
		{"browser HEAD", "HEAD", "/", []string{"Accept", browser}, 302, "", "/ui/"},
		{"foreign Host", "GET", "/", []string{"Host", "evil.example"}, 403, "", ""},
		{"foreign Origin", "GET", "/", []string{"Origin", "https://evil.example"}, 403, "", ""},
		{"another path", "GET", "/nope", []string{"Accept", browser}, 404, "", ""},
		{"a path under it", "HEAD", "/v2", nil, 404, "", ""},
		{"POST", "POST", "/", nil, 405, "", ""},
	}
	h := newHarness(t)
	h.settings(map[string]any{"require_api_keys": true}) // /v1 now needs a key; "/" does not
	noRedirect := &http.Client{Transport: h.client.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := noRedirect.Do(h.request(tt.method, tt.path, nil, tt.headers...))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			body := string(b)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			switch tt.status {
			case http.StatusOK:
				if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
					t.Errorf("Content-Type %q", ct)
				}
				if resp.ContentLength != int64(len("modelbar is running\n")) || body != tt.body {
					t.Errorf("Content-Length %d, body %q; want %q", resp.ContentLength, body, tt.body)
				}
			case http.StatusFound:
				if loc := resp.Header.Get("Location"); loc != tt.location {
					t.Errorf("Location %q, want %q", loc, tt.location)
				}
			}
		})
	}
	h.settle()
	logged := 0
	for _, line := range strings.Split(h.logs.String(), "\n") {
		if !strings.Contains(line, `method=HEAD path=/ status=200`) && !strings.Contains(line, `method=GET path=/ status=`) {
			continue
		}
		logged++
		if !strings.Contains(line, "level=INFO") {
			t.Errorf("a request for / logged above INFO: %s", line)
		}
	}
	if logged == 0 {
		t.Errorf("no request for / in the log:\n%s", h.logs)
	}
}
