package tray

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/events"
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
		{"model loaded, no traffic", nil, loaded, Idle},
		{"local request in flight", nil, Snapshot{InFlight: map[string]int{"local": 1}}, Local},
		{"cloud request in flight", nil, Snapshot{InFlight: map[string]int{"openai": 2}}, Cloud},
		{"local and cloud in flight", nil, Snapshot{InFlight: map[string]int{"openai": 2, "local": 1}}, Local},
		{"local in flight after a cloud request", []Request{{ID: 1, Time: ago(5 * time.Second), Backend: "openai", Status: 200}},
			Snapshot{InFlight: map[string]int{"local": 1}}, Local},
		{"local request", []Request{{ID: 1, Time: ago(5 * time.Second), Backend: "local", Status: 200}}, Snapshot{}, Local},
		{"cloud request", []Request{{ID: 1, Time: ago(5 * time.Second), Backend: "openai", Status: 200}}, loaded, Cloud},
		{"newest wins", []Request{
			{ID: 2, Time: ago(2 * time.Second), Backend: "local", Status: 200},
			{ID: 1, Time: ago(9 * time.Second), Backend: "openai", Status: 200},
		}, Snapshot{}, Local},
		{"cloud long ago", []Request{{ID: 1, Time: ago(2 * time.Minute), Backend: "openai", Status: 200}}, Snapshot{}, Idle},
		{"cloud long ago, model loaded", []Request{{ID: 1, Time: ago(2 * time.Minute), Backend: "openai", Status: 200}}, loaded, Idle},
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
	if got := tr.Next(t0.Add(30*time.Second), Snapshot{}); !got.Equal(t0.Add(60 * time.Second)) {
		t.Errorf("Next 30 s after the 5xx = %v, want when it stops being recent (%v)", got, t0.Add(60*time.Second))
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
	reads map[string]int    // GET path (without query) -> how many
}

// gets is how many times path was read.
func (f *fakeAdmin) gets(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads[path]
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
	if f.reads == nil {
		f.reads = map[string]int{}
	}
	f.reads[p]++
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
	requestsJSON = `[{"id":12,"time":"2026-11-21T11:59:50Z","model":"gpt-4o","backend":"groq","fallback_from":["openai"],"status":200}]`
)

// connectJSON is GET /api/connect trimmed to two clients.
const connectJSON = `{"base_url":"http://127.0.0.1:11500","clients":[
	{"id":"codex","blocks":[{"lang":"sh","text":"export MODELBAR_API_KEY=modelbar\ncodex\n"}]},
	{"id":"claude-code","blocks":[{"lang":"sh","text":"export ANTHROPIC_BASE_URL=http://127.0.0.1:11500\nexport ANTHROPIC_AUTH_TOKEN=modelbar\nclaude\n"}]}]}`

func newFake() *fakeAdmin {
	return &fakeAdmin{get: map[string]string{
		"/api/status": statusJSON, "/api/models": modelsJSON, "/api/routes": routesJSON, "/api/requests": requestsJSON,
		"/api/connect": connectJSON,
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
		{ID: "status", Title: "1 request/min · last: gpt-4o via groq after openai failed", Disabled: true},
		{ID: "alert", Title: "Failed over in the last minute", Disabled: true},
		{ID: "sep2", Separator: true},
		{ID: "loaded", Title: "Loaded local models", Disabled: true},
		{ID: "unload:mlx-community/Qwen3-0.6B-4bit", Title: "Unload mlx-community/Qwen3-0.6B-4bit (1.2 GB)",
			Tooltip: "Free its memory; it loads again when a request needs it",
			Action:  Action{Kind: API, Method: "POST", Path: "/api/models/unload", Body: `{"model":"mlx-community/Qwen3-0.6B-4bit"}`}},
		{ID: "models", Title: "Load a local model", Children: []Item{
			{ID: "load:llama-3.2-1b", Title: "llama-3.2-1b (712 MB)", Tooltip: "Click to load",
				Action: Action{Kind: API, Method: "POST", Path: "/api/models/load", Body: `{"model":"llama-3.2-1b"}`}},
			{ID: "load:gemma-2b", Title: "gemma-2b (unusable)", Tooltip: "architecture gemma is not supported", Disabled: true},
		}},
		{ID: "sep3", Separator: true},
		{ID: "routes", Title: "Routes (2)", Children: []Item{
			{ID: "route:3", Title: "gpt-* → openai", Checkbox: true, Checked: true,
				Action: Action{Kind: API, Method: "PUT", Path: "/api/routes/3", Body: `{"enabled":false}`}},
			{ID: "route:5", Title: "claude-* → anthropic", Checkbox: true,
				Action: Action{Kind: API, Method: "PUT", Path: "/api/routes/5", Body: `{"enabled":true}`}},
			{ID: "sep6", Separator: true},
			{ID: "routes:edit", Title: "Edit routes…", Action: Action{Kind: OpenScreen, Screen: "routes"}},
		}},
		{ID: "sep4", Separator: true},
		{ID: "open", Title: "Open modelbar", Action: Action{Kind: OpenWindow}},
		{ID: "chat", Title: "Open Chat", Action: Action{Kind: OpenScreen, Screen: "chat"}},
		{ID: "browser", Title: "Open in browser", Tooltip: "The same UI in your browser, signed in by a one-time link", Action: Action{Kind: OpenBrowser}},
		{ID: "copy", Title: "Copy OpenAI URL", Tooltip: "http://127.0.0.1:11500/v1", Action: Action{Kind: CopyBaseURL}},
		{ID: "copy-claude", Title: "Copy Claude Code setup", Tooltip: "The environment variables that point Claude Code at modelbar",
			Action: Action{Kind: CopyClaudeCode}},
		{ID: "login", Title: "Launch at login", Checkbox: true, Disabled: true, Action: Action{Kind: ToggleLogin}},
		{ID: "sep5", Separator: true},
		{ID: "quit", Title: "Quit modelbar", Action: Action{Kind: Quit}},
	}}
	if d := cmp.Diff(want, v); d != "" {
		t.Errorf("view (-want +got):\n%s", d)
	}
	if _, changed := c.Refresh(context.Background()); changed {
		t.Error("second refresh with the same data: changed = true")
	}
}

// The head of the menu, per situation: the activity line always, "Serving
// locally" only while the local engine serves a request, an alert for a
// recent error or failover, each cooldown with its plain reason, its end
// and a Retry item.
func TestBuildView_Head(t *testing.T) {
	ago := func(d time.Duration) time.Time { return t0.Add(-d) }
	until := t0.Add(90 * time.Second)
	at := until.Local().Format("15:04:05")
	cases := []struct {
		name    string
		reqs    []Request
		snap    Snapshot
		state   State
		tooltip string
		head    []string // the titles before the models' separator
	}{
		{name: "nothing yet", state: Idle, tooltip: "No requests yet",
			head: []string{"modelbar on a:1", "No requests yet"}},
		{name: "a model loaded, idle: not serving", snap: Snapshot{Engine: "cpu", Models: []Model{{ID: "q", Loaded: true}}},
			state: Idle, tooltip: "No requests yet", head: []string{"modelbar on a:1", "No requests yet"}},
		{name: "three requests this minute",
			reqs: []Request{
				{ID: 1, Time: ago(50 * time.Second), Model: "gpt-4o", Backend: "openai", Status: 200},
				{ID: 2, Time: ago(30 * time.Second), Model: "fast", Backend: "openai", Status: 200},
				{ID: 3, Time: ago(20 * time.Second), Model: "gpt-4o", Backend: "openai", Status: 200},
				{ID: 4, Time: ago(2 * time.Minute), Model: "old", Backend: "openai", Status: 200},
			},
			state: Cloud, tooltip: "3 requests/min · last: gpt-4o via openai",
			head: []string{"modelbar on a:1", "3 requests/min · last: gpt-4o via openai"}},
		{name: "a long stream ended last: the newest end wins",
			reqs: []Request{
				{ID: 1, Time: ago(40 * time.Second), DurationMS: 35_000, Model: "qwen", Backend: "local", Status: 200},
				{ID: 2, Time: ago(20 * time.Second), Model: "gpt-4o", Backend: "openai", Status: 200},
			},
			state: Local, tooltip: "2 requests/min · last: qwen via local",
			head: []string{"modelbar on a:1", "2 requests/min · last: qwen via local"}},
		{name: "quiet for a while", reqs: []Request{{ID: 1, Time: ago(5 * time.Minute), Model: "gpt-4o", Backend: "openai", Status: 200}},
			state: Idle, tooltip: "No requests in the last minute · last: gpt-4o via openai at " + ago(5*time.Minute).Local().Format("15:04"),
			head: []string{"modelbar on a:1", "No requests in the last minute · last: gpt-4o via openai at " + ago(5*time.Minute).Local().Format("15:04")}},
		{name: "serving locally", snap: Snapshot{Engine: "cpu", InFlight: map[string]int{"local": 1}},
			state: Local, tooltip: "Serving locally (cpu)",
			head: []string{"modelbar on a:1", "No requests yet", "Serving locally (cpu)"}},
		{name: "serving two locally, one cloud", snap: Snapshot{InFlight: map[string]int{"local": 2, "openai": 1}},
			state: Local, tooltip: "Serving locally · 2 requests",
			head: []string{"modelbar on a:1", "No requests yet", "Serving locally · 2 requests"}},
		{name: "only the cloud in flight: not serving locally", snap: Snapshot{InFlight: map[string]int{"openai": 1}},
			state: Cloud, tooltip: "No requests yet", head: []string{"modelbar on a:1", "No requests yet"}},
		{name: "a 5xx", reqs: []Request{{ID: 1, Time: ago(time.Second), Model: "gpt-4o", Backend: "openai", Status: 502}},
			state: Error, tooltip: "Errors in the last minute",
			head: []string{"modelbar on a:1", "1 request/min · last: gpt-4o via openai: HTTP 502", "Errors in the last minute"}},
		{name: "no route, answered by modelbar", reqs: []Request{{ID: 1, Time: ago(time.Second), Model: "gpt-5", Backend: "none", Status: 404}},
			state: Idle, tooltip: "1 request/min · last: gpt-5: HTTP 404",
			head: []string{"modelbar on a:1", "1 request/min · last: gpt-5: HTTP 404"}},
		{name: "a cancelled stream", reqs: []Request{{ID: 1, Time: ago(time.Second), Model: "qwen", Backend: "local", Status: 499}},
			state: Local, tooltip: "1 request/min · last: qwen via local (cancelled)",
			head: []string{"modelbar on a:1", "1 request/min · last: qwen via local (cancelled)"}},
		{name: "cooldowns",
			snap: Snapshot{Cooldowns: []Cooldown{
				{Provider: "acme", Scope: "provider", State: "cooldown", Until: until, Reason: "provider acme: HTTP 429"},
				{Provider: "openai", Model: "gpt-4o", Scope: "model", State: "cooldown", Until: until, Reason: "provider openai: HTTP 503"},
			}},
			state: Error, tooltip: "Cooling down: acme (rate limited (429)), gpt-4o at openai (server error (503))",
			head: []string{"modelbar on a:1", "No requests yet", "",
				"acme: rate limited (429) until " + at, "Retry acme now",
				"gpt-4o at openai: server error (503) until " + at, "Retry gpt-4o at openai now", "Retry all now"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var tr Tracker
			tr.Observe(tc.reqs)
			tc.snap.Addr = "a:1"
			st := tr.State(t0, tc.snap)
			tooltip := Describe(st, tc.snap, &tr, t0)
			v := BuildView(tc.snap, st, tooltip, Lines{Activity: tr.Activity(t0), Serving: Serving(tc.snap), Alert: alert(st, tc.snap)}, Extras{})
			var head []string
			for _, it := range v.Menu {
				if it.ID == "sep2" {
					break
				}
				head = append(head, it.Title)
			}
			if d := cmp.Diff(tc.head, head); d != "" {
				t.Errorf("head (-want +got):\n%s", d)
			}
			if v.State != tc.state || v.Tooltip != "modelbar: "+tc.tooltip {
				t.Errorf("state %s, tooltip %q; want %s, %q", v.State, v.Tooltip, tc.state, "modelbar: "+tc.tooltip)
			}
		})
	}
}

// A cooldown's reason, as the gateway words it, in plain words.
func TestCooldown_Plain(t *testing.T) {
	for reason, want := range map[string]string{
		"provider acme: HTTP 429":                             "rate limited (429)",
		"provider acme: HTTP 401":                             "key refused (401)",
		"provider acme: HTTP 403":                             "key refused (403)",
		"provider acme: HTTP 503":                             "server error (503)",
		"provider acme: HTTP 408":                             "timed out (408)",
		"provider acme: HTTP 404":                             "HTTP 404",
		"provider acme: timed out":                            "timed out",
		"provider acme: connection failed: dial tcp: refused": "not reachable",
		"": "repeated failures",
		"provider acme: " + strings.Repeat("x", 100): strings.Repeat("x", 80) + "…",
		"local model q: out of memory":               "local model q: out of memory",
	} {
		if got := (Cooldown{Provider: "acme", Reason: reason}).Plain(); got != want {
			t.Errorf("Plain(%q) = %q, want %q", reason, got, want)
		}
	}
}

func TestBuildView_EmptyGateway(t *testing.T) {
	v := BuildView(Snapshot{Addr: "127.0.0.1:1"}, Idle, "Idle", Lines{}, Extras{LaunchAtLogin: true})
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
	v := BuildView(Snapshot{Models: []Model{{ID: "m", Loading: true, Usable: true}}}, Local, "", Lines{}, Extras{})
	it := findItem(v.Menu, "model:m")
	if !it.Disabled || it.Action.Kind != None || it.Title != "Loading m…" {
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
	screens []string
	copied  []string
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
func (s *fakeShell) ShowScreen(screen string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.screens = append(s.screens, screen)
}
func (s *fakeShell) CopyText(t string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.copied = append(s.copied, t)
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

// Each menu action does what it says: an admin API call, or the shell's
// part (the window, the Chat screen, the clipboard, quitting), or the
// login item.
func TestController_DoActions(t *testing.T) {
	const claude = "export ANTHROPIC_BASE_URL=http://127.0.0.1:11500\nexport ANTHROPIC_AUTH_TOKEN=modelbar\nclaude\n"
	cases := []struct {
		id      string
		calls   []string // non-GET admin calls
		screens []string
		copied  []string
		shown   int
		quit    int
		login   bool
	}{
		{id: "route:3", calls: []string{`PUT /api/routes/3 {"enabled":false}`}},
		{id: "load:llama-3.2-1b", calls: []string{`POST /api/models/load {"model":"llama-3.2-1b"}`}},
		{id: "unload:mlx-community/Qwen3-0.6B-4bit", calls: []string{`POST /api/models/unload {"model":"mlx-community/Qwen3-0.6B-4bit"}`}},
		{id: "open", shown: 1},
		{id: "chat", screens: []string{"chat"}},
		{id: "routes:edit", screens: []string{"routes"}},
		{id: "copy", copied: []string{"http://127.0.0.1:11500/v1"}},
		{id: "copy-claude", copied: []string{claude}},
		{id: "login", login: true},
		{id: "quit", quit: 1},
	}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			ctx := context.Background()
			admin, shell, login := newFake(), &fakeShell{}, &fakeLogin{}
			c := NewController(admin.call, shell, login)
			c.now = func() time.Time { return t0 }
			v, _ := c.Refresh(ctx)
			it := findItem(v.Menu, tc.id)
			if it.ID == "" || it.Disabled {
				t.Fatalf("no clickable item %s in the menu", tc.id)
			}
			c.Do(ctx, it.Action)
			if d := cmp.Diff(tc.calls, admin.calls); d != "" {
				t.Errorf("admin calls (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.screens, shell.screens); d != "" {
				t.Errorf("screens (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.copied, shell.copied); d != "" {
				t.Errorf("copied (-want +got):\n%s", d)
			}
			if shell.shown != tc.shown || shell.quit != tc.quit || login.on != tc.login {
				t.Errorf("shown %d quit %d login %v, want %d %d %v", shell.shown, shell.quit, login.on, tc.shown, tc.quit, tc.login)
			}
			v, _ = c.Refresh(ctx)
			if e := findItem(v.Menu, "action-error"); e.ID != "" {
				t.Errorf("action error: %s", e.Title)
			}
			if tc.login && !findItem(v.Menu, "login").Checked {
				t.Error("launch at login not checked after the toggle")
			}
		})
	}
}

// Copy Claude Code setup fails visibly when the admin API has no snippet
// for it; nothing is copied.
func TestController_CopyClaudeCodeWithoutSnippet(t *testing.T) {
	ctx := context.Background()
	admin, shell := newFake(), &fakeShell{}
	admin.get["/api/connect"] = `{"clients":[{"id":"codex","blocks":[{"lang":"sh","text":"codex"}]}]}`
	c := NewController(admin.call, shell, nil)
	c.now = func() time.Time { return t0 }
	c.Do(ctx, Action{Kind: CopyClaudeCode})
	v, _ := c.Refresh(ctx)
	if got := findItem(v.Menu, "action-error").Title; !strings.Contains(got, "claude-code") || len(shell.copied) != 0 {
		t.Errorf("menu error %q, copied %q", got, shell.copied)
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

// Run follows the change feed: a relevant event redraws within the
// debounce, a burst of events costs one refresh, an irrelevant topic none,
// and unchanged data no redraw.
func TestController_RunFollowsTheFeed(t *testing.T) {
	admin := newFake()
	hub := events.NewHub()
	c := NewController(admin.call, &fakeShell{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	draws := make(chan View, 10)
	done := make(chan struct{})
	go func() {
		c.Run(ctx, hub, Timing{Debounce: 20 * time.Millisecond, Slow: time.Hour}, func(v View) { draws <- v })
		close(done)
	}()
	defer func() { cancel(); <-done }()
	<-draws
	for hub.Subscribers() == 0 {
		time.Sleep(time.Millisecond)
	}
	settled := func() int { // the refreshes so far, once none is under way
		for {
			n := admin.gets("/api/status")
			time.Sleep(100 * time.Millisecond)
			if admin.gets("/api/status") == n {
				return n
			}
		}
	}
	n := settled()
	hub.Publish(events.Settings, nil)
	hub.Publish(events.Conversations, nil)
	if got := settled(); got != n {
		t.Errorf("%d refreshes after settings and conversations events, want none", got-n)
	}
	for range 50 {
		hub.Publish(events.Requests, nil)
	}
	if got := settled(); got != n+1 {
		t.Errorf("%d refreshes after a burst of 50 request events, want 1", got-n)
	}
	if len(draws) != 0 {
		t.Errorf("%d redraws of unchanged data", len(draws))
	}
	admin.mu.Lock()
	admin.get["/api/routes"] = `[]`
	admin.mu.Unlock()
	start := time.Now()
	hub.Publish(events.Routes, nil)
	select {
	case v := <-draws:
		if it := findItem(v.Menu, "routes"); it.Title != "No routes yet" {
			t.Errorf("routes item after the change: %+v", it)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("redrawn %v after the routes event, want well within a second", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no redraw after the routes event")
	}
}

// closedFeed is a feed with no server behind it.
type closedFeed struct{}

func (closedFeed) Subscribe(context.Context) <-chan events.Event {
	ch := make(chan events.Event)
	close(ch)
	return ch
}

// Without a feed (the server did not start) Run refreshes on its timer
// and after actions, and does not spin on the closed channel.
func TestController_RunWithoutFeed(t *testing.T) {
	admin := newFake()
	c := NewController(admin.call, &fakeShell{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		c.Run(ctx, closedFeed{}, Timing{Debounce: time.Millisecond, Slow: 50 * time.Millisecond}, func(View) {})
		close(done)
	}()
	time.Sleep(300 * time.Millisecond)
	cancel()
	<-done
	if n := admin.gets("/api/status"); n < 2 || n > 10 {
		t.Errorf("%d refreshes in 300 ms with a 50 ms timer, want about 6", n)
	}
}

// Between events the controller wakes when the view changes with time
// alone: here when the one request leaves the last minute.
func TestController_WakesWhenTimeChangesTheView(t *testing.T) {
	c := NewController(newFake().call, &fakeShell{}, nil)
	c.now = func() time.Time { return t0 }
	c.Refresh(context.Background()) // the request ended at 11:59:50, t0 is 12:00:00
	if got, want := c.wait(time.Hour), 50*time.Second+10*time.Millisecond; got != want {
		t.Errorf("wait = %v, want %v", got, want)
	}
	if got := c.wait(30 * time.Second); got != 30*time.Second {
		t.Errorf("wait bounded by Slow = %v, want 30s", got)
	}
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

// Cooldowns show with what cools down (a provider, or a model at one), why
// and until when; "Retry … now" ends one, "Retry all now" every one.
// Failing (not yet cooling) breakers do not show.
func TestController_Cooldowns(t *testing.T) {
	ctx := context.Background()
	admin := newFake()
	until := t0.Add(30 * time.Second)
	admin.get["/api/status"] = `{"addr":"127.0.0.1:11500","local":{"available":false},"cooldowns":[
		{"provider":"groq","scope":"provider","state":"cooldown","until":"` + until.Format(time.RFC3339) + `","reason":"provider groq: connection failed: dial tcp 127.0.0.1:9: connect: connection refused"},
		{"provider":"openai","model":"org/gpt-4o","scope":"model","state":"cooldown","until":"` + until.Format(time.RFC3339) + `","reason":"provider openai: HTTP 429"},
		{"provider":"anthropic","model":"claude","scope":"model","state":"failing","reason":"provider anthropic: HTTP 529"}]}`
	c := NewController(admin.call, &fakeShell{}, nil)
	c.now = func() time.Time { return t0 }
	v, _ := c.Refresh(ctx)
	if v.State != Error || v.Tooltip != "modelbar: Cooling down: groq (not reachable), org/gpt-4o at openai (rate limited (429))" {
		t.Errorf("state %v, tooltip %q", v.State, v.Tooltip)
	}
	at := until.Local().Format("15:04:05")
	var got []Item
	for _, it := range v.Menu {
		if strings.HasPrefix(it.ID, "cooldown:") || strings.HasPrefix(it.ID, "retry:") {
			got = append(got, it)
		}
	}
	want := []Item{
		{ID: "cooldown:groq/", Title: "groq: not reachable until " + at,
			Tooltip: "provider groq: connection failed: dial tcp 127.0.0.1:9: connect: connection refused", Disabled: true},
		{ID: "retry:groq/", Title: "Retry groq now", Tooltip: "End this cooldown: the next request tries it again",
			Action: Action{Kind: API, Method: "DELETE", Path: "/api/cooldowns/groq"}},
		{ID: "cooldown:openai/org/gpt-4o", Title: "org/gpt-4o at openai: rate limited (429) until " + at,
			Tooltip: "provider openai: HTTP 429", Disabled: true},
		{ID: "retry:openai/org/gpt-4o", Title: "Retry org/gpt-4o at openai now", Tooltip: "End this cooldown: the next request tries it again",
			Action: Action{Kind: API, Method: "DELETE", Path: "/api/cooldowns/openai/org/gpt-4o"}},
		{ID: "retry:all", Title: "Retry all now", Action: Action{Kind: API, Method: "DELETE", Path: "/api/cooldowns"}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("cooldown items (-want +got):\n%s", d)
	}
	if w := c.wait(time.Hour); w != 30*time.Second+10*time.Millisecond {
		t.Errorf("wait %v, want the cooldowns' end", w)
	}
	c.Do(ctx, findItem(v.Menu, "retry:openai/org/gpt-4o").Action)
	if d := cmp.Diff([]string{"DELETE /api/cooldowns/openai/org/gpt-4o "}, admin.calls); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
}

// fyneARGB is fyne.io/systray v1.12.2's argbForImage (systray_unix.go),
// which makes the StatusNotifierItem's ARGB32 pixmap on Linux from the
// decoded PNG: the low byte of each premultiplied 16-bit channel.
func fyneARGB(img image.Image) []byte {
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	data := make([]byte, w*h*4)
	i := 0
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, b, a := img.At(x, y).RGBA()
			data[i], data[i+1], data[i+2], data[i+3] = byte(a), byte(r), byte(g), byte(b)
			i += 4
		}
	}
	return data
}

// The coloured icons' edges are clean on a dark and a light bar: every
// inked pixel of the pixmap the Linux tray gets is the state's colour,
// only its alpha (the glyph's coverage) varies, and the PNG read correctly
// blends over black and over white to values between the bar's and the
// glyph's, never darker or lighter (a fringe or a halo).
func TestIcons_ColorEdgesClean(t *testing.T) {
	for st := Idle; st <= Error; st++ {
		img, err := png.Decode(bytes.NewReader(Icons[st].Color))
		if err != nil {
			t.Fatal(err)
		}
		want := draw(st, stateColor[st], false)
		argb := fyneARGB(img)
		fc := stateColor[st]
		partial := 0
		for y := 0; y < IconSize; y++ {
			for x := 0; x < IconSize; x++ {
				i := 4 * (y*IconSize + x)
				a, r, g, b := argb[i], argb[i+1], argb[i+2], argb[i+3]
				if cov := want.NRGBAAt(x, y).A; a != cov {
					t.Fatalf("%s (%d,%d): pixmap alpha %d, want the coverage %d", st, x, y, a, cov)
				}
				if a == 0 {
					continue
				}
				if a < 255 {
					partial++
				}
				if r != fc.R || g != fc.G || b != fc.B {
					t.Fatalf("%s (%d,%d) alpha %d: pixmap colour #%02x%02x%02x, want the state's #%02x%02x%02x", st, x, y, a, r, g, b, fc.R, fc.G, fc.B)
				}
				for _, bar := range []float64{0, 0xffff} { // a dark bar, a light bar
					c := color.NRGBA64Model.Convert(img.At(x, y)).(color.NRGBA64)
					al := float64(c.A) / 0xffff
					for ch, v := range []uint16{c.R, c.G, c.B} {
						fg := float64([]uint8{fc.R, fc.G, fc.B}[ch]) * 0x101
						out := float64(v)*al + bar*(1-al)
						lo, hi := min(fg, bar)-0x101, max(fg, bar)+0x101 // one 8-bit level of rounding
						if out < lo || out > hi {
							t.Fatalf("%s (%d,%d) over %v: channel %d blends to %.0f, outside [%.0f, %.0f]", st, x, y, bar, ch, out, lo, hi)
						}
					}
				}
			}
		}
		if partial < 20 {
			t.Errorf("%s: %d antialiased edge pixels, want the edges smoothed", st, partial)
		}
	}
}
