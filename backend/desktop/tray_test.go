package desktop

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/server"
	"github.com/modelbar/modelbar/backend/tray"
)

// shell records what the tray asks of the app.
type shell struct {
	mu     sync.Mutex
	copied []string
}

func (s *shell) ShowWindow()          {}
func (s *shell) ShowScreen(string)    {}
func (s *shell) OpenURL(string) error { return nil }
func (s *shell) Quit()                {}
func (s *shell) CopyText(text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.copied = append(s.copied, text)
	return nil
}

// The tray as the desktop app wires it (the gateway's admin API and change
// feed), over a real server: a change made through the admin API shows in
// the menu within a second, without polling; a provider that answers 429
// shows as cooling down with its reason, and its Retry item ends the
// cooldown; Copy Claude Code setup copies the server's own snippet.
func TestTray_OverTheGateway(t *testing.T) {
	t.Setenv("MODELBAR_BACKEND", "cpu")
	t.Setenv("MODELBAR_SECRETS", "file")
	g := NewGateway()
	t.Cleanup(func() { g.Shutdown(context.Background()) })
	sh := &shell{}
	c := tray.NewController(g.CallAdmin, sh, nil)
	ctx, cancel := context.WithCancel(context.Background())
	draws := make(chan tray.View, 100)
	done := make(chan struct{})
	go func() {
		// A slow timer of an hour: only the feed and actions refresh.
		c.Run(ctx, g, tray.Timing{Debounce: 50 * time.Millisecond, Slow: time.Hour}, func(v tray.View) { draws <- v })
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
	if err := g.Start(context.Background(), server.Options{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	admin := func(method, path, body string) string {
		t.Helper()
		code, resp := g.CallAdmin(context.Background(), method, path, []byte(body))
		if code >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, code, resp)
		}
		return string(resp)
	}
	// until waits for a drawn menu holding an item whose title starts with
	// prefix, and returns it and the menu.
	until := func(what, prefix string, within time.Duration) (tray.Item, []tray.Item) {
		t.Helper()
		deadline := time.After(within)
		var last []string
		for {
			select {
			case v := <-draws:
				if it, ok := titled(v.Menu, prefix); ok {
					return it, v.Menu
				}
				last = last[:0]
				for _, it := range v.Menu {
					last = append(last, it.Title)
				}
			case <-deadline:
				t.Fatalf("%s: no menu item %q within %v; the last menu drawn: %q", what, prefix, within, last)
			}
		}
	}
	until("start", "No requests yet", 10*time.Second)

	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120") // longer than the backoff cap: believed at once
		http.Error(w, `{"error":{"message":"slow down","type":"rate_limit_error"}}`, http.StatusTooManyRequests)
	}))
	t.Cleanup(up.Close)
	admin("PUT", "/api/providers/acme", `{"type":"openai","base_url":"`+up.URL+`/v1","api_key":"sk-test"}`)
	start := time.Now()
	admin("POST", "/api/routes", `{"model_pattern":"m","backend":"acme"}`)
	until("a route added through the admin API", "Routes (1)", time.Second)
	t.Logf("route shown %v after it was added", time.Since(start).Round(time.Millisecond))

	resp, err := http.Post("http://"+g.Addr()+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	line, menu := until("a 429", "m at acme: rate limited (429) until ", 5*time.Second)
	if !strings.Contains(line.Tooltip, "HTTP 429") {
		t.Errorf("cooldown line's tooltip %q, want the gateway's reason", line.Tooltip)
	}
	retry, ok := titled(menu, "Retry m at acme now")
	if !ok {
		t.Fatal("no Retry item beside the cooldown")
	}
	c.Do(context.Background(), retry.Action)
	if got := admin("GET", "/api/cooldowns", ""); strings.TrimSpace(got) != "[]" {
		t.Errorf("cooldowns after Retry now: %s", got)
	}
	for gone := false; !gone; {
		select {
		case v := <-draws:
			_, still := titled(v.Menu, "Retry m at acme now")
			gone = !still
		case <-time.After(5 * time.Second):
			t.Fatal("the cooldown still shows 5 s after Retry now")
		}
	}

	c.Do(context.Background(), tray.Action{Kind: tray.CopyClaudeCode})
	sh.mu.Lock()
	copied := strings.Join(sh.copied, "")
	sh.mu.Unlock()
	if !strings.Contains(copied, "export ANTHROPIC_BASE_URL=http://"+g.Addr()+"\n") || !strings.Contains(copied, "claude\n") {
		t.Errorf("copied Claude Code setup:\n%s", copied)
	}
}

func titled(items []tray.Item, prefix string) (tray.Item, bool) {
	for _, it := range items {
		if strings.HasPrefix(it.Title, prefix) {
			return it, true
		}
		if c, ok := titled(it.Children, prefix); ok {
			return c, true
		}
	}
	return tray.Item{}, false
}
