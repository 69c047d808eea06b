package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/auth"
	"github.com/modelbar/modelbar/backend/config"
	"github.com/modelbar/modelbar/backend/reqlog"
)

func getBody(t *testing.T, s *Server, token, path string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr()+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}

func startTestServer(t *testing.T, dir string) *Server {
	t.Helper()
	s, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", DataDir: dir, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The request log is in the database: what /api/requests showed before a
// restart it shows after, and /metrics counted the request.
func TestRequestLog_SurvivesRestart(t *testing.T) {
	t.Setenv("MODELBAR_SECRETS", "file")
	t.Setenv("HF_HOME", t.TempDir())
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}`)
	}))
	defer upstream.Close()
	dir := t.TempDir()
	s := startTestServer(t, dir)
	token, err := auth.ReadToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	admin(t, s, token, "PUT", "/api/providers/up", `{"type":"openai","base_url":"`+upstream.URL+`/v1"}`)
	admin(t, s, token, "POST", "/api/routes", `{"model_pattern":"m","backend":"up"}`)
	resp, err := http.Post("http://"+s.Addr()+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"a secret prompt"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}

	// The entry is written as the handler returns, just after the client
	// has the answer; wait for it rather than race it.
	var before []reqlog.Entry
	for deadline := time.Now().Add(5 * time.Second); len(before) == 0 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		json.Unmarshal(getBody(t, s, token, "/api/requests"), &before)
	}
	if len(before) != 1 || before[0].Route != "m" || before[0].Backend != "up" || before[0].Status != 200 {
		t.Fatalf("before restart: %+v", before)
	}
	if m := string(getBody(t, s, "", "/metrics")); !strings.Contains(m, `modelbar_requests_total{protocol="openai",backend="up",code="200"} 1`) {
		t.Errorf("/metrics does not count the request:\n%s", m)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	s = startTestServer(t, dir)
	defer s.Shutdown(context.Background())
	var after []reqlog.Entry
	body := getBody(t, s, token, "/api/requests")
	if err := json.Unmarshal(body, &after); err != nil {
		t.Fatal(err)
	}
	if len(after) != 1 || !after[0].Time.Equal(before[0].Time) || after[0].ID != before[0].ID || after[0].Route != "m" {
		t.Errorf("after restart %+v, want %+v", after, before)
	}
	if strings.Contains(string(body), "secret prompt") {
		t.Errorf("the request log holds the prompt: %s", body)
	}
}

func TestRetention_FromSettings(t *testing.T) {
	tests := []struct {
		days int64
		want time.Duration
	}{
		{0, 0}, // reqlog's default
		{1, 24 * time.Hour},
		{90, 90 * 24 * time.Hour},
	}
	for _, tt := range tests {
		if got := retention(config.Settings{RequestLogRetentionDays: tt.days}); got != tt.want {
			t.Errorf("retention(%d days) = %v, want %v", tt.days, got, tt.want)
		}
	}
}

// Changing the setting reaches the running log.
func TestRetention_SettingAppliesAtOnce(t *testing.T) {
	t.Setenv("MODELBAR_SECRETS", "file")
	t.Setenv("HF_HOME", t.TempDir())
	dir := t.TempDir()
	s := startTestServer(t, dir)
	defer s.Shutdown(context.Background())
	if got := s.requests.Retention(); got != reqlog.DefaultRetention {
		t.Errorf("retention at start %v, want the default", got)
	}
	token, err := auth.ReadToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	admin(t, s, token, "PUT", "/api/settings", `{"request_log_retention_days":7}`)
	if got := s.requests.Retention(); got != 7*24*time.Hour {
		t.Errorf("retention after the change %v, want 7 days", got)
	}
}
