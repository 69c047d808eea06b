package gateway

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/modelbar/modelbar/backend/config"
	"github.com/modelbar/modelbar/backend/protocol"
)

// keyGate caches the require_api_keys setting, so that checking a /v1
// request costs an atomic load and, when keys are required, a hash: no
// database query per request.
type keyGate struct {
	required atomic.Bool

	mu   sync.Mutex // orders the first read of the setting against change notifications
	live bool       // guarded by mu: a change notification has set required
}

// watchAPIKeySetting loads require_api_keys and follows its changes. The
// listener is registered before the first read, and the read does not
// overwrite a change that was notified meanwhile, so no change is lost.
// If the setting cannot be read, keys are required: a gateway that cannot
// tell must not open up.
func (s *Server) watchAPIKeySetting() {
	g := &s.keyGate
	s.cfg.OnSettings(func(st config.Settings) {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.required.Store(st.RequireAPIKeys)
		g.live = true
	})
	st, err := s.cfg.Settings(context.Background())
	if err != nil {
		s.log.Error("cannot read the settings; inference API keys are required until they change", "err", err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.live {
		g.required.Store(err != nil || st.RequireAPIKeys)
	}
}

// checkAPIKey lets a /v1 request through when inference keys are off, when
// it is a CORS preflight (browsers send those without credentials), when
// it comes from the admin's own UI (in process, or a browser signed in
// with a session cookie from this server's own pages: uiSession), or
// when it presents a current key as Authorization: Bearer (OpenAI SDKs) or
// x-api-key (Anthropic SDKs, Claude Code). Otherwise it answers 401 in the
// path's API's error shape and returns false. The key is only compared:
// never logged, never quoted in an error, never forwarded (providers send
// their own credentials and drop the client's).
func (s *Server) checkAPIKey(w http.ResponseWriter, r *http.Request) bool {
	if !strings.HasPrefix(r.URL.Path, "/v1/") || r.Method == http.MethodOptions || !s.keyGate.required.Load() {
		return true
	}
	if r.Context().Value(adminCallKey{}) != nil {
		return true // the admin's own test request (POST /api/routes/try) or the desktop window's chat, made in process
	}
	if s.uiSession(r) {
		return true // the signed-in UI's own chat (/ui in a browser): the admin may do anything the keys allow
	}
	keys := presentedKeys(r.Header)
	for _, k := range keys {
		if _, ok := s.cfg.VerifyAPIKey(k); ok {
			return true
		}
	}
	e := &apiError{Status: http.StatusUnauthorized, Type: "invalid_request_error", Code: "invalid_api_key"}
	switch {
	case !s.cfg.HasAPIKeys():
		e.Message = "this modelbar requires an API key and none has been created yet: create one with POST /api/keys " +
			`(admin API, {"name":"..."}), then send it as Authorization: Bearer <key> or x-api-key: <key>`
	case len(keys) == 0:
		e.Message = "missing API key: this modelbar requires one, sent as Authorization: Bearer <key> or x-api-key: <key>"
	default:
		e.Message = "invalid API key: it is not one of this modelbar's keys, or it has been revoked"
	}
	if pathProtocol(r.URL.Path) == protocol.OpenAI {
		e.Header = http.Header{"Www-Authenticate": {"Bearer"}}
	}
	failWith(w, r, e)
	return false
}

// presentedKeys returns the credentials a request carries: the token of an
// Authorization: Bearer header (scheme case-insensitive, RFC 7235) and the
// x-api-key header, either of which may hold the key.
func presentedKeys(h http.Header) []string {
	var keys []string
	if scheme, token, ok := strings.Cut(h.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		if t := strings.TrimSpace(token); t != "" {
			keys = append(keys, t)
		}
	}
	if k := strings.TrimSpace(h.Get("X-Api-Key")); k != "" {
		keys = append(keys, k)
	}
	return keys
}

// newAPIKey is the creation response: the key's fields and, this once, the
// key.
type newAPIKey struct {
	config.APIKey
	Key string `json:"key"`
}

func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.cfg.APIKeys(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, keys)
}

// createAPIKey answers 201 with the new key in clear, the only time it is
// shown; the response must not be cached.
func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	k, plain, err := s.cfg.CreateAPIKey(r.Context(), in.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, newAPIKey{APIKey: k, Key: plain})
}

func (s *Server) deleteAPIKey(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.fail(w, r, &apiError{Status: http.StatusNotFound, Type: "not_found_error", Code: "not_found",
			Message: "API key " + strconv.Quote(r.PathValue("id")) + " not found: ids are positive integers"})
		return
	}
	if err := s.cfg.RevokeAPIKey(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// uiSession reports whether r comes from the signed-in admin UI in a
// browser: a live session cookie, sent from this server's own pages. The
// chat playground at /ui uses it, so that requiring inference keys does
// not make the admin paste one into a page (no secret in a page). It is
// stricter than the admin API's CSRF check (sameOrigin), since a GET
// counts here too: the Origin must be this server's own, or, when the
// browser sent none (a same-origin GET), Sec-Fetch-Site must say
// same-origin. Another page, even on another port of this host (which
// browsers treat as same-site, so they send the cookie), is refused.
func (s *Server) uiSession(r *http.Request) bool {
	c, err := r.Cookie(s.cookieName)
	if err != nil || c.Value == "" {
		return false
	}
	origin := r.Header.Get("Origin")
	switch {
	case origin != "":
		if !strings.EqualFold(origin, "http://"+r.Host) {
			return false
		}
	case r.Header.Get("Sec-Fetch-Site") != "same-origin":
		return false
	}
	_, err = s.auth.Check(c.Value)
	return err == nil
}
