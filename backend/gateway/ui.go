package gateway

import (
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// The web UI is the built frontend (Options.UI), served at /ui/ to
// browsers on this machine: the same app the desktop window shows. It holds
// no secret: the page calls /api with the session cookie a one-time login
// link set (session.go), and shows how to get one when it has none.

func (s *Server) serveUI(w http.ResponseWriter, r *http.Request) {
	if s.opts.UI == nil {
		failWith(w, r, &apiError{Status: http.StatusNotFound, Type: "not_found_error", Code: "ui_not_built",
			Message: "this modelbar was built without its web UI: build the frontend (npm ci && npm run build in frontend/) before go build"})
		return
	}
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/ui")
	name = strings.TrimPrefix(name, "/")
	if name == "" {
		name = "index.html"
	}
	b, err := fs.ReadFile(s.opts.UI, name)
	var pe *fs.PathError
	if errors.As(err, &pe) { // missing, invalid, or a directory
		failWith(w, r, &apiError{Status: http.StatusNotFound, Type: "not_found_error", Code: "unknown_url", Message: "no such file in the UI: " + name})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		h.Set("Content-Type", ct)
	}
	if name == "index.html" {
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
	} else {
		h.Set("Cache-Control", "public, max-age=31536000, immutable") // Vite names assets by content hash
	}
	w.Write(b)
}
