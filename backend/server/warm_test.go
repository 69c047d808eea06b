package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/auth"
)

// At start the server fetches the model lists of the providers its listed
// routes send to, so an editor's first GET /v1/models already has them.
func TestStart_WarmsTheModelList(t *testing.T) {
	t.Setenv("MODELBAR_SECRETS", "file")
	t.Setenv("HF_HOME", t.TempDir())
	listed := make(chan struct{}, 8)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/v1/models" {
			listed <- struct{}{}
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"object":"list","data":[{"id":"gpt-warm","object":"model","created":1,"owned_by":"x"}]}`)
	}))
	defer upstream.Close()
	dir := t.TempDir()
	s := startTestServer(t, dir)
	token, err := auth.ReadToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	admin(t, s, token, "PUT", "/api/providers/up", `{"type":"openai","base_url":"`+upstream.URL+`/v1"}`)
	admin(t, s, token, "POST", "/api/routes", `{"model_pattern":"gpt-*","backend":"up"}`)
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for len(listed) > 0 {
		<-listed
	}

	s = startTestServer(t, dir)
	defer s.Shutdown(context.Background())
	select {
	case <-listed: // fetched with no client asking
	case <-time.After(time.Minute): // a liveness bound, not a speed limit
		t.Fatal("the provider's model list was not fetched at start")
	}
}
