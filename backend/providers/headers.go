package providers

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Bounds of a provider's extra headers: enough for a proxy's routing and
// access headers, too little to smuggle a body in.
const (
	MaxExtraHeaders     = 32
	MaxExtraHeaderValue = 4096
	maxExtraHeaderName  = 128
)

// credentialHeaders carry credentials: a provider's key goes in api_key,
// where it is kept in the secret store, sent only to its own host and cut
// out of answers.
var credentialHeaders = map[string]bool{
	"Authorization": true, "Proxy-Authorization": true, "X-Api-Key": true, "Api-Key": true, "Cookie": true,
}

// credentialWords in a header's name say it carries a credential of some
// kind (X-Goog-Api-Key, CF-Access-Client-Secret, X-Auth-Token, a session
// id): extra headers are kept in the database and shown by the admin API,
// so no secret may travel in one.
var credentialWords = []string{"key", "secret", "token", "auth", "password", "passwd", "cookie", "session", "signature", "credential"}

// credentialName reports whether a header's name says it carries a
// credential.
func credentialName(ck string) bool {
	if credentialHeaders[ck] {
		return true
	}
	lower := strings.ToLower(ck)
	return slices.ContainsFunc(credentialWords, func(w string) bool { return strings.Contains(lower, w) })
}

// managedHeaders describe the connection or the body; the HTTP client and
// the gateway set them, and a fixed value would break the request.
var managedHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Content-Type": true, "Content-Encoding": true, "Transfer-Encoding": true,
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true, "Trailer": true, "Upgrade": true,
	"Accept-Encoding": true, "Expect": true, "Accept": true, // Accept: the gateway asks for JSON or an event stream as the call needs
}

// HeaderError says which extra header is refused and why; its message
// never quotes a value.
type HeaderError struct {
	Name    string
	Message string
}

func (e *HeaderError) Error() string { return fmt.Sprintf("%q %s", e.Name, e.Message) }

// CheckExtraHeaders refuses extra headers that cannot or must not be sent:
// names that are not HTTP tokens, credential headers (use api_key),
// headers the HTTP client manages, two names for one header, values with
// control characters (CR/LF would split the request), and more than the
// bounds allow. Errors are *HeaderError.
func CheckExtraHeaders(h map[string]string) error {
	if len(h) > MaxExtraHeaders {
		return &HeaderError{Message: fmt.Sprintf("too many: at most %d extra headers", MaxExtraHeaders)}
	}
	seen := map[string]string{}
	for _, name := range sortedKeys(h) {
		ck := http.CanonicalHeaderKey(name)
		switch {
		case !validHeaderName(name):
			return &HeaderError{Name: name, Message: "is not a valid header name: letters, digits and !#$%&'*+-.^_`|~, at most 128"}
		case credentialName(ck):
			return &HeaderError{Name: name, Message: "carries credentials by its name: extra headers are stored and shown in plain text; set the key in api_key (or api_key_env), which is kept in the secret store and sent only to this provider's host"}
		case managedHeaders[ck]:
			return &HeaderError{Name: name, Message: "is set by modelbar's HTTP client for each request and cannot be fixed"}
		case strings.HasPrefix(ck, "Sec-"), strings.HasPrefix(ck, "Proxy-"):
			return &HeaderError{Name: name, Message: "is reserved to browsers and proxies"}
		case seen[ck] != "":
			return &HeaderError{Name: name, Message: fmt.Sprintf("names the same header as %q", seen[ck])}
		}
		seen[ck] = name
		if v := h[name]; len(v) > MaxExtraHeaderValue {
			return &HeaderError{Name: name, Message: fmt.Sprintf("has a value longer than %d bytes", MaxExtraHeaderValue)}
		} else if strings.IndexFunc(v, func(r rune) bool { return (r < 0x20 && r != '\t') || r == 0x7f }) >= 0 {
			return &HeaderError{Name: name, Message: "has a control character (such as a line break) in its value"}
		} else if strings.TrimSpace(v) != v {
			return &HeaderError{Name: name, Message: "has a value that starts or ends with spaces"}
		}
	}
	return nil
}

func validHeaderName(s string) bool {
	if s == "" || len(s) > maxExtraHeaderName {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)) {
			return false
		}
	}
	return true
}

func sortedKeys(h map[string]string) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// headerTransport sets a provider's extra headers on every request its
// client sends (inference, model lists, tests, health checks), over any
// header of the same name the request carries: the provider's
// configuration wins over what a client relayed.
type headerTransport struct {
	base  http.RoundTripper
	extra http.Header // canonical names; never logged
}

func (t *headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context()) // a RoundTripper must not change the caller's request
	for k, v := range t.extra {
		r.Header[k] = v
	}
	return t.base.RoundTrip(r)
}

// extraHeader is h with canonical names; nil when h is empty.
func extraHeader(h map[string]string) http.Header {
	if len(h) == 0 {
		return nil
	}
	out := make(http.Header, len(h))
	for k, v := range h {
		out[http.CanonicalHeaderKey(k)] = []string{v}
	}
	return out
}
