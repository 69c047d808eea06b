//go:build desktoptest

package main

// The desktop app end to end, on a real display (Xvfb) and a real session
// bus: .ci/desktop-test builds the app with the desktop tags and runs this
// with MODELBAR_DESKTOP_BIN set. A stand-in StatusNotifierWatcher (there
// is no tray host on a headless Linux) records the tray's registration;
// the test then clicks the tray's menu over com.canonical.dbusmenu, as a
// panel would, and checks the effect through the admin API.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
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
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "MODELBAR_DATA_DIR="+dataDir, "MODELBAR_ADDR="+addr,
		"XDG_CONFIG_HOME="+configHome, "MODELBAR_BACKEND=cpu", "NO_AT_BRIDGE=1",
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
	time.Sleep(3 * time.Second) // let the page render before the screenshot
	if results != "" {          // the whole screen, and the window alone (the README's)
		for shot, window := range map[string]string{"desktop-root.png": "root", "desktop.png": strings.Fields(win)[0]} {
			shot = filepath.Join(results, shot)
			if out, err := exec.Command("import", "-window", window, shot).CombinedOutput(); err != nil {
				t.Errorf("screenshot: %v\n%s", err, out)
			} else {
				t.Logf("screenshot: %s", shot)
			}
		}
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

	// A route appears in the tray's menu; clicking it disables the route.
	var route struct {
		ID      int64 `json:"id"`
		Enabled bool  `json:"enabled"`
	}
	api("POST", "/api/routes", `{"model_pattern":"e2e-*","backend":"local"}`, &route)
	if !route.Enabled {
		t.Fatalf("new route not enabled: %+v", route)
	}
	routeID := itemID(t, menu, "e2e-* → local")
	click(t, menu, routeID)
	waitFor(t, 10*time.Second, "the route to be disabled by the tray click", func() bool {
		api("GET", fmt.Sprintf("/api/routes/%d", route.ID), "", &route)
		return !route.Enabled
	})
	waitFor(t, 10*time.Second, "the tray to show the route unchecked", func() bool {
		return itemProps(t, menu, "e2e-* → local")["toggle-state"] == int32(0)
	})

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
	var rev uint32
	var root layout
	if err := menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &root); err != nil {
		t.Fatalf("GetLayout: %v", err)
	}
	return search(root.ID, root.Props, root.Children, label)
}

func search(id int32, props map[string]dbus.Variant, children []dbus.Variant, label string) (int32, map[string]any, bool) {
	if l, ok := props["label"]; ok && l.Value() == label {
		plain := map[string]any{}
		for k, v := range props {
			plain[k] = v.Value()
		}
		return id, plain, true
	}
	for _, c := range children {
		node, ok := c.Value().([]any)
		if !ok || len(node) != 3 {
			continue
		}
		cid, _ := node[0].(int32)
		cprops, _ := node[1].(map[string]dbus.Variant)
		ckids, _ := node[2].([]dbus.Variant)
		if id, p, ok := search(cid, cprops, ckids, label); ok {
			return id, p, true
		}
	}
	return 0, nil, false
}

func itemID(t *testing.T, menu dbus.BusObject, label string) int32 {
	t.Helper()
	var id int32
	waitFor(t, 15*time.Second, "the tray menu item "+label, func() bool {
		var ok bool
		id, _, ok = findItem(t, menu, label)
		return ok
	})
	return id
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
