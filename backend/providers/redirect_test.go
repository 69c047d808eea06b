package providers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/modelbar/modelbar/backend/redact"
)

const redirectKey = "sk-redirect-me-not-0123456789"

// sink is a server that records every request it receives, to prove that
// none reached it.
type sink struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []http.Header // guarded by mu
	seen []string      // the request paths, guarded by mu
}

func newSink(t *testing.T) *sink {
	s := &sink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.got = append(s.got, r.Header.Clone())
		s.seen = append(s.seen, r.URL.Path)
		s.mu.Unlock()
		io.WriteString(w, `{"data":[{"id":"m"}]}`)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) requests() ([]http.Header, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got, s.seen
}

func (s *sink) port() string {
	u, _ := url.Parse(s.srv.URL)
	return u.Port()
}

// redirector answers every request with status and a Location of target
// plus a query that must not show up in any message.
func redirector(t *testing.T, status int, target func(r *http.Request) string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", target(r)+"?token=query-secret")
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// calls are the three ways a Client reaches its provider.
var calls = map[string]func(c *Client) error{
	"Forward": func(c *Client) error {
		path := "/v1/chat/completions"
		if c.Type() == Anthropic {
			path = "/v1/messages"
		}
		resp, err := c.Forward(context.Background(), http.MethodPost, path, http.Header{"Content-Type": {"application/json"}}, []byte(`{"model":"m"}`))
		if err == nil {
			resp.Body.Close()
		}
		return err
	},
	"Get":   func(c *Client) error { _, err := c.Get(context.Background(), "/v1/models"); return err },
	"Probe": func(c *Client) error { _, err := c.Probe(context.Background()); return err },
}

func TestClient_RedirectToAnotherOriginIsNotFollowed(t *testing.T) {
	s := newSink(t)
	// A control: plain net/http follows such a redirect, x-api-key and all,
	// so the sink would see a Client that did.
	control := redirector(t, http.StatusTemporaryRedirect, func(*http.Request) string { return "http://localhost:" + s.port() + "/control" })
	req, _ := http.NewRequest(http.MethodGet, control.URL, nil)
	req.Header.Set("x-api-key", redirectKey)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Skipf("localhost does not reach the sink here: %v", err)
	} else {
		resp.Body.Close()
	}
	if got, _ := s.requests(); len(got) != 1 || got[0].Get("x-api-key") != redirectKey {
		t.Fatalf("control: the sink got %v, want the key net/http re-sends", got)
	}
	s.mu.Lock()
	s.got, s.seen = nil, nil
	s.mu.Unlock()

	targets := []struct {
		name, host, why string
	}{
		{"another host", "localhost", "on another host"},
		{"another port", "127.0.0.1", "on another port"},
	}
	for _, typ := range []Type{OpenAI, Anthropic} {
		for _, status := range []int{301, 302, 303, 307, 308} {
			for _, target := range targets {
				for name, call := range calls {
					t.Run(fmt.Sprintf("%s/%d/%s/%s", typ, status, target.name, name), func(t *testing.T) {
						origin := redirector(t, status, func(r *http.Request) string {
							return "http://" + target.host + ":" + s.port() + r.URL.Path
						})
						base := origin.URL
						if typ == OpenAI {
							base += "/v1"
						}
						c := NewClient(Config{Name: "p", Type: typ, BaseURL: base, APIKey: redact.NewValue(redirectKey)})
						err := call(c)
						var pe *Error
						if !errors.As(err, &pe) || pe.Kind != KindConfig {
							t.Fatalf("error %v, want a KindConfig *Error", err)
						}
						wantTarget := "http://" + target.host + ":" + s.port() + "/v1/"
						for _, want := range []string{fmt.Sprintf("answered HTTP %d", status), wantTarget, target.why, "not followed", "base_url"} {
							if !strings.Contains(pe.Message, want) {
								t.Errorf("message %q lacks %q", pe.Message, want)
							}
						}
						if strings.Contains(err.Error(), "query-secret") || strings.Contains(err.Error(), redirectKey) {
							t.Errorf("message %q shows the query or the key", err)
						}
						if !Retryable(err) {
							t.Error("not retryable: a fallback provider could answer")
						}
					})
				}
			}
		}
	}
	got, paths := s.requests()
	for i, h := range got {
		for k, vs := range h {
			for _, v := range vs {
				if strings.Contains(v, redirectKey) {
					t.Errorf("the other host got the key in %s at %s", k, paths[i])
				}
			}
		}
	}
	if len(got) > 0 {
		t.Errorf("the other host got %d requests: %v", len(got), paths)
	}
}

func TestClient_RedirectOnTheSameHostIsFollowed(t *testing.T) {
	for _, typ := range []Type{OpenAI, Anthropic} {
		for _, status := range []int{301, 302, 303, 307, 308} {
			t.Run(fmt.Sprintf("%s/%d", typ, status), func(t *testing.T) {
				var mu sync.Mutex
				var final *http.Request
				var finalBody string
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if !strings.HasPrefix(r.URL.Path, "/moved") {
						w.Header().Set("Location", "/moved"+r.URL.Path)
						w.WriteHeader(status)
						return
					}
					b, _ := io.ReadAll(r.Body)
					mu.Lock()
					final, finalBody = r, string(b)
					mu.Unlock()
					io.WriteString(w, `{"data":[{"id":"m"}]}`)
				}))
				defer srv.Close()
				base := srv.URL
				if typ == OpenAI {
					base += "/v1"
				}
				c := NewClient(Config{Name: "p", Type: typ, BaseURL: base, APIKey: redact.NewValue(redirectKey)})
				for name, call := range calls {
					if err := call(c); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					mu.Lock()
					if !strings.HasPrefix(final.URL.Path, "/moved/v1/") {
						t.Errorf("%s ended at %s", name, final.URL.Path)
					}
					if final.Header.Get("Authorization") != "Bearer "+redirectKey && final.Header.Get("x-api-key") != redirectKey {
						t.Errorf("%s: the moved address got no key", name)
					}
					if name == "Forward" && (status == 307 || status == 308) && (final.Method != http.MethodPost || finalBody != `{"model":"m"}`) {
						t.Errorf("%s: a %d redirect lost the method or the body: %s %q", name, status, final.Method, finalBody)
					}
					mu.Unlock()
				}
			})
		}
	}
}

func TestClient_RedirectLoopStopsAfterTen(t *testing.T) {
	var mu sync.Mutex
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		http.Redirect(w, r, "/loop", http.StatusFound)
	}))
	defer srv.Close()
	c := NewClient(Config{Name: "p", Type: OpenAI, BaseURL: srv.URL + "/v1", APIKey: redact.NewValue(redirectKey)})
	_, err := c.Get(context.Background(), "/models")
	var pe *Error
	if !errors.As(err, &pe) || pe.Kind != KindConfig || !strings.Contains(pe.Message, "more than 10 redirects") {
		t.Fatalf("error %v, want KindConfig after 10 redirects", err)
	}
	if mu.Lock(); hits != 1+maxRedirects {
		t.Errorf("the server was asked %d times, want %d", hits, 1+maxRedirects)
	}
	mu.Unlock()
}

func TestClient_RedirectFromHTTPSToHTTPIsNotFollowed(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The same host and port, without TLS.
		w.Header().Set("Location", "http://"+r.Host+"/plain")
		w.WriteHeader(http.StatusMovedPermanently)
	}))
	defer srv.Close()
	c := NewClient(Config{Name: "p", Type: Anthropic, BaseURL: srv.URL, APIKey: redact.NewValue(redirectKey)})
	c.transport.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	_, err := c.Get(context.Background(), "/v1/models")
	var pe *Error
	if !errors.As(err, &pe) || pe.Kind != KindConfig || !strings.Contains(pe.Message, "without https") {
		t.Fatalf("error %v, want KindConfig without https", err)
	}
	if !strings.Contains(pe.Message, "http://"+srv.Listener.Addr().String()+"/plain") {
		t.Errorf("message %q does not name the target", pe.Message)
	}
}

func TestCrossesOrigin(t *testing.T) {
	tests := []struct {
		from, to string
		want     string // a part of the reason, "" if the redirect may be followed
	}{
		{"https://api.example.com/v1", "https://api.example.com/v2", ""},
		{"https://api.example.com/v1", "https://API.Example.COM/v2", ""},
		{"https://api.example.com/v1", "https://api.example.com:443/v2", ""},
		{"http://h:80/v1", "http://h/v2", ""},
		{"http://h:8080/v1", "https://h:8080/v1", ""},
		{"http://[::1]:80/v1", "http://[::1]/v1", ""},
		{"https://api.example.com/v1", "https://other.example.com/v1", "another host"},
		{"https://api.example.com/v1", "https://api.example.com.evil/v1", "another host"},
		{"https://api.example.com/v1", "https://api.example.com:8443/v1", "another port"},
		{"http://h/v1", "https://h/v1", "another port"},
		{"https://h/v1", "http://h:443/v1", "without https"},
		{"http://[::1]:80/v1", "http://[::2]:80/v1", "another host"},
	}
	for _, tt := range tests {
		from, _ := url.Parse(tt.from)
		to, _ := url.Parse(tt.to)
		got := crossesOrigin(from, to)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("crossesOrigin(%s, %s) = %q, want %q", tt.from, tt.to, got, tt.want)
		}
	}
}

func TestRedirectTarget_LeavesOutQueryAndUserAndIsShort(t *testing.T) {
	u, _ := url.Parse("https://user:pw@other.example/v1/messages?key=sk-123#frag")
	if got := redirectTarget(u); got != "https://other.example/v1/messages" {
		t.Errorf("redirectTarget = %q", got)
	}
	u, _ = url.Parse("https://other.example/" + strings.Repeat("a", 500))
	if got := redirectTarget(u); len(got) > 210 || !strings.HasPrefix(got, "https://other.example/aaa") {
		t.Errorf("redirectTarget of a long URL = %q (%d bytes)", got, len(got))
	}
}
