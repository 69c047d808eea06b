package server

import (
	"bufio"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/auth"
)

// An open change feed (a browser on /ui/) does not hold a graceful
// shutdown until its deadline: the stream ends when shutdown begins.
func TestShutdown_EndsEventStreams(t *testing.T) {
	t.Setenv("MODELBAR_SECRETS", "file")
	dir := t.TempDir()
	s, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", DataDir: dir, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	token, err := auth.ReadToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr()+"/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if line, _ := bufio.NewReader(resp.Body).ReadString('\n'); !strings.HasPrefix(line, "event: hello") {
		t.Fatalf("first line %q, want the hello event", line)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with an open event stream: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %s with an open event stream", d)
	}
}
