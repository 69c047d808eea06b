package gateway

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/modelbar/modelbar/backend/auth"
)

// Who may call the admin API, and how a browser gets in (package auth
// keeps the secrets):
//   - scripts and the CLI send the admin token as a bearer token;
//   - the desktop window and the menu-bar icon call in process (CallAdmin),
//     marked by a context value no network request can carry;
//   - a browser opens a one-time login link (GET /ui/login?code=...) and
//     from then on sends an HttpOnly, SameSite=Strict session cookie. A
//     request it authenticates must also come from this server's own
//     origin, so no other page can make the browser act (CSRF).
// A cookie never stands in for an inference key for other clients: /v1
// admits it only from this server's own pages, so that the UI's chat works
// when inference keys are required (uiSession in apikeys.go).

// adminCallKey marks a request CallAdmin made in process: admitted without
// a credential. Unexported, so only this package can set it.
type adminCallKey struct{}

// sessionKey carries the id of the browser session a request came with.
type sessionKey struct{}

func sessionFrom(ctx context.Context) string {
	id, _ := ctx.Value(sessionKey{}).(string)
	return id
}

// sessionCookieName names the cookie after the port: browsers share cookies
// between the ports of a host, and two modelbars on one machine must not
// overwrite each other's.
func sessionCookieName(addr string) string {
	if _, port, err := net.SplitHostPort(addr); err == nil && port != "" {
		return "modelbar_session_" + port
	}
	return "modelbar_session"
}

// authenticate admits an admin request by the bearer token, an in-process
// mark, or a live session cookie from this server's own origin. It returns
// the request, carrying the session id when a cookie admitted it.
func (s *Server) authenticate(r *http.Request) (*http.Request, *apiError) {
	if r.Context().Value(adminCallKey{}) != nil {
		return r, nil
	}
	if s.auth.CheckToken(bearerToken(r.Header)) {
		return r, nil
	}
	c, err := r.Cookie(s.cookieName)
	if err != nil || c.Value == "" {
		return r, &apiError{Status: http.StatusUnauthorized, Type: "authentication_error", Code: "invalid_admin_token",
			Header:  http.Header{"Www-Authenticate": {`Bearer realm="modelbar admin"`}},
			Message: "the admin API needs Authorization: Bearer <token>, the token in admin-token in the data dir; a browser signs in with a login link from `modelbar ui`"}
	}
	if e := sameOrigin(r); e != nil {
		return r, e
	}
	sess, err := s.auth.Check(c.Value)
	if err != nil {
		return r, &apiError{Status: http.StatusUnauthorized, Type: "authentication_error", Code: "session_expired",
			Header: http.Header{"Www-Authenticate": {`Bearer realm="modelbar admin"`}},
			Message: "this browser's session has ended (signed out, revoked, idle for 12 hours, older than 7 days, the admin token was rotated, or modelbar restarted): " +
				"get a new login link with `modelbar ui` or the menu-bar icon's Open in browser"}
	}
	return r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess.ID)), nil
}

// bearerToken is the token of an Authorization: Bearer header (the scheme
// in any case, RFC 7235), or "".
func bearerToken(h http.Header) string {
	scheme, token, _ := strings.Cut(h.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// sameOrigin is the CSRF check for a cookie-authenticated request: an
// Origin, when sent, must be this server's own; a request that changes
// something and sends none must say it is same-origin in Sec-Fetch-Site
// (which pages cannot set). The middleware has already refused foreign web
// origins on /api; this also refuses app schemes and a missing Origin.
func sameOrigin(r *http.Request) *apiError {
	origin := r.Header.Get("Origin")
	switch {
	case origin != "":
		if strings.EqualFold(origin, "http://"+r.Host) {
			return nil
		}
		return &apiError{Status: http.StatusForbidden, Type: "permission_error", Code: "origin_not_allowed",
			Message: "a browser session is accepted only from this server's own pages, not from Origin " + quoteName(origin)}
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return nil
	case r.Header.Get("Sec-Fetch-Site") == "same-origin":
		return nil
	}
	return &apiError{Status: http.StatusForbidden, Type: "permission_error", Code: "origin_required",
		Message: "a browser session may change things only from this server's own pages: the request carries neither Origin nor Sec-Fetch-Site: same-origin"}
}

// LoginLink makes a one-time login link for a browser: it opens the UI
// signed in if used once before expires (auth.CodeTTL).
func (s *Server) LoginLink() (link string, expires time.Time) {
	code, expires := s.auth.NewCode()
	return ClientBaseURL(s.opts.Addr) + "/ui/login?code=" + url.QueryEscape(code), expires
}

// createLoginLink is POST /api/login-link.
func (s *Server) createLoginLink(w http.ResponseWriter, r *http.Request) {
	link, expires := s.LoginLink()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, map[string]string{"url": link, "expires_at": expires.UTC().Format(time.RFC3339)})
}

// login is GET /ui/login?code=...: a valid code becomes a session cookie
// and a redirect into the UI; anything else a page that says what to do.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodGet { // a HEAD (a link checker) must not spend the code
		h.Set("Allow", "GET")
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	secret, sess, err := s.auth.Redeem(r.URL.Query().Get("code"), r.UserAgent())
	if err != nil {
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(loginFailedPage))
		return
	}
	s.log.InfoContext(r.Context(), "browser signed in", "session", sess.ID)
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName, Value: secret, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		MaxAge: int(auth.MaxAge / time.Second),
	})
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

const loginFailedPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><title>modelbar: login link not valid</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:36em;margin:12vh auto;padding:0 1em}code{font-size:14px}</style></head>
<body><h1>This login link is not valid</h1>
<p>A modelbar login link works <strong>once</strong>, within <strong>60 seconds</strong>. This one was already used, has expired, or was cancelled when the admin token was rotated.</p>
<p>Get a new one:</p>
<ul><li>run <code>modelbar ui</code> in a terminal: it prints a link and opens it, or</li>
<li>choose <strong>Open in browser</strong> in the modelbar menu-bar icon's menu.</li></ul>
</body></html>
`

// sessionView is a session as GET /api/sessions shows it.
type sessionView struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	UserAgent  string    `json:"user_agent"`
	Current    bool      `json:"current"` // the session this request came with
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	current := sessionFrom(r.Context())
	out := []sessionView{}
	for _, x := range s.auth.Sessions() {
		out = append(out, sessionView{ID: x.ID, CreatedAt: x.CreatedAt.UTC(), LastUsedAt: x.LastUsedAt.UTC(), ExpiresAt: x.ExpiresAt.UTC(),
			UserAgent: x.UserAgent, Current: x.ID == current})
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !s.auth.Revoke(id) {
		s.fail(w, r, &apiError{Status: http.StatusNotFound, Type: "not_found_error", Code: "not_found",
			Message: "no session " + quoteName(id) + ": it ended already, or never was"})
		return
	}
	if id == sessionFrom(r.Context()) {
		s.expireCookie(w)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) deleteSessions(w http.ResponseWriter, r *http.Request) {
	n := s.auth.RevokeAll()
	s.log.InfoContext(r.Context(), "browser sessions revoked", "sessions", n)
	if sessionFrom(r.Context()) != "" {
		s.expireCookie(w)
	}
	w.WriteHeader(http.StatusNoContent)
}

// rotateAdminToken is POST /api/admin-token/rotate. The new token goes to
// the admin-token file only: never into a response or the log.
func (s *Server) rotateAdminToken(w http.ResponseWriter, r *http.Request) {
	n, err := s.auth.Rotate()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "admin token rotated", "sessions_revoked", n)
	if sessionFrom(r.Context()) != "" {
		s.expireCookie(w)
	}
	writeJSON(w, http.StatusOK, map[string]any{"rotated": true, "sessions_revoked": n})
}

// expireCookie tells the browser to drop its session cookie.
func (s *Server) expireCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
}
