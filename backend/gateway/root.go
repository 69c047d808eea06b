package gateway

import (
	"net/http"
	"strconv"
	"strings"
)

// rootText is what GET / answers a program: a liveness line that needs no
// credential, like /healthz. Claude Code sends HEAD / when it starts.
const rootText = "modelbar is running\n"

// serveRoot answers GET and HEAD /: a browser (one that accepts HTML) is
// sent to the web UI; anything else gets rootText as plain text, HEAD its
// headers only.
func (s *Server) serveRoot(w http.ResponseWriter, r *http.Request) {
	if acceptsHTML(r.Header.Values("Accept")) {
		http.Redirect(w, r, "/ui/", http.StatusFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(rootText)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write([]byte(rootText))
	}
}

// acceptsHTML reports whether an Accept header names text/html, as every
// browser's navigation request does (curl, SDKs and editors do not).
func acceptsHTML(accept []string) bool {
	for _, v := range accept {
		for _, part := range strings.Split(v, ",") {
			mt, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if strings.EqualFold(strings.TrimSpace(mt), "text/html") && !zeroQuality(params) {
				return true
			}
		}
	}
	return false
}

// zeroQuality reports whether media-type parameters carry q=0 ("not
// acceptable").
func zeroQuality(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && q == 0
		}
	}
	return false
}
