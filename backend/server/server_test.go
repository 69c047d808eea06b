package server

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/auth"
	"github.com/modelbar/modelbar/backend/config"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/store"
)

func admin(t *testing.T, s *Server, token, method, path, body string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+s.Addr()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
}

// TestShutdown_LetsInFlightStreamsFinish starts the whole server, begins a
// stream, shuts down while it runs, and checks the client still gets the
// complete stream and the database closes cleanly.
func TestShutdown_LetsInFlightStreamsFinish(t *testing.T) {
	t.Setenv("MODELBAR_SECRETS", "file")
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"one\"}}]}\n\n")
		w.(http.Flusher).Flush()
		<-release
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"two\"}}]}\n\ndata: [DONE]\n\n")
	}))
	defer upstream.Close()

	dir := t.TempDir()
	ctx := context.Background()
	s, err := Start(ctx, Options{Addr: "127.0.0.1:0", DataDir: dir, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	token, err := auth.ReadToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	admin(t, s, token, "PUT", "/api/providers/up", `{"type":"openai","base_url":"`+upstream.URL+`/v1"}`)
	admin(t, s, token, "POST", "/api/routes", `{"model_pattern":"m","backend":"up"}`)

	resp, err := http.Post("http://"+s.Addr()+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	if line, _ := rd.ReadString('\n'); !strings.Contains(line, "one") {
		t.Fatalf("first event: %q", line)
	}
	shutdown := make(chan error, 1)
	go func() {
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		shutdown <- s.Shutdown(sctx)
	}()
	// New connections are refused once shutdown has begun.
	for i := 0; ; i++ {
		if _, err := http.Get("http://" + s.Addr() + "/healthz"); err != nil {
			break
		}
		if i > 200 {
			t.Fatal("server still accepts new connections during shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	rest, err := io.ReadAll(rd)
	if err != nil || !strings.Contains(string(rest), "two") || !strings.Contains(string(rest), "[DONE]") {
		t.Errorf("stream cut by shutdown: %q %v", rest, err)
	}
	if err := <-shutdown; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	// The database was closed cleanly: it reopens with its data.
	st, err := store.Open(ctx, filepath.Join(dir, "modelbar.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if routes, err := st.ListRoutes(ctx); err != nil || len(routes) != 1 {
		t.Errorf("routes after restart: %v %v", routes, err)
	}
}

func TestStart_RefusesANewerDatabase(t *testing.T) {
	t.Setenv("MODELBAR_SECRETS", "file")
	dir := t.TempDir()
	s, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", DataDir: dir, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s.Shutdown(context.Background())
	// Pretend a newer modelbar migrated the file.
	setUserVersion(t, filepath.Join(dir, "modelbar.db"), 999)
	_, err = Start(context.Background(), Options{Addr: "127.0.0.1:0", DataDir: dir, Log: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "newer than this modelbar supports") {
		t.Fatalf("start on a newer schema: %v", err)
	}
}

func setUserVersion(t *testing.T, path string, v int) {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
		t.Fatal(err)
	}
}

func TestLimits_FromSettings(t *testing.T) {
	tests := []struct {
		in         config.Settings
		wantBudget int64
		wantTTL    time.Duration
	}{
		{config.Settings{}, 8 << 30, 30 * time.Minute},
		{config.Settings{MemoryBudgetMB: 2048, IdleTTLMinutes: 5}, 2 << 30, 5 * time.Minute},
		{config.Settings{IdleTTLMinutes: -1}, 8 << 30, 0},
	}
	for _, tt := range tests {
		b, ttl := limits(tt.in, 8<<30)
		if b != tt.wantBudget || ttl != tt.wantTTL {
			t.Errorf("limits(%+v) = %d, %v; want %d, %v", tt.in, b, ttl, tt.wantBudget, tt.wantTTL)
		}
	}
}

// `modelbar serve` answers with a local model found in its data dir,
// through both APIs.
func TestStart_ServesLocalModels(t *testing.T) {
	t.Setenv("MODELBAR_SECRETS", "file")
	t.Setenv("HF_HOME", t.TempDir())
	dir := t.TempDir()
	if err := testmodel.Write(filepath.Join(dir, "models", "test", "tiny"), testmodel.Spec{Seed: 3}); err != nil {
		t.Fatal(err)
	}
	s, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", DataDir: dir, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	for path, body := range map[string]string{
		"/v1/chat/completions": `{"model":"test/tiny","max_tokens":4,"messages":[{"role":"user","content":"hi"}]}`,
		"/v1/messages":         `{"model":"test/tiny","max_tokens":4,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
	} {
		resp, err := http.Post("http://"+s.Addr()+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Modelbar-Backend") != "local" {
			t.Errorf("%s: %d %s", path, resp.StatusCode, b)
		}
	}
}

// The desktop window calls the admin API in process: same handler, same
// answers as over HTTP, only /api paths.
func TestCallAdmin(t *testing.T) {
	srv, err := Start(t.Context(), Options{Addr: "127.0.0.1:0", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	status, body := srv.CallAdmin(t.Context(), http.MethodPut, "/api/providers/p", []byte(`{"type":"openai","base_url":"http://127.0.0.1:1/v1"}`))
	if status != http.StatusCreated || !strings.Contains(string(body), `"name":"p"`) {
		t.Errorf("PUT provider: %d %s", status, body)
	}
	status, body = srv.CallAdmin(t.Context(), http.MethodGet, "/api/providers", nil)
	if status != http.StatusOK || !strings.Contains(string(body), `"name":"p"`) {
		t.Errorf("GET providers: %d %s", status, body)
	}
	status, body = srv.CallAdmin(t.Context(), http.MethodPost, "/api/routes", []byte(`{"model_pattern":"["}`))
	if status != http.StatusBadRequest || !strings.Contains(string(body), "model_pattern") {
		t.Errorf("bad route: %d %s, want 400 naming the field", status, body)
	}
	if status, _ := srv.CallAdmin(t.Context(), http.MethodPost, "/v1/chat/completions", nil); status != http.StatusBadRequest {
		t.Errorf("a /v1 path through CallAdmin: %d, want 400", status)
	}
}

// The desktop window's in-process calls need no token, so rotating it
// (through HTTP, as `modelbar rotate-token` does) never locks the window
// out; the old token stops working over HTTP at once.
func TestCallAdmin_WorksAfterRotation(t *testing.T) {
	dir := t.TempDir()
	srv, err := Start(t.Context(), Options{Addr: "127.0.0.1:0", DataDir: dir, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	old, err := auth.ReadToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	httpStatus := func(method, path, token string) int {
		req, _ := http.NewRequest(method, "http://"+srv.Addr()+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := httpStatus("POST", "/api/admin-token/rotate", old); got != http.StatusOK {
		t.Fatalf("rotate: %d", got)
	}
	if got := httpStatus("GET", "/api/status", old); got != http.StatusUnauthorized {
		t.Errorf("old token: %d, want 401", got)
	}
	cases := []struct {
		method, path string
		want         int
		body         string
	}{
		{"GET", "/api/status", http.StatusOK, `"addr"`},
		{"POST", "/api/login-link", http.StatusCreated, `"url":"http://` + srv.Addr() + `/ui/login?code=`},
		{"GET", "/api/sessions", http.StatusOK, `[]`},
		{"POST", "/api/admin-token/rotate", http.StatusOK, `"rotated":true`},
		{"GET", "/api/routes", http.StatusOK, `[]`},
	}
	for _, c := range cases {
		status, body := srv.CallAdmin(t.Context(), c.method, c.path, nil)
		if status != c.want || !strings.Contains(string(body), c.body) {
			t.Errorf("CallAdmin %s %s after rotation: %d %s", c.method, c.path, status, body)
		}
	}
	now, _ := auth.ReadToken(dir)
	if got := httpStatus("GET", "/api/status", now); now == old || got != http.StatusOK {
		t.Errorf("the token in the file after rotating twice: %d", got)
	}
}
