package desktop

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/server"
)

func TestGateway_CallAdminWaitsForStart(t *testing.T) {
	t.Setenv("MODELBAR_BACKEND", "cpu")
	t.Setenv("MODELBAR_SECRETS", "file")
	g := NewGateway()
	got := make(chan int, 1)
	go func() {
		code, _ := g.CallAdmin(context.Background(), "GET", "/api/routes", nil)
		got <- code
	}()
	select {
	case code := <-got:
		t.Fatalf("CallAdmin answered %d before Start", code)
	case <-time.After(50 * time.Millisecond):
	}
	if err := g.Start(context.Background(), server.Options{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	if code := <-got; code != 200 {
		t.Errorf("GET /api/routes: %d", code)
	}
	if !strings.HasPrefix(g.Addr(), "127.0.0.1:") {
		t.Errorf("Addr %q", g.Addr())
	}
	if err := g.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestGateway_FailedStartAnswers503(t *testing.T) {
	t.Setenv("MODELBAR_BACKEND", "cpu")
	t.Setenv("MODELBAR_SECRETS", "file")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	g := NewGateway()
	err = g.Start(context.Background(), server.Options{Addr: ln.Addr().String(), DataDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("Start on a busy address: %v", err)
	}
	code, body := g.CallAdmin(context.Background(), "GET", "/api/status", nil)
	if code != 503 || !strings.Contains(string(body), "in use") {
		t.Errorf("CallAdmin after a failed start: %d %s", code, body)
	}
	if err := g.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after a failed start: %v", err)
	}
}

func TestGateway_ShutdownBeforeStart(t *testing.T) {
	g := NewGateway()
	if err := g.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background(), server.Options{DataDir: t.TempDir()}); err != ErrClosed {
		t.Errorf("Start after Shutdown: %v, want ErrClosed", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if code, _ := NewGateway().CallAdmin(ctx, "GET", "/api/status", nil); code != 503 {
		t.Errorf("CallAdmin with an ended context before Start: %d", code)
	}
}
