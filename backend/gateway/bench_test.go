package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
)

// BenchmarkPassThrough measures one non-streaming chat request through the
// gateway to a fake provider on loopback, next to the same request sent
// directly and through httputil.ReverseProxy (the null proxy), so the
// gateway's own cost reads as the difference, measured in the same run.
func BenchmarkPassThrough(b *testing.B) {
	up := httptest.NewServer(okChat("hi"))
	defer up.Close()
	target, _ := url.Parse(up.URL)
	null := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
	defer null.Close()
	h := newHarness(b)
	h.putProvider("p", up.URL+"/v1", "")
	h.route("m", "p")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for _, c := range []struct{ name, base string }{{"direct", up.URL}, {"null_proxy", null.URL}, {"modelbar", h.srv.URL}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				resp, err := client.Post(c.base+"/v1/chat/completions", "application/json", strings.NewReader(chatBody))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
