package desktop

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestHasDisplay_ByPlatformAndSession(t *testing.T) {
	cases := []struct {
		goos string
		env  func(string) string
		want bool
	}{
		{"linux", env(), false},
		{"linux", env("DISPLAY", ":99"), true},
		{"linux", env("WAYLAND_DISPLAY", "wayland-0"), true},
		{"freebsd", env(), false},
		{"darwin", env(), true},
		{"windows", env(), true},
	}
	for _, c := range cases {
		if got := HasDisplay(c.goos, c.env); got != c.want {
			t.Errorf("HasDisplay(%s) = %v, want %v", c.goos, got, c.want)
		}
	}
}

func TestMessages_NameServe(t *testing.T) {
	for _, m := range []string{NoDisplay, NotBuilt} {
		if !strings.Contains(m, "`modelbar serve`") {
			t.Errorf("%q does not point at `modelbar serve`", m)
		}
	}
}

func TestParseArgs_FlagsEnvAndDefaults(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  func(string) string
		want Options
	}{
		{"defaults", nil, env("MODELBAR_DATA_DIR", "/d"), Options{Addr: "127.0.0.1:11500", DataDir: "/d", LogLevel: "info"}},
		{"hidden", []string{"--hidden"}, env("MODELBAR_DATA_DIR", "/d"), Options{Hidden: true, Addr: "127.0.0.1:11500", DataDir: "/d", LogLevel: "info"}},
		{"env", nil, env("MODELBAR_ADDR", "127.0.0.1:0", "MODELBAR_DATA_DIR", "/e", "MODELBAR_LOG_LEVEL", "debug"),
			Options{Addr: "127.0.0.1:0", DataDir: "/e", LogLevel: "debug"}},
		{"flags win", []string{"--hidden", "--addr", "127.0.0.1:1", "--data-dir", "/f"}, env("MODELBAR_ADDR", "127.0.0.1:0", "MODELBAR_DATA_DIR", "/e"),
			Options{Hidden: true, Addr: "127.0.0.1:1", DataDir: "/f", LogLevel: "info"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseArgs(c.args, c.env, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("ParseArgs(%q) (-want +got):\n%s", c.args, d)
			}
		})
	}
}

func TestParseArgs_RejectsStrayArguments(t *testing.T) {
	var stderr bytes.Buffer
	if _, err := ParseArgs([]string{"--hidden", "serv"}, env(), &stderr); err == nil {
		t.Fatal("ParseArgs accepted a stray argument")
	}
	if !strings.Contains(stderr.String(), "modelbar serve") {
		t.Errorf("stderr %q does not point at modelbar serve", stderr.String())
	}
	if _, err := ParseArgs([]string{"-h"}, env(), io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: err %v, want flag.ErrHelp", err)
	}
}

func TestOptionsLogger_RejectsUnknownLevel(t *testing.T) {
	if _, err := (Options{LogLevel: "loud"}).Logger(io.Discard); err == nil {
		t.Error("Logger accepted level loud")
	}
	if _, err := (Options{LogLevel: "warn"}).Logger(io.Discard); err != nil {
		t.Error(err)
	}
}

func TestNewLoginItem_PathPerPlatform(t *testing.T) {
	cases := []struct{ goos, want string }{
		{"darwin", "/Users/a/Library/LaunchAgents/dev.modelbar.modelbar.plist"},
		{"linux", "/home/a/.config/autostart/modelbar.desktop"},
		{"freebsd", "/home/a/.config/autostart/modelbar.desktop"},
	}
	for _, c := range cases {
		home := "/home/a"
		if c.goos == "darwin" {
			home = "/Users/a"
		}
		li, err := NewLoginItem(c.goos, home, "/home/a/.config", "/opt/modelbar")
		if err != nil {
			t.Fatal(err)
		}
		if li.Path != c.want {
			t.Errorf("%s: path %s, want %s", c.goos, li.Path, c.want)
		}
	}
	if _, err := NewLoginItem("linux", "/h", "/h/.config", "modelbar"); err == nil {
		t.Error("a relative program path was accepted")
	}
	if _, err := NewLoginItem("windows", `C:\h`, `C:\h`, `C:\modelbar.exe`); err == nil {
		t.Error("windows was accepted")
	}
}

func TestDesktopEntry_Text(t *testing.T) {
	want := `[Desktop Entry]
Type=Application
Name=modelbar
Comment=One local endpoint for language models
Exec=/usr/local/bin/modelbar --hidden
Terminal=false
X-GNOME-Autostart-enabled=true
`
	if d := cmp.Diff(want, string(DesktopEntry("/usr/local/bin/modelbar"))); d != "" {
		t.Errorf("desktop entry (-want +got):\n%s", d)
	}
}

func TestExecQuote_DesktopEntrySpec(t *testing.T) {
	cases := map[string]string{
		"/usr/bin/modelbar":        "/usr/bin/modelbar",
		"/home/a b/modelbar":       `"/home/a b/modelbar"`,
		`/opt/$HOME/x`:             `"/opt/\\$HOME/x"`,
		"/opt/100%/x":              `"/opt/100%%/x"`,
		`/opt/q"uote`:              `"/opt/q\\"uote"`,
		`/opt/back\slash`:          `"/opt/back\\\\slash"`,
		"/Applications/m.app/x`y`": "\"/Applications/m.app/x\\\\`y\\\\`\"",
	}
	for in, want := range cases {
		if got := execQuote(in); got != want {
			t.Errorf("execQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestLaunchAgentPlist_Text(t *testing.T) {
	got := string(LaunchAgentPlist("/Applications/modelbar.app/Contents/MacOS/modelbar"))
	want := `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>dev.modelbar.modelbar</string>
	<key>ProgramArguments</key>
	<array>
		<string>/Applications/modelbar.app/Contents/MacOS/modelbar</string>
		<string>--hidden</string>
	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>ProcessType</key>
	<string>Interactive</string>
</dict>
</plist>
`
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("plist (-want +got):\n%s", d)
	}
}

func TestLaunchAgentPlist_EscapesPathAndParses(t *testing.T) {
	exe := "/Users/a & b/<x>/modelbar"
	var doc struct {
		Strings []string `xml:"dict>array>string"`
	}
	if err := xml.Unmarshal(LaunchAgentPlist(exe), &doc); err != nil {
		t.Fatalf("plist is not XML: %v", err)
	}
	if d := cmp.Diff([]string{exe, "--hidden"}, doc.Strings); d != "" {
		t.Errorf("ProgramArguments (-want +got):\n%s", d)
	}
}

func TestLoginItem_SetEnabledWritesAndRemoves(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config")
	li, err := NewLoginItem("linux", "/unused", cfg, "/usr/bin/modelbar")
	if err != nil {
		t.Fatal(err)
	}
	if li.Enabled() {
		t.Fatal("enabled before being set")
	}
	if err := li.SetEnabled(false); err != nil {
		t.Fatalf("disabling an absent item: %v", err)
	}
	if err := li.SetEnabled(true); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(cfg, "autostart", "modelbar.desktop"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("Exec=/usr/bin/modelbar --hidden\n")) || !li.Enabled() {
		t.Errorf("written entry %q, enabled %v", b, li.Enabled())
	}
	if err := li.SetEnabled(true); err != nil {
		t.Fatalf("enabling twice: %v", err)
	}
	if err := li.SetEnabled(false); err != nil {
		t.Fatal(err)
	}
	if li.Enabled() {
		t.Error("still enabled after SetEnabled(false)")
	}
}
