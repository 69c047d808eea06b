//go:build desktoptest

package main

// The desktop app end to end, on a real display (Xvfb) and a real session
// bus: .ci/desktop-test builds the app with the desktop tags and runs this
// with MODELBAR_DESKTOP_BIN set. A stand-in StatusNotifierWatcher (there
// is no tray host on a headless Linux) records the tray's registration;
// the test then clicks the tray's menu over com.canonical.dbusmenu, as a
// panel would, and checks the effect through the admin API, the clipboard
// (xclip) and screenshots of the window. Before the tray, the first run
// (desktop_window_test.go) walks the Get started guide in the window,
// through the binary's desktoptest probe; after it, a chat in the window.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
)

// watcher is the stand-in org.kde.StatusNotifierWatcher.
type watcher struct {
	mu    sync.Mutex
	items []string // "sender service"
}

func (w *watcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.items = append(w.items, string(sender)+" "+service)
	return nil
}

func (w *watcher) RegisterStatusNotifierHost(string) *dbus.Error { return nil }

// registered is the item process pid registered: its bus name and the
// service (the item's object path, as fyne.io/systray registers it).
func (w *watcher) registered(conn *dbus.Conn, pid int) (sender, service string, ok bool) {
	w.mu.Lock()
	items := append([]string(nil), w.items...)
	w.mu.Unlock()
	for _, it := range items {
		sender, service, _ = strings.Cut(it, " ")
		var got uint32
		err := conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, sender).Store(&got)
		if err == nil && int(got) == pid {
			return sender, service, true
		}
	}
	return "", "", false
}

func startWatcher(t *testing.T) *watcher {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatalf("session bus (run inside dbus-run-session): %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	w := &watcher{}
	if err := conn.Export(w, "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher"); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName("org.kde.StatusNotifierWatcher", dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own org.kde.StatusNotifierWatcher: reply %v, %v", reply, err)
	}
	return w
}

func TestDesktop_WindowTrayAndQuit(t *testing.T) {
	bin := os.Getenv("MODELBAR_DESKTOP_BIN")
	results := os.Getenv("MODELBAR_TEST_RESULTS")
	if bin == "" || os.Getenv("DISPLAY") == "" {
		t.Skip("run by .ci/desktop-test: needs MODELBAR_DESKTOP_BIN, DISPLAY and a session bus")
	}
	w := startWatcher(t)
	dataDir, configHome := t.TempDir(), t.TempDir()
	addr := freeAddr(t)
	browser, opened := fakeBrowser(t)
	fakeURL, chats := fakeOpenAI(t)
	hook := freeAddr(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "MODELBAR_DATA_DIR="+dataDir, "MODELBAR_ADDR="+addr,
		"XDG_CONFIG_HOME="+configHome, "MODELBAR_DESKTOPTEST_ADDR="+hook, "MODELBAR_BACKEND=cpu", "NO_AT_BRIDGE=1", "HF_HUB_CACHE="+t.TempDir(),
		"PATH="+browser+string(os.PathListSeparator)+os.Getenv("PATH"))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("modelbar's output:\n%s", logs.String())
		}
	}()

	// The window.
	var win string
	waitFor(t, 30*time.Second, "the window titled modelbar", func() bool {
		out, err := exec.Command("xdotool", "search", "--onlyvisible", "--name", "^modelbar$").Output()
		win = strings.TrimSpace(string(out))
		return err == nil && win != ""
	})
	api := adminClient(t, dataDir, addr)
	win0 := strings.Fields(win)[0]
	p := page{t: t, addr: hook}

	// The first run, in the window: the guide, a provider, its route.
	firstRunWalk(t, p, addr, fakeURL, api)
	hideToasts(p, true)
	if results != "" { // the whole screen, and the window alone (the README's): the guide, walked
		for shot, window := range map[string]string{"desktop-root.png": "root", "desktop.png": strings.Fields(win)[0]} {
			shot = filepath.Join(results, shot)
			if out, err := exec.Command("import", "-window", window, shot).CombinedOutput(); err != nil {
				t.Errorf("screenshot: %v\n%s", err, out)
			} else {
				t.Logf("screenshot: %s", shot)
			}
		}
	}
	hideToasts(p, false)

	// A tiny generated local model, for the tray's Unload item below (after
	// the first run, which starts with none); no other model directory is
	// searched.
	if err := testmodel.Write(filepath.Join(dataDir, "models", "test", "tiny"), testmodel.Spec{Architecture: "qwen2", Seed: 7}); err != nil {
		t.Fatal(err)
	}

	// A second launch hands over to the running app and ends.
	second := exec.Command(bin)
	second.Env = cmd.Env
	secondDone := make(chan error, 1)
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { secondDone <- second.Wait() }()
	select {
	case <-secondDone:
	case <-time.After(20 * time.Second):
		second.Process.Kill()
		t.Error("a second launch is still running after 20 s")
	}

	// The tray registered with the watcher.
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var sender, service string
	waitFor(t, 20*time.Second, "the tray to register with the StatusNotifierWatcher", func() bool {
		var ok bool
		sender, service, ok = w.registered(conn, cmd.Process.Pid)
		return ok
	})
	// As a panel does: the item's Menu property names its dbusmenu.
	item := conn.Object(sender, dbus.ObjectPath(service))
	menuPath, err := item.GetProperty("org.kde.StatusNotifierItem.Menu")
	if err != nil {
		t.Fatalf("the tray item's Menu property: %v", err)
	}
	for _, prop := range []string{"IconPixmap", "ToolTip"} {
		if _, err := item.GetProperty("org.kde.StatusNotifierItem." + prop); err != nil {
			t.Errorf("the tray item's %s: %v", prop, err)
		}
	}
	menu := conn.Object(sender, menuPath.Value().(dbus.ObjectPath))

	// "Open in browser" hands the default browser (a stand-in xdg-open that
	// writes the URL down) a one-time login link that signs a browser in.
	click(t, menu, itemID(t, menu, "Open in browser"))
	var link string
	waitFor(t, 10*time.Second, "the tray to open a login link", func() bool {
		b, _ := os.ReadFile(opened)
		link = strings.TrimSpace(string(b))
		return link != ""
	})
	signIn(t, addr, link)

	// Rotating the admin token signs browsers out, not the window or the
	// tray: they call in process (the route click below goes that way).
	var rotated struct {
		Rotated         bool `json:"rotated"`
		SessionsRevoked int  `json:"sessions_revoked"`
	}
	api("POST", "/api/admin-token/rotate", "", &rotated)
	if !rotated.Rotated || rotated.SessionsRevoked != 1 {
		t.Errorf("rotate: %+v, want one session revoked", rotated)
	}
	api = adminClient(t, dataDir, addr) // the new token

	// The menu's head: the activity line.
	itemID(t, menu, "No requests yet")

	// "Edit routes…" opens the window at its Routes screen, which shows a
	// first route; a second one added through the API shows there live:
	// the pixels that change are its row.
	api("POST", "/api/routes", `{"model_pattern":"e2e-first-*","backend":"local"}`, &struct{}{})
	click(t, menu, itemID(t, menu, "Edit routes…"))
	before := steadyShot(t, win0)
	var route struct {
		ID      int64 `json:"id"`
		Enabled bool  `json:"enabled"`
	}
	api("POST", "/api/routes", `{"model_pattern":"e2e-*","backend":"local"}`, &route)
	if !route.Enabled {
		t.Fatalf("new route not enabled: %+v", route)
	}
	routeID := itemID(t, menu, "e2e-* → local")
	var withRow image.Image
	waitFor(t, 10*time.Second, "the window to show the route added through the API", func() bool {
		if diffBox(before, shotOf(t, win0)).Empty() {
			return false
		}
		withRow = steadyShot(t, win0)
		return true
	})
	row := diffBox(before, withRow)
	t.Logf("the new route's row: %v", row)
	const e2eRow = `const row = document.querySelector('[data-testid="screen-routes"] [data-testid="route-row"][data-pattern="e2e-*"]');`
	p.wait(5*time.Second, "the Routes screen to show e2e-* enabled", e2eRow+`
return shown(row) && text(row, 'the e2e-* row').includes('e2e-*') && row.querySelector('input[type="checkbox"]').checked;`)

	// A route's checkbox in the tray disables the route, and the open
	// window shows it within a second.
	click(t, menu, routeID)
	clicked := time.Now()
	var took time.Duration
	waitFor(t, 10*time.Second, "the tray's toggle to show in the window", func() bool {
		s := shotOf(t, win0)
		took = time.Since(clicked) // the capture's end: an upper bound
		return !diffBox(withRow, s).Intersect(row).Empty()
	})
	t.Logf("the tray's toggle showed in the window within %v", took.Round(10*time.Millisecond))
	if took > time.Second {
		t.Errorf("the tray's toggle took %v to show in the window, want at most 1 s", took)
	}
	// What changed there is the route's switch, off.
	p.wait(time.Second, "the e2e-* row to show the route off", e2eRow+`
const box = row.querySelector('input[type="checkbox"]');
return shown(box) && !box.checked && box.getAttribute('aria-label') === 'Enable route e2e-*';`)
	api("GET", fmt.Sprintf("/api/routes/%d", route.ID), "", &route)
	if route.Enabled {
		t.Error("the route is still enabled after the tray click")
	}
	waitFor(t, 10*time.Second, "the tray to show the route unchecked", func() bool {
		return itemProps(t, menu, "e2e-* → local")["toggle-state"] == int32(0)
	})

	// A provider that answers 429 cools down: the menu says so, with the
	// reason and the end, and "Retry … now" ends it.
	acme := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120") // longer than the backoff cap: believed at once
		http.Error(w, `{"error":{"message":"slow down","type":"rate_limit_error"}}`, http.StatusTooManyRequests)
	}))
	defer acme.Close()
	api("PUT", "/api/providers/acme", `{"type":"openai","base_url":"`+acme.URL+`/v1","api_key":"sk-e2e"}`, &struct{}{})
	api("POST", "/api/routes", `{"model_pattern":"m","backend":"acme"}`, &struct{}{})
	if resp, err := http.Post("http://"+addr+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`)); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	cooling, _ := itemWithPrefix(t, menu, "m at acme: rate limited (429) until ")
	t.Logf("cooldown line: %q", cooling)
	itemWithPrefix(t, menu, "1 request/min · last: m via acme")
	click(t, menu, itemID(t, menu, "Retry m at acme now"))
	waitFor(t, 10*time.Second, "Retry now to end the cooldown", func() bool {
		var cs []any
		api("GET", "/api/cooldowns", "", &cs)
		return len(cs) == 0
	})

	// A loaded local model has its Unload item.
	waitFor(t, 10*time.Second, "the local model written after the first run", func() bool {
		var ms []struct {
			ID string `json:"id"`
		}
		api("GET", "/api/models", "", &ms)
		return len(ms) == 1 && ms[0].ID == "test/tiny"
	})
	api("POST", "/api/models/load", `{"model":"test/tiny"}`, &struct{}{})
	click(t, menu, itemID(t, menu, "Unload test/tiny ("))
	waitFor(t, 10*time.Second, "Unload to unload the model", func() bool {
		var ms []struct {
			ID     string `json:"id"`
			Loaded bool   `json:"loaded"`
		}
		api("GET", "/api/models", "", &ms)
		return len(ms) == 1 && ms[0].ID == "test/tiny" && !ms[0].Loaded
	})

	// The Copy items put the OpenAI URL and Claude Code's set-up on the
	// clipboard.
	click(t, menu, itemID(t, menu, "Copy OpenAI URL"))
	waitFor(t, 10*time.Second, "the OpenAI URL on the clipboard", func() bool {
		return clipboard() == "http://"+addr+"/v1"
	})
	click(t, menu, itemID(t, menu, "Copy Claude Code setup"))
	waitFor(t, 10*time.Second, "Claude Code's set-up on the clipboard", func() bool {
		c := clipboard()
		return strings.Contains(c, "export ANTHROPIC_BASE_URL=http://"+addr+"\n") && strings.HasSuffix(c, "claude\n")
	})

	// Open Chat changes the window's screen.
	routes := steadyShot(t, win0)
	click(t, menu, itemID(t, menu, "Open Chat"))
	waitFor(t, 10*time.Second, "Open Chat to change the window's screen", func() bool {
		return !diffBox(routes, shotOf(t, win0)).Empty()
	})
	p.wait(5*time.Second, "the Chat screen", `return shown($('screen-chat')) && location.hash === '#/chat';`)
	// There, a chat gets its answer from the provider the first run added,
	// with inference keys required: the window's /v1 calls are served in
	// process (its asset server), and it holds no key.
	api("PUT", "/api/settings", `{"require_api_keys":true}`, &struct{}{})
	if resp, err := http.Get("http://" + addr + "/v1/models"); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v1/models over HTTP without a key: %d, want 401 (keys required)", resp.StatusCode)
	}
	chatInWindow(t, p, chats)
	api("PUT", "/api/settings", `{"require_api_keys":false}`, &struct{}{})

	// Launch at login writes the autostart entry.
	click(t, menu, itemID(t, menu, "Launch at login"))
	entry := filepath.Join(configHome, "autostart", "modelbar.desktop")
	waitFor(t, 10*time.Second, "the autostart entry", func() bool {
		b, err := os.ReadFile(entry)
		return err == nil && bytes.Contains(b, []byte("--hidden"))
	})
	click(t, menu, itemID(t, menu, "Launch at login"))
	waitFor(t, 10*time.Second, "the autostart entry to go", func() bool {
		_, err := os.Stat(entry)
		return os.IsNotExist(err)
	})

	// Quit from the tray: the process ends, exit code 0.
	click(t, menu, itemID(t, menu, "Quit modelbar"))
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("modelbar exited with %v after Quit", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("modelbar still running 30 s after Quit")
	}
	if !strings.Contains(logs.String(), "stopped") {
		t.Errorf("no graceful shutdown in the log")
	}
}

// fakeBrowser is a directory holding an xdg-open that appends its argument
// to the file opened.
func fakeBrowser(t *testing.T) (dir, opened string) {
	dir = t.TempDir()
	opened = filepath.Join(dir, "opened")
	script := "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '" + opened + "'\n"
	if err := os.WriteFile(filepath.Join(dir, "xdg-open"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, opened
}

// signIn follows a login link as a browser would: a redirect into the UI
// with a session cookie that authenticates the admin API, once.
func signIn(t *testing.T, addr, link string) {
	t.Helper()
	if !strings.HasPrefix(link, "http://"+addr+"/ui/login?code=") {
		t.Fatalf("login link %q", link)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if resp.StatusCode != http.StatusSeeOther || len(cookies) != 1 {
		t.Fatalf("login link: %d %v", resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/status", nil)
	req.AddCookie(cookies[0])
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/status with the session: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if resp, err := c.Get(link); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("login link used twice: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

// adminClient calls the admin API over HTTP with the token in the data dir.
func adminClient(t *testing.T, dataDir, addr string) func(method, path, body string, out any) {
	var token []byte
	waitFor(t, 30*time.Second, "the admin token and the server", func() bool {
		var err error
		token, err = os.ReadFile(filepath.Join(dataDir, "admin-token"))
		if err != nil {
			return false
		}
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return func(method, path, body string, out any) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %s", method, path, resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// layout is a dbusmenu layout node: (id, properties, children).
type layout struct {
	ID       int32
	Props    map[string]dbus.Variant
	Children []dbus.Variant
}

// findItem searches the tray menu for the item labelled label.
func findItem(t *testing.T, menu dbus.BusObject, label string) (int32, map[string]any, bool) {
	id, props, ok := findNode(t, menu, func(l string) bool { return l == label })
	if !ok {
		return 0, nil, false
	}
	plain := map[string]any{}
	for k, v := range props {
		plain[k] = v.Value()
	}
	return id, plain, true
}

// findNode reads the menu's layout and returns the first item, depth
// first, whose label match accepts.
func findNode(t *testing.T, menu dbus.BusObject, match func(label string) bool) (int32, map[string]dbus.Variant, bool) {
	t.Helper()
	var rev uint32
	var root layout
	if err := menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &root); err != nil {
		t.Fatalf("GetLayout: %v", err)
	}
	return walk(root.ID, root.Props, root.Children, match)
}

func walk(id int32, props map[string]dbus.Variant, children []dbus.Variant, match func(string) bool) (int32, map[string]dbus.Variant, bool) {
	if l, ok := props["label"].Value().(string); ok && match(l) {
		return id, props, true
	}
	for _, c := range children {
		node, ok := c.Value().([]any)
		if !ok || len(node) != 3 {
			continue
		}
		cid, _ := node[0].(int32)
		cprops, _ := node[1].(map[string]dbus.Variant)
		ckids, _ := node[2].([]dbus.Variant)
		if id, p, ok := walk(cid, cprops, ckids, match); ok {
			return id, p, true
		}
	}
	return 0, nil, false
}

// itemID waits for the item labelled label (or, when label ends in "(",
// starting with it) and returns its id.
func itemID(t *testing.T, menu dbus.BusObject, label string) int32 {
	t.Helper()
	if strings.HasSuffix(label, "(") {
		_, id := itemWithPrefix(t, menu, label)
		return id
	}
	var id int32
	waitFor(t, 15*time.Second, "the tray menu item "+label, func() bool {
		var ok bool
		id, _, ok = findItem(t, menu, label)
		return ok
	})
	return id
}

// itemWithPrefix waits for an item whose label starts with prefix and
// returns its label and id.
func itemWithPrefix(t *testing.T, menu dbus.BusObject, prefix string) (string, int32) {
	t.Helper()
	var label string
	var id int32
	waitFor(t, 15*time.Second, "a tray menu item starting "+prefix, func() bool {
		var props map[string]dbus.Variant
		var ok bool
		id, props, ok = findNode(t, menu, func(l string) bool { return strings.HasPrefix(l, prefix) })
		if ok {
			label, _ = props["label"].Value().(string)
		}
		return ok
	})
	return label, id
}

// clipboard is the X clipboard's text ("" when nobody holds it).
func clipboard() string {
	out, _ := exec.Command("xclip", "-o", "-selection", "clipboard").Output()
	return string(out)
}

// shotOf captures the window win.
func shotOf(t *testing.T, win string) image.Image {
	t.Helper()
	out, err := exec.Command("import", "-window", win, "png:-").Output()
	if err != nil {
		t.Fatalf("screenshot of window %s: %v", win, err)
	}
	img, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("screenshot of window %s: %v", win, err)
	}
	return img
}

// steadyShot captures the window once it stopped changing: two captures
// in a row alike.
func steadyShot(t *testing.T, win string) image.Image {
	t.Helper()
	prev := shotOf(t, win)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(150 * time.Millisecond)
		s := shotOf(t, win)
		if diffBox(prev, s).Empty() {
			return s
		}
		prev = s
	}
	t.Fatalf("window %s still changing after 10 s", win)
	return nil
}

// diffBox is the smallest rectangle holding every pixel that differs
// between a and b (all of it when their sizes differ).
func diffBox(a, b image.Image) image.Rectangle {
	if a.Bounds() != b.Bounds() {
		return a.Bounds().Union(b.Bounds())
	}
	var box image.Rectangle
	r := a.Bounds()
	ra, okA := a.(*image.RGBA)
	rb, okB := b.(*image.RGBA)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		if okA && okB { // the usual case: skip equal rows at once
			i := ra.PixOffset(r.Min.X, y)
			if bytes.Equal(ra.Pix[i:i+4*r.Dx()], rb.Pix[i:i+4*r.Dx()]) {
				continue
			}
		}
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				box = box.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return box
}

func itemProps(t *testing.T, menu dbus.BusObject, label string) map[string]any {
	_, p, _ := findItem(t, menu, label)
	return p
}

func click(t *testing.T, menu dbus.BusObject, id int32) {
	t.Helper()
	call := menu.Call("com.canonical.dbusmenu.Event", 0, id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix()))
	if call.Err != nil {
		t.Fatalf("click item %d: %v", id, call.Err)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for !ok() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s waiting for %s", d, what)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
