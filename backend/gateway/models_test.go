package gateway_test

import (
	"net"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The model list names what a client can ask for: the exact pattern of each
// enabled route (aliases included), owned by its backend. Xcode asks for
// /v1/models? with an empty query, which must be the same request.
func TestModels_ListExactRoutesAndAnswerXcode(t *testing.T) {
	h := newHarness(t)
	up := newFake(t, okChat("hi"))
	h.putProvider("openai", up.baseURL(), "")
	h.route("gpt-*", "openai")
	h.addRoute(map[string]any{"model_pattern": "fast", "backend": "openai", "backend_model": "gpt-4o-mini"})
	h.addRoute(map[string]any{"model_pattern": "off", "backend": "openai", "enabled": false})
	h.route("mlx-community/Qwen3-4B-4bit", "local")

	// A raw request line keeps the bare "?" that Xcode sends.
	conn, err := net.Dial("tcp", h.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("GET /v1/models? HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
	buf := make([]byte, 4096)
	n, _ := conn.Read(buf)
	if got := string(buf[:n]); len(got) < 12 || got[9:12] != "200" {
		t.Fatalf("GET /v1/models? answered %q", got)
	}

	resp, b := h.do(h.request(http.MethodGet, "/v1/models", nil))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var list struct {
		Object string
		Data   []struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			OwnedBy string `json:"owned_by"`
		}
	}
	decode(t, b, &list)
	type model struct{ ID, OwnedBy string }
	var got []model
	for _, m := range list.Data {
		if m.Object != "model" {
			t.Errorf("object %q", m.Object)
		}
		got = append(got, model{m.ID, m.OwnedBy})
	}
	want := []model{{"fast", "openai"}, {"mlx-community/Qwen3-4B-4bit", "local"}}
	if list.Object != "list" || !cmp.Equal(want, got) {
		t.Errorf("models: object %q (-want +got):\n%s", list.Object, cmp.Diff(want, got))
	}
	// A name only a wildcard route takes is still a model one can retrieve.
	resp, b = h.do(h.request(http.MethodGet, "/v1/models/gpt-4o", nil))
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v1/models/gpt-4o: %d %s", resp.StatusCode, b)
	}
	resp, _ = h.do(h.request(http.MethodGet, "/v1/models/mlx-community/Qwen3-4B-4bit", nil))
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET of a model id with a slash: %d", resp.StatusCode)
	}
}
