package providers

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// maxRedirects is how many redirects in a row a call follows.
const maxRedirects = 10

// redirectError stops a redirect that checkRedirect refuses; the Client
// turns it into a KindConfig *Error with its message.
type redirectError struct{ msg string }

func (e *redirectError) Error() string { return e.msg }

// checkRedirect is every Client's redirect policy. A provider key goes only
// to its own host: net/http drops Authorization on a redirect to another
// host (not to another port of the same one) but keeps every other
// header, x-api-key included, so a redirect is followed only to the same
// hostname and port, and never from https to http, where the key would
// travel in the clear.
func checkRedirect(req *http.Request, via []*http.Request) error {
	from, to := via[len(via)-1].URL, req.URL
	status := 0
	if req.Response != nil {
		status = req.Response.StatusCode
	}
	if why := crossesOrigin(from, to); why != "" {
		return &redirectError{fmt.Sprintf("answered HTTP %d, a redirect to %s %s; set base_url to the address that answers",
			status, redirectTarget(to), why)}
	}
	if len(via) > maxRedirects { // via holds the request and each redirect followed
		return &redirectError{fmt.Sprintf("answered with more than %d redirects, the last (HTTP %d) to %s: not followed; "+
			"set base_url to the address that answers", maxRedirects, status, redirectTarget(to))}
	}
	return nil
}

// crossesOrigin says why a redirect from one URL to another may not carry
// the key, or "" if it may.
func crossesOrigin(from, to *url.URL) string {
	const stays = ": not followed, so its key stays with its host"
	switch {
	case !strings.EqualFold(from.Hostname(), to.Hostname()):
		return "on another host" + stays
	case effectivePort(from) != effectivePort(to):
		return "on another port" + stays
	case strings.EqualFold(from.Scheme, "https") && !strings.EqualFold(to.Scheme, "https"):
		return "without https: not followed, so its key is not sent in the clear"
	}
	return ""
}

// effectivePort is u's port, or its scheme's default.
func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

// redirectTarget names a redirect's target for a message: scheme, host and
// path, at most 200 characters, without the query, fragment or user info,
// which may hold secrets.
func redirectTarget(u *url.URL) string {
	s := u.Scheme + "://" + u.Host + u.EscapedPath()
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	return s
}
