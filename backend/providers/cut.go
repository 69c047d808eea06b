package providers

import (
	"io"
	"net/http"

	"github.com/modelbar/modelbar/backend/redact"
)

// cutTransport cuts the provider's key, in every form redact.Needles
// lists, out of everything that comes back from the provider: the status
// line, header values, the body as it streams, and trailers. Some servers
// echo the credential they were sent, and it must travel no further than
// this package: not to the client, a log line or the UI. Sitting under
// the http.Client, it covers every call alike, go-openai's included, and
// each hop of a redirect. Safe for concurrent use.
type cutTransport struct {
	base http.RoundTripper
	cut  *redact.Cutter // not nil: a Client without a key has no cutTransport
}

var _ http.RoundTripper = (*cutTransport)(nil)

func (t *cutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err // its text is cut by the Client, which keeps it as Error.Err
	}
	resp.Status = t.cut.CutString(resp.Status)
	cutHeader(t.cut, resp.Header)
	if resp.Body != nil && resp.Body != http.NoBody {
		resp.Body = t.cut.Reader(&trailerCutter{ReadCloser: resp.Body, resp: resp, cut: t.cut})
		// Cutting changes the length.
		resp.ContentLength = -1
		resp.Header.Del("Content-Length")
	}
	return resp, nil
}

// cutHeader cuts the key out of every value of h, in place.
func cutHeader(cut *redact.Cutter, h http.Header) {
	if cut == nil {
		return
	}
	for _, vs := range h {
		for i, v := range vs {
			vs[i] = cut.CutString(v)
		}
	}
}

// trailerCutter cuts the key out of the response's trailers, which
// net/http fills in when the body reaches its end.
type trailerCutter struct {
	io.ReadCloser
	resp *http.Response
	cut  *redact.Cutter
}

func (t *trailerCutter) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if err != nil {
		cutHeader(t.cut, t.resp.Trailer)
	}
	return n, err
}

// cutError hides the key in an error's text while keeping the error
// itself for errors.Is and errors.As: a transport error may quote what
// the server sent (a malformed status line, say).
type cutError struct {
	msg string
	err error
}

func (e *cutError) Error() string { return e.msg }
func (e *cutError) Unwrap() error { return e.err }

// cutErr returns err, or a cutError if its text holds the key.
func cutErr(cut *redact.Cutter, err error) error {
	if cut == nil {
		return err
	}
	if msg, cutMsg := err.Error(), cut.CutString(err.Error()); cutMsg != msg {
		return &cutError{msg: cutMsg, err: err}
	}
	return err
}
