package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/auth"
	"github.com/modelbar/modelbar/backend/gateway"
)

// fakeClock is a settable clock for the gateway's auth.Keeper.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newAuthHarness is a harness whose Keeper (over adminToken) runs on a
// clock the test moves.
func newAuthHarness(t *testing.T) (*harness, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Now()}
	h := newHarness(t, func(o *gateway.Options) { o.Auth = auth.NewMemory(adminToken, auth.Options{Now: clk.now}) })
	return h, clk
}

// noRedirect is the harness' client, stopping at the first answer.
func (h *harness) noRedirect() *http.Client {
	c := *h.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// loginLink asks the admin API (with token) for a login link.
func (h *harness) loginLink(token string) (link string, expires time.Time) {
	h.t.Helper()
	resp, b := h.do(h.request(http.MethodPost, "/api/login-link", nil, "Authorization", "Bearer "+token))
	if resp.StatusCode != http.StatusCreated {
		h.t.Fatalf("POST /api/login-link: %d %s", resp.StatusCode, b)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		h.t.Errorf("login link Cache-Control %q, want no-store", cc)
	}
	var out struct {
		URL       string `json:"url"`
		ExpiresAt string `json:"expires_at"`
	}
	decode(h.t, b, &out)
	exp, err := time.Parse(time.RFC3339, out.ExpiresAt)
	if err != nil {
		h.t.Fatalf("expires_at %q: %v", out.ExpiresAt, err)
	}
	return out.URL, exp
}

// openLink follows a login link as a browser would, without redirects.
func (h *harness) openLink(link, userAgent string) (*http.Response, string) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, link, nil)
	req.Header.Set("User-Agent", userAgent)
	resp, err := h.noRedirect().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp, b.String()
}

// signIn opens a fresh login link and returns the session cookie it set.
func (h *harness) signIn(userAgent string) *http.Cookie {
	h.t.Helper()
	link, _ := h.loginLink(adminToken)
	resp, body := h.openLink(link, userAgent)
	if resp.StatusCode != http.StatusSeeOther {
		h.t.Fatalf("login link: %d %s", resp.StatusCode, body)
	}
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, "modelbar_session_") {
			return c
		}
	}
	h.t.Fatalf("login link set no session cookie: %v", resp.Header.Values("Set-Cookie"))
	return nil
}

// withCookie is a request carrying the session cookie, and headers as pairs.
func (h *harness) withCookie(c *http.Cookie, method, path string, body []byte, headers ...string) *http.Request {
	req := h.request(method, path, body, headers...)
	req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	return req
}

func TestLoginLink_OpensASessionOnce(t *testing.T) {
	h, _ := newAuthHarness(t)
	link, exp := h.loginLink(adminToken)
	if !strings.HasPrefix(link, h.srv.URL+"/ui/login?code=") {
		t.Fatalf("link %q, want it under %s/ui/login", link, h.srv.URL)
	}
	if d := time.Until(exp); d < 55*time.Second || d > 61*time.Second {
		t.Errorf("expires_at %v: want about 60 s from now", exp)
	}
	u, _ := url.Parse(link)
	if code := u.Query().Get("code"); len(code) < 22 { // 128 bits at 6 bits a character
		t.Errorf("code %q is too short to hold 128 random bits", code)
	}

	head, _ := http.NewRequest(http.MethodHead, link, nil)
	if resp, err := h.noRedirect().Do(head); err != nil || resp.StatusCode != http.StatusMethodNotAllowed || len(resp.Cookies()) != 0 {
		t.Fatalf("HEAD of the link: %v %v, want 405 without spending the code", resp, err)
	}
	resp, body := h.openLink(link, "Mozilla/5.0 test")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/" {
		t.Fatalf("first use: %d Location %q %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	resp, body = h.openLink(link, "Mozilla/5.0 test")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("second use: %d, want 401", resp.StatusCode)
	}
	checkLoginFailedPage(t, resp, body)
}

func checkLoginFailedPage(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q, want HTML", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	if len(resp.Cookies()) != 0 {
		t.Errorf("a refused link set cookies: %v", resp.Header.Values("Set-Cookie"))
	}
	for _, want := range []string{"60 seconds", "once", "modelbar ui", "Open in browser"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page does not say %q:\n%s", want, body)
		}
	}
	for _, external := range []string{"src=", "href=", "<script", "@import"} {
		if strings.Contains(body, external) {
			t.Errorf("the page is not self-contained (%s):\n%s", external, body)
		}
	}
}

func TestLoginLink_ExpiresAfter60Seconds(t *testing.T) {
	cases := []struct {
		wait time.Duration
		want int
	}{
		{0, http.StatusSeeOther},
		{59 * time.Second, http.StatusSeeOther},
		{60 * time.Second, http.StatusUnauthorized},
		{10 * time.Minute, http.StatusUnauthorized},
	}
	for _, c := range cases {
		t.Run(c.wait.String(), func(t *testing.T) {
			h, clk := newAuthHarness(t)
			link, _ := h.loginLink(adminToken)
			clk.add(c.wait)
			resp, body := h.openLink(link, "")
			if resp.StatusCode != c.want {
				t.Fatalf("after %v: %d, want %d: %s", c.wait, resp.StatusCode, c.want, body)
			}
		})
	}
}

func TestLoginLink_BadCodes(t *testing.T) {
	h, _ := newAuthHarness(t)
	h.loginLink(adminToken) // one pending, not the one tried
	for _, q := range []string{"", "?code=", "?code=AAAAAAAAAAAAAAAAAAAAAAAAAA", "?code=x&code=y"} {
		resp, body := h.openLink(h.url("/ui/login"+q), "")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("/ui/login%s: %d, want 401", q, resp.StatusCode)
			continue
		}
		checkLoginFailedPage(t, resp, body)
	}
	// The admin API's own token is not a login code.
	if resp, _ := h.openLink(h.url("/ui/login?code="+adminToken), ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the admin token as a code: %d", resp.StatusCode)
	}
}

func TestSessionCookie_Attributes(t *testing.T) {
	h, _ := newAuthHarness(t)
	link, _ := h.loginLink(adminToken)
	resp, _ := h.openLink(link, "")
	_, port, _ := strings.Cut(h.srv.Listener.Addr().String(), ":")
	raw := resp.Header.Values("Set-Cookie")
	if len(raw) != 1 {
		t.Fatalf("Set-Cookie %q: want one cookie", raw)
	}
	name, rest, _ := strings.Cut(raw[0], "=")
	value, attrs, _ := strings.Cut(rest, ";")
	if name != "modelbar_session_"+port || len(value) < 43 { // 256 bits in base64
		t.Errorf("cookie %s=%q: want modelbar_session_%s and a 256-bit secret", name, value, port)
	}
	got := map[string]bool{}
	for _, a := range strings.Split(attrs, ";") {
		got[strings.TrimSpace(a)] = true
	}
	want := map[string]bool{"Path=/": true, "HttpOnly": true, "SameSite=Strict": true, "Max-Age=" + strconv.Itoa(7*24*3600): true}
	if len(got) != len(want) {
		t.Errorf("cookie attributes %q, want exactly %v", attrs, want)
	}
	for a := range want {
		if !got[a] {
			t.Errorf("cookie attributes %q lack %s", attrs, a)
		}
	}
	if strings.Contains(raw[0], "Domain") || strings.Contains(raw[0], adminToken) {
		t.Errorf("cookie %q: no Domain, never the token", raw[0])
	}
}

// A session cookie admits admin calls, and the browser's same-origin
// evidence is required with it (CSRF).
func TestSessionCookie_AdminNeedsOwnOrigin(t *testing.T) {
	h, _ := newAuthHarness(t)
	c := h.signIn("test")
	self := "http://" + h.srv.Listener.Addr().String()
	_, port, _ := strings.Cut(h.srv.Listener.Addr().String(), ":")
	settings := []byte(`{"max_retries":1}`)
	cases := []struct {
		name    string
		method  string
		path    string
		body    []byte
		headers []string
		want    int
		code    string
	}{
		{"GET, no Origin", "GET", "/api/status", nil, nil, 200, ""},
		{"GET, own Origin", "GET", "/api/status", nil, []string{"Origin", self}, 200, ""},
		{"GET, foreign Origin", "GET", "/api/status", nil, []string{"Origin", "https://evil.example"}, 403, "origin_not_allowed"},
		{"PUT, own Origin", "PUT", "/api/settings", settings, []string{"Origin", self}, 200, ""},
		{"POST, own Origin", "POST", "/api/login-link", nil, []string{"Origin", self}, 201, ""},
		{"PUT, foreign Origin", "PUT", "/api/settings", settings, []string{"Origin", "https://evil.example"}, 403, "origin_not_allowed"},
		{"POST, foreign Origin", "POST", "/api/routes", []byte(`{"model_pattern":"x","backend":"local"}`), []string{"Origin", "http://evil.example"}, 403, "origin_not_allowed"},
		{"PUT, other loopback port", "PUT", "/api/settings", settings, []string{"Origin", "http://localhost:" + port}, 403, "origin_not_allowed"},
		{"PUT, app scheme", "PUT", "/api/settings", settings, []string{"Origin", "wails://wails"}, 403, "origin_not_allowed"},
		{"PUT, no Origin", "PUT", "/api/settings", settings, nil, 403, "origin_required"},
		{"DELETE, no Origin", "DELETE", "/api/sessions", nil, nil, 403, "origin_required"},
		{"PUT, no Origin, cross-site fetch", "PUT", "/api/settings", settings, []string{"Sec-Fetch-Site", "cross-site"}, 403, "origin_required"},
		{"PUT, no Origin, same-site fetch", "PUT", "/api/settings", settings, []string{"Sec-Fetch-Site", "same-site"}, 403, "origin_required"},
		{"PUT, no Origin, same-origin fetch", "PUT", "/api/settings", settings, []string{"Sec-Fetch-Site", "same-origin"}, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := h.do(h.withCookie(c, tc.method, tc.path, tc.body, tc.headers...))
			if resp.StatusCode != tc.want {
				t.Fatalf("%d, want %d: %s", resp.StatusCode, tc.want, b)
			}
			if tc.code != "" {
				if e := mustOpenAIError(t, b); deref(e.Code) != tc.code {
					t.Errorf("code %q, want %q", deref(e.Code), tc.code)
				}
			}
		})
	}
	// Nothing a refused request asked for happened.
	if r := h.cfg.Routes(); len(r) != 0 {
		t.Errorf("a refused request created routes: %v", r)
	}
}

func TestSessionCookie_RefusedWhenMissingOrStale(t *testing.T) {
	h, _ := newAuthHarness(t)
	c := h.signIn("")
	_, port, _ := strings.Cut(h.srv.Listener.Addr().String(), ":")
	cases := []struct {
		name   string
		cookie *http.Cookie
		code   string
	}{
		{"no cookie", nil, "invalid_admin_token"},
		{"unknown secret", &http.Cookie{Name: c.Name, Value: "bm90LWEtc2Vzc2lvbg"}, "session_expired"},
		{"another port's cookie", &http.Cookie{Name: "modelbar_session_1" + port, Value: c.Value}, "invalid_admin_token"},
		{"the admin token as a cookie", &http.Cookie{Name: c.Name, Value: adminToken}, "session_expired"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := h.request("GET", "/api/status", nil)
			if tc.cookie != nil {
				req.AddCookie(tc.cookie)
			}
			resp, b := h.do(req)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%d, want 401: %s", resp.StatusCode, b)
			}
			if e := mustOpenAIError(t, b); deref(e.Code) != tc.code {
				t.Errorf("code %q, want %q", deref(e.Code), tc.code)
			}
		})
	}
}

func TestSessionCookie_ExpiresWhenIdle(t *testing.T) {
	h, clk := newAuthHarness(t)
	c := h.signIn("")
	clk.add(11 * time.Hour)
	if resp, b := h.do(h.withCookie(c, "GET", "/api/status", nil)); resp.StatusCode != 200 {
		t.Fatalf("after 11 h: %d %s", resp.StatusCode, b)
	}
	clk.add(12 * time.Hour)
	if resp, _ := h.do(h.withCookie(c, "GET", "/api/status", nil)); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after 12 h idle: %d, want 401", resp.StatusCode)
	}
}

// With inference keys required, the signed-in UI's own pages may call /v1
// with their session cookie (the chat playground), but only from this
// server's own origin: the cookie is no inference key for any other page,
// not even one on another port of this host (the same site, so the browser
// sends the cookie), and a request with neither cookie nor key gets 401.
func TestSessionCookie_AdmitsInferenceFromOwnPagesOnly(t *testing.T) {
	h, _ := newAuthHarness(t)
	c := h.signIn("")
	h.mustAdmin("POST", "/api/keys", map[string]string{"name": "k"}, http.StatusCreated)
	h.mustAdmin("PUT", "/api/settings", map[string]any{"require_api_keys": true}, http.StatusOK)
	self := "http://" + h.srv.Listener.Addr().String()
	_, port, _ := strings.Cut(h.srv.Listener.Addr().String(), ":")
	chat := []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	stale := &http.Cookie{Name: c.Name, Value: "bm90LWEtc2Vzc2lvbg"}
	cases := []struct {
		name   string
		cookie *http.Cookie
		method string
		path   string
		body   []byte
		hdrs   []string
		admit  bool
	}{
		{"models, own Origin", c, "GET", "/v1/models", nil, []string{"Origin", self}, true},
		{"models, same-origin fetch without Origin", c, "GET", "/v1/models", nil, []string{"Sec-Fetch-Site", "same-origin"}, true},
		{"chat, own Origin", c, "POST", "/v1/chat/completions", chat, []string{"Origin", self}, true},
		{"chat, same-origin fetch without Origin", c, "POST", "/v1/chat/completions", chat, []string{"Sec-Fetch-Site", "same-origin"}, true},
		{"models, cookie but no browser evidence", c, "GET", "/v1/models", nil, nil, false},
		{"chat, cookie but no browser evidence", c, "POST", "/v1/messages", []byte(`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`), nil, false},
		{"models, other loopback port", c, "GET", "/v1/models", nil, []string{"Origin", "http://localhost:" + port + "0"}, false},
		{"chat, other loopback page", c, "POST", "/v1/chat/completions", chat, []string{"Origin", "http://127.0.0.1:3000"}, false},
		{"chat, same-site fetch", c, "POST", "/v1/chat/completions", chat, []string{"Sec-Fetch-Site", "same-site"}, false},
		{"chat, app scheme", c, "POST", "/v1/chat/completions", chat, []string{"Origin", "wails://wails"}, false},
		{"chat, stale cookie, own Origin", stale, "POST", "/v1/chat/completions", chat, []string{"Origin", self}, false},
		{"models, no cookie, no key", nil, "GET", "/v1/models", nil, []string{"Origin", self}, false},
		{"chat, no cookie, no key", nil, "POST", "/v1/chat/completions", chat, []string{"Sec-Fetch-Site", "same-origin"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := h.request(tc.method, tc.path, tc.body, tc.hdrs...)
			if tc.cookie != nil {
				req.AddCookie(&http.Cookie{Name: tc.cookie.Name, Value: tc.cookie.Value})
			}
			resp, b := h.do(req)
			if !tc.admit {
				if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), "API key") {
					t.Fatalf("%d %s, want 401 asking for an API key", resp.StatusCode, b)
				}
				return
			}
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
				t.Fatalf("%d %s, want the request admitted", resp.StatusCode, b)
			}
			if tc.path == "/v1/models" && resp.StatusCode != http.StatusOK {
				t.Fatalf("%d %s, want the model list", resp.StatusCode, b)
			}
		})
	}
	// Signing out ends it: the same cookie from the same page is refused.
	h.mustAdmin("DELETE", "/api/sessions", nil, http.StatusNoContent)
	if resp, b := h.do(h.withCookie(c, "GET", "/v1/models", nil, "Origin", self)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after sign-out: %d %s, want 401", resp.StatusCode, b)
	}
}

type sessionJSON struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	UserAgent  string    `json:"user_agent"`
	Current    bool      `json:"current"`
}

func (h *harness) sessions(c *http.Cookie) []sessionJSON {
	h.t.Helper()
	req := h.request("GET", "/api/sessions", nil, "Authorization", "Bearer "+adminToken)
	if c != nil {
		req = h.withCookie(c, "GET", "/api/sessions", nil)
	}
	resp, b := h.do(req)
	if resp.StatusCode != 200 {
		h.t.Fatalf("GET /api/sessions: %d %s", resp.StatusCode, b)
	}
	var out []sessionJSON
	decode(h.t, b, &out)
	return out
}

func TestSessions_ListAndRevoke(t *testing.T) {
	h, clk := newAuthHarness(t)
	self := "http://" + h.srv.Listener.Addr().String()
	if got := h.sessions(nil); got == nil || len(got) != 0 {
		t.Fatalf("sessions before any sign-in: %v, want []", got)
	}
	a := h.signIn("Browser A")
	clk.add(time.Second)
	b := h.signIn("Browser B")
	list := h.sessions(a)
	if len(list) != 2 || list[0].UserAgent != "Browser A" || !list[0].Current || list[1].Current || list[1].UserAgent != "Browser B" {
		t.Fatalf("sessions seen from A: %+v", list)
	}
	for _, s := range list {
		if s.ID == "" || strings.Contains(a.Value, s.ID) || strings.Contains(b.Value, s.ID) ||
			!s.ExpiresAt.After(s.LastUsedAt) || s.CreatedAt.IsZero() {
			t.Errorf("session %+v: want a public id apart from the secret and sane times", s)
		}
	}
	if bs := h.sessions(nil); bs[0].Current || bs[1].Current {
		t.Error("a bearer-token call has no current session")
	}

	// A revokes B: B is out, A's cookie untouched.
	resp, body := h.do(h.withCookie(a, "DELETE", "/api/sessions/"+list[1].ID, nil, "Origin", self))
	if resp.StatusCode != http.StatusNoContent || len(resp.Cookies()) != 0 {
		t.Fatalf("revoke B: %d %v %s", resp.StatusCode, resp.Header.Values("Set-Cookie"), body)
	}
	if resp, _ := h.do(h.withCookie(b, "GET", "/api/status", nil)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("revoked B: %d, want 401", resp.StatusCode)
	}
	if resp, _ := h.do(h.withCookie(a, "DELETE", "/api/sessions/"+list[1].ID, nil, "Origin", self)); resp.StatusCode != http.StatusNotFound {
		t.Errorf("revoke B again: %d, want 404", resp.StatusCode)
	}
	if resp, b := h.admin("DELETE", "/api/sessions/nope", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("revoke unknown: %d %s, want 404", resp.StatusCode, b)
	}

	// A signs itself out: its cookie is expired too.
	resp, _ = h.do(h.withCookie(a, "DELETE", "/api/sessions/"+list[0].ID, nil, "Origin", self))
	if resp.StatusCode != http.StatusNoContent || !expiresCookie(resp, a.Name) {
		t.Fatalf("sign out: %d %v, want 204 expiring the cookie", resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}
	if resp, _ := h.do(h.withCookie(a, "GET", "/api/status", nil)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("signed-out A: %d, want 401", resp.StatusCode)
	}
}

func expiresCookie(resp *http.Response, name string) bool {
	for _, c := range resp.Cookies() {
		if c.Name == name && c.MaxAge < 0 && c.Value == "" && c.Path == "/" {
			return true
		}
	}
	return false
}

func TestSessions_RevokeAll(t *testing.T) {
	for _, by := range []string{"token", "cookie"} {
		t.Run(by, func(t *testing.T) {
			h, _ := newAuthHarness(t)
			a, b := h.signIn("A"), h.signIn("B")
			req := h.request("DELETE", "/api/sessions", nil, "Authorization", "Bearer "+adminToken)
			if by == "cookie" {
				req = h.withCookie(a, "DELETE", "/api/sessions", nil, "Sec-Fetch-Site", "same-origin")
			}
			resp, body := h.do(req)
			if resp.StatusCode != http.StatusNoContent || expiresCookie(resp, a.Name) != (by == "cookie") {
				t.Fatalf("DELETE /api/sessions: %d %v %s", resp.StatusCode, resp.Header.Values("Set-Cookie"), body)
			}
			for _, c := range []*http.Cookie{a, b} {
				if resp, _ := h.do(h.withCookie(c, "GET", "/api/status", nil)); resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("a session survived: %d", resp.StatusCode)
				}
			}
			if got := h.sessions(nil); len(got) != 0 {
				t.Errorf("sessions after revoking all: %v", got)
			}
		})
	}
}

// Rotating the token ends every session and pending link; the old token
// stops working and the new one, read from the file, works. It is never in
// the answer or the log.
func TestRotate_EndsSessionsCodesAndTheOldToken(t *testing.T) {
	dir := t.TempDir()
	k, err := auth.Open(dir, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	old, _ := auth.ReadToken(dir)
	h := newHarness(t, func(o *gateway.Options) { o.Auth = k })
	get := func(token string) int {
		resp, _ := h.do(h.request("GET", "/api/status", nil, "Authorization", "Bearer "+token))
		return resp.StatusCode
	}
	link, _ := h.loginLink(old)
	resp, _ := h.openLink(link, "")
	cookie := resp.Cookies()[0]
	pending, _ := h.loginLink(old)

	resp, body := h.do(h.request("POST", "/api/admin-token/rotate", nil, "Authorization", "Bearer "+old))
	var out map[string]any
	decode(t, body, &out)
	if resp.StatusCode != 200 || out["rotated"] != true || out["sessions_revoked"] != float64(1) || len(out) != 2 {
		t.Fatalf("rotate: %d %s", resp.StatusCode, body)
	}
	now, err := auth.ReadToken(dir)
	if err != nil || now == old {
		t.Fatalf("token file after rotation: %v", err)
	}
	h.settle()
	if strings.Contains(string(body), now) || strings.Contains(h.logs.String(), now) || strings.Contains(h.logs.String(), old) {
		t.Error("a token reached the answer or the log")
	}
	if got := get(old); got != http.StatusUnauthorized {
		t.Errorf("old token after rotation: %d, want 401", got)
	}
	if got := get(now); got != http.StatusOK {
		t.Errorf("new token from the file: %d, want 200", got)
	}
	if resp, _ := h.do(h.withCookie(cookie, "GET", "/api/status", nil)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("session after rotation: %d, want 401", resp.StatusCode)
	}
	if resp, _ := h.openLink(pending, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("login link made before rotation: %d, want 401", resp.StatusCode)
	}
}

func TestRotate_ByTheSessionItselfExpiresItsCookie(t *testing.T) {
	h, _ := newAuthHarness(t)
	c := h.signIn("")
	self := "http://" + h.srv.Listener.Addr().String()
	resp, body := h.do(h.withCookie(c, "POST", "/api/admin-token/rotate", nil, "Origin", self))
	if resp.StatusCode != 200 || !expiresCookie(resp, c.Name) {
		t.Fatalf("rotate: %d %v %s", resp.StatusCode, resp.Header.Values("Set-Cookie"), body)
	}
	if resp, _ := h.admin("GET", "/api/status", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the harness' token after rotation: %d, want 401", resp.StatusCode)
	}
}

// The desktop window's chat reaches /v1 in process (its asset server hands
// the request to ServeInference): admitted with keys required, with no key
// and whatever Host and Origin the webview gave; only /v1 is served so.
func TestServeInference_DesktopWindowNeedsNoKey(t *testing.T) {
	h, _ := newAuthHarness(t)
	h.mustAdmin("POST", "/api/keys", map[string]string{"name": "k"}, http.StatusCreated)
	h.mustAdmin("PUT", "/api/settings", map[string]any{"require_api_keys": true}, http.StatusOK)
	cases := []struct {
		method, path string
		want         int
	}{
		{"GET", "/v1/models", http.StatusOK},
		{"POST", "/v1/chat/completions", http.StatusBadRequest}, // reached the handler: the body is empty
		{"GET", "/api/status", http.StatusNotFound},
		{"GET", "/ui/", http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "wails://wails"+tc.path, nil)
			req.Host = "wails"
			req.Header.Set("Origin", "wails://wails")
			rec := httptest.NewRecorder()
			h.gw.ServeInference(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.want)
			}
		})
	}
	// Over the network the same request still needs a key.
	if resp, b := h.do(h.request("GET", "/v1/models", nil, "Origin", "wails://wails")); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v1/models over HTTP from the window's origin: %d %s, want 401", resp.StatusCode, b)
	}
}
