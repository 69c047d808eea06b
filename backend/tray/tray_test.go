package tray

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func TestTracker_State(t *testing.T) {
	ago := func(d time.Duration) time.Time { return t0.Add(-d) }
	loaded := Snapshot{Models: []Model{{ID: "qwen", Loaded: true}}}
	cases := []struct {
		name string
		reqs []Request
		snap Snapshot
		want State
	}{
		{"nothing", nil, Snapshot{}, Idle},
		{"model loaded, no traffic", nil, loaded, Local},
		{"local request", []Request{{ID: 1, Time: ago(5 * time.Second), Backend: "local", Status: 200}}, Snapshot{}, Local},
		{"cloud request", []Request{{ID: 1, Time: ago(5 * time.Second), Backend: "openai", Status: 200}}, loaded, Cloud},
		{"newest wins", []Request{
			{ID: 2, Time: ago(2 * time.Second), Backend: "local", Status: 200},
			{ID: 1, Time: ago(9 * time.Second), Backend: "openai", Status: 200},
		}, Snapshot{}, Local},
		{"cloud long ago", []Request{{ID: 1, Time: ago(2 * time.Minute), Backend: "openai", Status: 200}}, Snapshot{}, Idle},
		{"cloud long ago, model loaded", []Request{{ID: 1, Time: ago(2 * time.Minute), Backend: "openai", Status: 200}}, loaded, Local},
		{"modelbar answered itself", []Request{{ID: 1, Time: ago(time.Second), Backend: "none", Status: 400}}, Snapshot{}, Idle},
		{"failover", []Request{{ID: 1, Time: ago(30 * time.Second), Backend: "groq", FallbackFrom: []string{"openai"}, Status: 200}}, Snapshot{}, Failover},
		{"failover expired", []Request{{ID: 1, Time: ago(61 * time.Second), Backend: "groq", FallbackFrom: []string{"openai"}, Status: 200}}, Snapshot{}, Idle},
		{"5xx", []Request{{ID: 1, Time: ago(10 * time.Second), Backend: "openai", Status: 502}}, Snapshot{}, Error},
		{"5xx beats failover", []Request{
			{ID: 2, Time: ago(3 * time.Second), Backend: "groq", FallbackFrom: []string{"openai"}, Status: 200},
			{ID: 1, Time: ago(10 * time.Second), Backend: "openai", Status: 503},
		}, Snapshot{}, Error},
		{"4xx is not an error", []Request{{ID: 1, Time: ago(time.Second), Backend: "openai", Status: 429}}, Snapshot{}, Cloud},
		{"cooldown", nil, Snapshot{Cooldowns: []Cooldown{{Provider: "openai", Scope: "provider", State: "cooldown"}}}, Error},
		// Entries are stamped with their start: what counts is when they ended.
		{"5xx after a 2-minute wait, just ended", []Request{{ID: 1, Time: ago(120 * time.Second), DurationMS: 119_000, Backend: "openai", Status: 504}}, Snapshot{}, Error},
		{"failover on a 90 s stream, just ended", []Request{{ID: 1, Time: ago(90 * time.Second), DurationMS: 89_000, Backend: "groq", FallbackFrom: []string{"openai"}, Status: 200}}, Snapshot{}, Failover},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tr Tracker
			tr.Observe(c.reqs)
			if got := tr.State(t0, c.snap); got != c.want {
				t.Errorf("State = %s, want %s", got, c.want)
			}
		})
	}
}

func TestTracker_ObserveAcrossPolls(t *testing.T) {
	var tr Tracker
	tr.Observe([]Request{{ID: 7, Time: t0, Backend: "openai", Status: 500}})
	tr.Observe([]Request{{ID: 9, Time: t0.Add(time.Second), Backend: "local", Status: 200}, {ID: 8, Time: t0, Backend: "local", Status: 200}})
	if tr.After != 9 {
		t.Errorf("After = %d, want 9", tr.After)
	}
	if got := tr.State(t0.Add(30*time.Second), Snapshot{}); got != Error {
		t.Errorf("30 s after a 5xx: %s, want error", got)
	}
	if got := tr.State(t0.Add(61*time.Second), Snapshot{}); got != Idle {
		t.Errorf("61 s after: %s, want idle", got)
	}
	if got := tr.State(t0.Add(60*time.Second), Snapshot{}); got != Local {
		t.Errorf("60 s after the 5xx, 59 s after a local request: %s, want local", got)
	}
}

func TestIcons_PNGPerStateTemplateMonochrome(t *testing.T) {
	seen := map[string]State{}
	for st := Idle; st <= Error; st++ {
		for kind, b := range map[string][]byte{"template": Icons[st].Template, "color": Icons[st].Color} {
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s %s: %v", st, kind, err)
			}
			if img.Bounds().Dx() != IconSize || img.Bounds().Dy() != IconSize {
				t.Errorf("%s %s: size %v", st, kind, img.Bounds())
			}
			inked := 0
			for y := 0; y < IconSize; y++ {
				for x := 0; x < IconSize; x++ {
					r, g, b, a := img.At(x, y).RGBA()
					if a > 0 {
						inked++
					}
					if kind == "template" && (r != 0 || g != 0 || b != 0) {
						t.Fatalf("%s template: pixel (%d,%d) is not black", st, x, y)
					}
				}
			}
			if inked < 50 {
				t.Errorf("%s %s: only %d pixels drawn", st, kind, inked)
			}
			if other, dup := seen[string(b)]; dup {
				t.Errorf("%s %s looks the same as %s", st, kind, other)
			}
			seen[string(b)] = st
		}
	}
}

// fakeAdmin answers admin API calls from canned JSON and records the
// others.
type fakeAdmin struct {
	mu    sync.Mutex
	get   map[string]string // path (without query) -> body
	post  map[string]string // "METHOD path" of a non-GET call -> "status body" answered; default "200 {}"
	calls []string          // "METHOD path body" of non-GET calls
	fail  int               // status for every call, if set
}

func (f *fakeAdmin) call(_ context.Context, method, path string, body []byte) (int, []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != 0 {
		return f.fail, []byte(`{"error":{"message":"boom","type":"api_error"}}`)
	}
	if method != "GET" {
		f.calls = append(f.calls, method+" "+path+" "+string(body))
		if a, ok := f.post[method+" "+path]; ok {
			status, body, _ := strings.Cut(a, " ")
			n, _ := strconv.Atoi(status)
			return n, []byte(body)
		}
		return 200, []byte(`{}`)
	}
	p, _, _ := strings.Cut(path, "?")
	if b, ok := f.get[p]; ok {
		return 200, []byte(b)
	}
	return 404, []byte(`{"error":{"message":"no such path"}}`)
}

// The JSON the admin API answers (trimmed to a few fields each).
const (
	statusJSON = `{"version":"dev","addr":"127.0.0.1:11500","providers":2,"routes":2,
		"local":{"available":true,"backend":"cpu","backend_reason":"libmlxc not found","models":[]},
		"backends":[{"backend":"groq","state":"failing","consecutive_failures":1}]}`
	modelsJSON = `[
		{"id":"mlx-community/Qwen3-0.6B-4bit","source":"hf-cache","size_bytes":351000000,"usable":true,"loaded":true,"loading":false,"memory_bytes":1234567890},
		{"id":"llama-3.2-1b","source":"models","size_bytes":712000000,"usable":true,"loaded":false},
		{"id":"gemma-2b","source":"models","size_bytes":5,"usable":false,"reason":"architecture gemma is not supported","loaded":false}]`
	routesJSON = `[
		{"id":3,"model_pattern":"gpt-*","backend":"openai","backend_model":"","fallbacks":["groq"],"priority":0,"enabled":true},
		{"id":5,"model_pattern":"claude-*","backend":"anthropic","backend_model":"","fallbacks":[],"priority":0,"enabled":false}]`
	requestsJSON = `[{"id":12,"time":"2026-11-21T11:59:50Z","backend":"groq","fallback_from":["openai"],"status":200}]`
)

func newFake() *fakeAdmin {
	return &fakeAdmin{get: map[string]string{
		"/api/status": statusJSON, "/api/models": modelsJSON, "/api/routes": routesJSON, "/api/requests": requestsJSON,
	}}
}

func TestBuildView_FromAdminJSON(t *testing.T) {
	c := NewController(newFake().call, nil, nil)
	c.now = func() time.Time { return t0 }
	v, changed := c.Refresh(context.Background())
	if !changed {
		t.Error("first refresh: changed = false")
	}
	want := View{State: Failover, Tooltip: "modelbar: Failed over in the last minute", Menu: []Item{
		{ID: "addr", Title: "modelbar on 127.0.0.1:11500", Disabled: true},
		{ID: "status", Title: "Failed over in the last minute", Disabled: true},
		{ID: "sep1", Separator: true},
		{ID: "loaded", Title: "Loaded local models", Disabled: true},
		{ID: "model:mlx-community/Qwen3-0.6B-4bit", Title: "mlx-community/Qwen3-0.6B-4bit — 1.2 GB", Checkbox: true, Checked: true,
			Tooltip: "Click to unload", Action: Action{Kind: API, Method: "POST", Path: "/api/models/unload", Body: `{"model":"mlx-community/Qwen3-0.6B-4bit"}`}},
		{ID: "models", Title: "Load a local model", Children: []Item{
			{ID: "load:llama-3.2-1b", Title: "llama-3.2-1b (712 MB)", Tooltip: "Click to load",
				Action: Action{Kind: API, Method: "POST", Path: "/api/models/load", Body: `{"model":"llama-3.2-1b"}`}},
			{ID: "load:gemma-2b", Title: "gemma-2b (unusable)", Tooltip: "architecture gemma is not supported", Disabled: true},
		}},
		{ID: "sep2", Separator: true},
		{ID: "routes", Title: "Routes (2)", Children: []Item{
			{ID: "route:3", Title: "gpt-* → openai", Checkbox: true, Checked: true,
				Action: Action{Kind: API, Method: "PUT", Path: "/api/routes/3", Body: `{"enabled":false}`}},
			{ID: "route:5", Title: "claude-* → anthropic", Checkbox: true,
				Action: Action{Kind: API, Method: "PUT", Path: "/api/routes/5", Body: `{"enabled":true}`}},
		}},
		{ID: "sep3", Separator: true},
		{ID: "open", Title: "Open modelbar", Action: Action{Kind: OpenWindow}},
		{ID: "browser", Title: "Open in browser", Tooltip: "The same UI in your browser, signed in by a one-time link", Action: Action{Kind: OpenBrowser}},
		{ID: "copy", Title: "Copy OpenAI base URL", Tooltip: "http://127.0.0.1:11500/v1", Action: Action{Kind: CopyBaseURL}},
		{ID: "login", Title: "Launch at login", Checkbox: true, Disabled: true, Action: Action{Kind: ToggleLogin}},
		{ID: "sep4", Separator: true},
		{ID: "quit", Title: "Quit modelbar", Action: Action{Kind: Quit}},
	}}
	if d := cmp.Diff(want, v); d != "" {
		t.Errorf("view (-want +got):\n%s", d)
	}
	if _, changed := c.Refresh(context.Background()); changed {
		t.Error("second refresh with the same data: changed = true")
	}
}

func TestBuildView_EmptyGateway(t *testing.T) {
	v := BuildView(Snapshot{Addr: "127.0.0.1:1"}, Idle, "Idle", Extras{LaunchAtLogin: true})
	titles := map[string]string{}
	for _, it := range v.Menu {
		titles[it.ID] = it.Title
		if it.ID == "login" && !it.Checked {
			t.Error("launch at login not checked")
		}
	}
	for id, want := range map[string]string{"loaded": "No local model loaded", "models": "No other local models found", "routes": "No routes yet"} {
		if titles[id] != want {
			t.Errorf("%s: %q, want %q", id, titles[id], want)
		}
	}
}

func TestBuildView_LoadingModelNotClickable(t *testing.T) {
	v := BuildView(Snapshot{Models: []Model{{ID: "m", Loading: true, Usable: true}}}, Local, "", Extras{})
	it := v.Menu[4]
	if it.ID != "model:m" || !it.Disabled || it.Action.Kind != None || !strings.Contains(it.Title, "loading") {
		t.Errorf("loading model item: %+v", it)
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 351000000: "351 MB", 1234567890: "1.2 GB", 12_345_000_000: "12.3 GB", 2_000_000_000_000: "2.0 TB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

type fakeShell struct {
	mu      sync.Mutex
	shown   int
	copied  string
	opened  []string
	openErr error
	quit    int
}

func (s *fakeShell) OpenURL(u string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opened = append(s.opened, u)
	return s.openErr
}

func (s *fakeShell) ShowWindow() { s.mu.Lock(); s.shown++; s.mu.Unlock() }
func (s *fakeShell) CopyText(t string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.copied = t
	return nil
}
func (s *fakeShell) Quit() { s.mu.Lock(); s.quit++; s.mu.Unlock() }

type fakeLogin struct{ on, fail bool }

func (l *fakeLogin) Enabled() bool { return l.on }
func (l *fakeLogin) SetEnabled(on bool) error {
	if l.fail {
		return errors.New("read-only file system")
	}
	l.on = on
	return nil
}

func TestController_DoActions(t *testing.T) {
	ctx := context.Background()
	admin, shell, login := newFake(), &fakeShell{}, &fakeLogin{}
	c := NewController(admin.call, shell, login)
	c.now = func() time.Time { return t0 }
	v, _ := c.Refresh(ctx)
	byID := map[string]Item{}
	var walk func([]Item)
	walk = func(items []Item) {
		for _, it := range items {
			byID[it.ID] = it
			walk(it.Children)
		}
	}
	walk(v.Menu)
	for _, id := range []string{"route:3", "load:llama-3.2-1b", "model:mlx-community/Qwen3-0.6B-4bit", "open", "copy", "login", "quit"} {
		c.Do(ctx, byID[id].Action)
	}
	wantCalls := []string{
		`PUT /api/routes/3 {"enabled":false}`,
		`POST /api/models/load {"model":"llama-3.2-1b"}`,
		`POST /api/models/unload {"model":"mlx-community/Qwen3-0.6B-4bit"}`,
	}
	if d := cmp.Diff(wantCalls, admin.calls); d != "" {
		t.Errorf("admin calls (-want +got):\n%s", d)
	}
	if shell.shown != 1 || shell.copied != "http://127.0.0.1:11500/v1" || shell.quit != 1 || !login.on {
		t.Errorf("shell %+v, login %v", shell, login.on)
	}
	if v, _ := c.Refresh(ctx); !findItem(v.Menu, "login").Checked {
		t.Error("launch at login not checked after the toggle")
	}
}

// "Open in browser" asks the admin API for a login link and hands it to the
// shell; a failure on the way shows in the menu.
func TestController_OpenInBrowser(t *testing.T) {
	const link = "http://127.0.0.1:11500/ui/login?code=ABC"
	cases := []struct {
		name    string
		answer  string // POST /api/login-link's "status body"
		openErr error
		opened  []string
		menuErr string
	}{
		{"opens the link", `201 {"url":"` + link + `","expires_at":"2026-11-21T12:01:00Z"}`, nil, []string{link}, ""},
		{"no browser", `201 {"url":"` + link + `"}`, errors.New("no browser"), []string{link}, "no browser"},
		{"admin API refuses", `500 {"error":{"message":"disk full","type":"server_error"}}`, nil, nil, "disk full"},
		{"answer without a url", `201 {}`, nil, nil, "no url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			admin, shell := newFake(), &fakeShell{openErr: tc.openErr}
			admin.post = map[string]string{"POST /api/login-link": tc.answer}
			c := NewController(admin.call, shell, nil)
			c.now = func() time.Time { return t0 }
			v, _ := c.Refresh(ctx)
			c.Do(ctx, findItem(v.Menu, "browser").Action)
			if d := cmp.Diff([]string{"POST /api/login-link "}, admin.calls); d != "" {
				t.Errorf("admin calls (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.opened, shell.opened); d != "" {
				t.Errorf("opened (-want +got):\n%s", d)
			}
			v, _ = c.Refresh(ctx)
			if got := findItem(v.Menu, "action-error").Title; !strings.Contains(got, tc.menuErr) || (tc.menuErr == "") != (got == "") {
				t.Errorf("menu error %q, want one containing %q", got, tc.menuErr)
			}
		})
	}
}

func TestController_FailuresShowInMenu(t *testing.T) {
	ctx := context.Background()
	admin := newFake()
	login := &fakeLogin{fail: true}
	c := NewController(admin.call, &fakeShell{}, login)
	now := t0
	c.now = func() time.Time { return now }
	c.Do(ctx, Action{Kind: ToggleLogin})
	v, _ := c.Refresh(ctx)
	if it := findItem(v.Menu, "action-error"); !strings.Contains(it.Title, "read-only file system") {
		t.Errorf("action error item: %+v", it)
	}
	now = now.Add(Recent)
	if v, _ := c.Refresh(ctx); findItem(v.Menu, "action-error").ID != "" {
		t.Error("the action error still shows after a minute")
	}
	admin.fail = 500
	v, changed := c.Refresh(ctx)
	if !changed || v.State != Error || !strings.Contains(findItem(v.Menu, "status").Title, "boom") {
		t.Errorf("admin API down: changed %v, state %s, status %q", changed, v.State, findItem(v.Menu, "status").Title)
	}
}

func TestController_RunDrawsOnlyChanges(t *testing.T) {
	admin := newFake()
	c := NewController(admin.call, &fakeShell{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	draws := make(chan View, 10)
	done := make(chan struct{})
	go func() { c.Run(ctx, 5*time.Millisecond, func(v View) { draws <- v }); close(done) }()
	<-draws
	time.Sleep(50 * time.Millisecond) // ~10 refreshes of unchanged data
	if len(draws) != 0 {
		t.Errorf("%d redraws of unchanged data", len(draws))
	}
	admin.mu.Lock()
	admin.get["/api/routes"] = `[]`
	admin.mu.Unlock()
	select {
	case v := <-draws:
		if it := findItem(v.Menu, "routes"); it.Title != "No routes yet" {
			t.Errorf("routes item after the change: %+v", it)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no redraw after the routes changed")
	}
	cancel()
	<-done
}

func findItem(items []Item, id string) Item {
	for _, it := range items {
		if it.ID == id {
			return it
		}
		if c := findItem(it.Children, id); c.ID != "" {
			return c
		}
	}
	return Item{}
}

func TestAppIcon_OpaqueCentreTransparentCorner(t *testing.T) {
	img, err := png.Decode(bytes.NewReader(AppIcon(128)))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 128 {
		t.Errorf("size %v", img.Bounds())
	}
	if _, _, _, a := img.At(2, 2).RGBA(); a != 0 {
		t.Errorf("corner alpha %d, want transparent", a)
	}
	if _, _, _, a := img.At(64, 20).RGBA(); a != 0xffff {
		t.Errorf("inside alpha %d, want opaque", a)
	}
}

// The copied base URL is the one /api/status gives clients (a loopback
// host when the gateway listens on all interfaces), else built from addr.
func TestOpenAIBaseURL(t *testing.T) {
	if got := OpenAIBaseURL(Snapshot{Addr: "[::]:11500", BaseURL: "http://127.0.0.1:11500"}); got != "http://127.0.0.1:11500/v1" {
		t.Errorf("all interfaces: %s", got)
	}
	if got := OpenAIBaseURL(Snapshot{Addr: "127.0.0.1:2"}); got != "http://127.0.0.1:2/v1" {
		t.Errorf("no base_url: %s", got)
	}
}

// Cooldowns show with what cools down (a provider, or a model at one),
// until when and why; a click ends one, and "End all" every one.
func TestController_Cooldowns(t *testing.T) {
	ctx := context.Background()
	admin := newFake()
	until := t0.Add(30 * time.Second)
	admin.get["/api/status"] = `{"addr":"127.0.0.1:11500","local":{"available":false},"cooldowns":[
		{"provider":"groq","scope":"provider","state":"cooldown","until":"` + until.Format(time.RFC3339) + `","reason":"provider groq: connection failed"},
		{"provider":"openai","model":"org/gpt-4o","scope":"model","state":"cooldown","until":"` + until.Format(time.RFC3339) + `","reason":"provider openai: HTTP 503"},
		{"provider":"anthropic","model":"claude","scope":"model","state":"failing","reason":"provider anthropic: HTTP 529"}]}`
	c := NewController(admin.call, &fakeShell{}, nil)
	c.now = func() time.Time { return t0 }
	v, _ := c.Refresh(ctx)
	if v.State != Error || v.Tooltip != "modelbar: Cooling down: groq, org/gpt-4o at openai" {
		t.Errorf("state %v, tooltip %q", v.State, v.Tooltip)
	}
	item := findItem(v.Menu, "cooldowns")
	at := until.Local().Format("15:04:05")
	want := Item{ID: "cooldowns", Title: "Cooling down (2)", Children: []Item{
		{ID: "cooldown:groq/", Title: "groq — until " + at + " (provider groq: connection failed)", Tooltip: "Click to end this cooldown now",
			Action: Action{Kind: API, Method: "DELETE", Path: "/api/cooldowns/groq"}},
		{ID: "cooldown:openai/org/gpt-4o", Title: "org/gpt-4o at openai — until " + at + " (provider openai: HTTP 503)", Tooltip: "Click to end this cooldown now",
			Action: Action{Kind: API, Method: "DELETE", Path: "/api/cooldowns/openai/org/gpt-4o"}},
		{ID: "sep5", Separator: true},
		{ID: "cooldowns:end", Title: "End all cooldowns", Action: Action{Kind: API, Method: "DELETE", Path: "/api/cooldowns"}},
	}}
	if d := cmp.Diff(want, item); d != "" {
		t.Errorf("cooldowns submenu (-want +got):\n%s", d)
	}
	c.Do(ctx, item.Children[1].Action)
	if d := cmp.Diff([]string{"DELETE /api/cooldowns/openai/org/gpt-4o "}, admin.calls); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
}
