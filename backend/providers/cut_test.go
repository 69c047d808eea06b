package providers

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/redact"
)

// echoedKey has characters that JSON, percent-encoding and base64 each
// write differently, so every form of it differs from the key.
const echoedKey = `sk-echo/Ab+9<q>&w"e\x-0123456789ABCDEF`

// sentKey is the key a request carried, whichever header its type uses.
func sentKey(r *http.Request) string {
	if k := r.Header.Get("x-api-key"); k != "" {
		return k
	}
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// leakedForm returns a form of key found in s, or "". It is worked out
// independently of redact.Needles: the key; its JSON, percent and
// slash-escaped forms; its middle (all but 3 bytes at each end); and the
// base64 characters that encode that middle alone, at each alignment and
// in either alphabet. Any of these gives away most of the key.
func leakedForm(s, key string) string {
	mid := key[3 : len(key)-3]
	probes := []string{key, mid, jsonString(key), strings.ReplaceAll(jsonString(key), "/", `\/`), url.QueryEscape(key), url.PathEscape(key)}
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		for pad := range 3 {
			e := enc.EncodeToString([]byte(strings.Repeat("\x00", pad) + mid))
			probes = append(probes, e[3:len(e)-2]) // the characters mixed with neighbours dropped
		}
	}
	for _, p := range probes {
		if strings.Contains(s, p) {
			return p
		}
	}
	return ""
}

func assertNoKey(t *testing.T, what, s string) {
	t.Helper()
	if leak := leakedForm(s, echoedKey); leak != "" {
		t.Errorf("%s shows the key as %q: %q", what, leak, s)
	}
}

func headerText(h http.Header) string {
	var b bytes.Buffer
	h.Write(&b)
	return b.String()
}

func TestClient_CutsAnEchoedKeyFromEveryAnswer(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	tests := []struct {
		name   string
		status int
		header func(key string) http.Header
		body   func(key string) string
		// want is the body the client must get; "" checks only that the
		// key is gone and [REDACTED] is there, between wantAround's parts.
		want       string
		wantAround [2]string
		wantHeader map[string]string
	}{
		{
			name: "header", status: 200,
			header: func(k string) http.Header {
				return http.Header{"X-Echo": {k}, "X-Echo-Basic": {"Basic " + b64([]byte("user:"+k))}, "X-Echo-Json": {`{"k":"` + jsonString(k) + `"}`}}
			},
			body:       func(string) string { return `{"ok":true}` },
			want:       `{"ok":true}`,
			wantHeader: map[string]string{"X-Echo": "[REDACTED]", "X-Echo-Json": `{"k":"[REDACTED]"}`},
		},
		{
			name: "json 2xx body", status: 200,
			body: func(k string) string {
				b, _ := json.Marshal(map[string]string{"echo": k, "note": "fine"})
				return string(b) + `{"php":"` + strings.ReplaceAll(jsonString(k), "/", `\/`) + `"}`
			},
			want: `{"echo":"[REDACTED]","note":"fine"}{"php":"[REDACTED]"}`,
		},
		{
			name: "raw 2xx body", status: 200,
			body: func(k string) string { return "your key is " + k + ", keep it safe" },
			want: "your key is [REDACTED], keep it safe",
		},
		{
			name: "percent-encoded", status: 200,
			body: func(k string) string {
				return "https://cb.example/?key=" + url.QueryEscape(k) + "&p=/" + url.PathEscape(k)
			},
			want: "https://cb.example/?key=[REDACTED]&p=/[REDACTED]",
		},
		{
			name: "base64 alone", status: 200,
			body: func(k string) string {
				return b64([]byte(k)) + " " + base64.RawURLEncoding.EncodeToString([]byte(k))
			},
			want: "[REDACTED] [REDACTED]",
		},
		{
			name: "base64 inside longer strings", status: 200,
			body: func(k string) string {
				return "basic=" + b64([]byte("user:"+k)) + "&doc=" + base64.URLEncoding.EncodeToString([]byte(`{"api_key":"`+k+`","n":1}`)) + "&end"
			},
			wantAround: [2]string{"basic=", "&end"},
		},
	}
	for _, typ := range []Type{OpenAI, Anthropic} {
		for _, tt := range tests {
			t.Run(string(typ)+"/"+tt.name, func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if tt.header != nil {
						for k, v := range tt.header(sentKey(r)) {
							w.Header()[k] = v
						}
					}
					w.WriteHeader(tt.status)
					io.WriteString(w, tt.body(sentKey(r)))
				}))
				defer srv.Close()
				c := NewClient(Config{Name: "p", Type: typ, BaseURL: srv.URL, APIKey: redact.NewValue(echoedKey)})
				resp, err := c.Forward(context.Background(), http.MethodPost, "/v1/messages", http.Header{}, []byte(`{}`))
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				body := string(b)
				assertNoKey(t, "the body", body)
				assertNoKey(t, "the headers", headerText(resp.Header))
				switch {
				case tt.want != "" && body != tt.want:
					t.Errorf("body %q, want %q", body, tt.want)
				case tt.want == "" && (!strings.Contains(body, "[REDACTED]") || !strings.HasPrefix(body, tt.wantAround[0]) || !strings.HasSuffix(body, tt.wantAround[1])):
					t.Errorf("body %q, want [REDACTED] between %q", body, tt.wantAround)
				}
				for k, v := range tt.wantHeader {
					if got := resp.Header.Get(k); got != v {
						t.Errorf("header %s = %q, want %q", k, got, v)
					}
				}
				if resp.ContentLength != -1 || resp.Header.Get("Content-Length") != "" {
					t.Errorf("a cut body keeps its original length: %d %q", resp.ContentLength, resp.Header.Get("Content-Length"))
				}
			})
		}
	}
}

func TestClient_CutsAnEchoedKeyFromErrors(t *testing.T) {
	for _, typ := range []Type{OpenAI, Anthropic} {
		t.Run(string(typ), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				k := sentKey(r)
				w.Header().Set("X-Echo", "Basic "+base64.StdEncoding.EncodeToString([]byte("u:"+k)))
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				b, _ := json.Marshal(map[string]any{"error": map[string]string{"message": "invalid key " + k, "type": "authentication_error"}})
				w.Write(b)
			}))
			defer srv.Close()
			base := srv.URL
			if typ == OpenAI {
				base += "/v1"
			}
			c := NewClient(Config{Name: "p", Type: typ, BaseURL: base, APIKey: redact.NewValue(echoedKey)})
			for name, call := range calls {
				err := call(c)
				var pe *Error
				if !errors.As(err, &pe) || pe.Kind != KindStatus || pe.Status != http.StatusUnauthorized {
					t.Fatalf("%s: error %v, want its 401", name, err)
				}
				if pe.Message != "invalid key [REDACTED]" {
					t.Errorf("%s: message %q", name, pe.Message)
				}
				assertNoKey(t, name+" error", err.Error())
				assertNoKey(t, name+" error body", string(pe.Body))
				assertNoKey(t, name+" error headers", headerText(pe.Header))
			}
		})
	}
}

func TestClient_CutsAnEchoedKeyFromGetProbeAndTrailers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := sentKey(r)
		w.Header().Set("Trailer", "X-Echo-Trailer")
		b, _ := json.Marshal(map[string]any{"object": "list", "data": []map[string]string{{"id": k, "object": "model"}, {"id": "m2", "object": "model"}}})
		w.Write(b)
		w.Header().Set("X-Echo-Trailer", k)
	}))
	defer srv.Close()
	for _, typ := range []Type{OpenAI, Anthropic} {
		base := srv.URL
		if typ == OpenAI {
			base += "/v1"
		}
		c := NewClient(Config{Name: "p", Type: typ, BaseURL: base, APIKey: redact.NewValue(echoedKey)})
		b, err := c.Get(context.Background(), "/v1/models")
		if err != nil {
			t.Fatal(err)
		}
		assertNoKey(t, string(typ)+" Get", string(b))
		p, err := c.Probe(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Models) != 2 || p.Models[0] != "[REDACTED]" || p.Models[1] != "m2" {
			t.Errorf("%s Probe listed %q", typ, p.Models)
		}
		resp, err := c.Forward(context.Background(), http.MethodGet, "/v1/models", http.Header{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if got := resp.Trailer.Get("X-Echo-Trailer"); got != "[REDACTED]" {
			t.Errorf("%s trailer %q, want [REDACTED]", typ, got)
		}
	}
}

// stepServer streams parts, flushing each and waiting for a receive on
// next between them, so the client reads each part separately.
func stepServer(t *testing.T, parts func(key string) []string) (srv *httptest.Server, next chan struct{}) {
	next = make(chan struct{})
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i, p := range parts(sentKey(r)) {
			if i > 0 {
				select {
				case <-next:
				case <-r.Context().Done():
					return
				}
			}
			io.WriteString(w, p)
			rc.Flush()
		}
	}))
	t.Cleanup(srv.Close)
	return srv, next
}

// readN reads exactly n bytes of r, failing the test if they do not come
// within a few seconds: the reader held them back.
func readN(t *testing.T, r io.Reader, n int) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		b := make([]byte, n)
		k, _ := io.ReadFull(r, b)
		got <- string(b[:k])
	}()
	select {
	case s := <-got:
		return s
	case <-time.After(5 * time.Second):
		t.Fatalf("%d bytes were not delivered before the next write", n)
		return ""
	}
}

func TestClient_StreamsEventsWithoutWaitingForTheNext(t *testing.T) {
	tests := []struct {
		name  string
		parts func(key string) []string
		first string // what must arrive before the server sends its next part
		rest  string
	}{
		{
			name: "no key",
			parts: func(string) []string {
				return []string{"data: {\"a\":1}\n\n", "data: {\"a\":2}\n\n", "data: [DONE]\n\n"}
			},
			first: "data: {\"a\":1}\n\n", rest: "data: {\"a\":2}\n\ndata: [DONE]\n\n",
		},
		{
			name: "key split across two writes",
			parts: func(k string) []string {
				return []string{`data: {"k":"` + k[:5], k[5:] + "\"}\n\n", "data: [DONE]\n\n"}
			},
			first: `data: {"k":"`, rest: "[REDACTED]\"}\n\ndata: [DONE]\n\n",
		},
		{
			name: "json-escaped key split across two writes",
			parts: func(k string) []string {
				j := jsonString(k)
				return []string{`data: {"k":"` + j[:20], j[20:] + "\"}\n\n", "data: [DONE]\n\n"}
			},
			first: `data: {"k":"`, rest: "[REDACTED]\"}\n\ndata: [DONE]\n\n",
		},
	}
	for _, typ := range []Type{OpenAI, Anthropic} {
		for _, tt := range tests {
			t.Run(string(typ)+"/"+tt.name, func(t *testing.T) {
				srv, next := stepServer(t, tt.parts)
				c := NewClient(Config{Name: "p", Type: typ, BaseURL: srv.URL, APIKey: redact.NewValue(echoedKey)})
				resp, err := c.Forward(context.Background(), http.MethodPost, "/v1/messages", http.Header{}, []byte(`{"stream":true}`))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if got := readN(t, resp.Body, len(tt.first)); got != tt.first {
					t.Fatalf("first read %q, want %q", got, tt.first)
				}
				next <- struct{}{}
				next <- struct{}{}
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				if string(b) != tt.rest {
					t.Errorf("rest %q, want %q", b, tt.rest)
				}
				assertNoKey(t, "the stream", tt.first+string(b))
			})
		}
	}
}

func TestCutErr_HidesTheKeyAndKeepsTheChain(t *testing.T) {
	cut := redact.NewCutter(redact.Needles(echoedKey))
	inner := &url.Error{Op: "Post", URL: "http://h/v1", Err: errors.New(`malformed HTTP status code "` + echoedKey + `"`)}
	err := cutErr(cut, inner)
	assertNoKey(t, "the error", err.Error())
	var uerr *url.Error
	if !errors.As(err, &uerr) || uerr != inner {
		t.Errorf("the cut error lost its chain: %v", err)
	}
	if clean := errors.New("connection refused"); cutErr(cut, clean) != clean {
		t.Error("an error without the key was wrapped")
	}
}
