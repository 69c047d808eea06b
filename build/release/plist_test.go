package release

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/desktop"
	"github.com/wailsapp/wails/v2/pkg/buildassets"
)

// renderInfoPlist renders build/darwin/Info.plist the way the release does:
// set-version.sh writes the tag's version into a copy of wails.json, then
// Wails' own renderer (the function `wails build` calls for the bundle's
// Info.plist) fills the template from that project.
//
// Wails' project type is in an internal package, so it is reached through
// the renderer's signature by reflection and filled from wails.json with its
// own JSON tags, as Wails' project.Load does.
func renderInfoPlist(t *testing.T, tag string) []byte {
	t.Helper()
	root := repoRoot(t)
	dir := t.TempDir()
	wailsJSON := filepath.Join(dir, "wails.json")
	copyFile(t, filepath.Join(root, "wails.json"), wailsJSON)
	copyFile(t, filepath.Join(root, "build", "darwin", "Info.plist"), filepath.Join(dir, "build", "darwin", "Info.plist"))
	if out, err := exec.Command("bash", "set-version.sh", tag, wailsJSON).CombinedOutput(); err != nil {
		t.Fatalf("set-version.sh %s: %v\n%s", tag, err, out)
	}

	render := reflect.ValueOf(buildassets.ReadFileWithProjectData)
	project := reflect.New(render.Type().In(0).Elem())
	b, err := os.ReadFile(wailsJSON)
	must(t, err)
	must(t, json.Unmarshal(b, project.Interface()))
	project.Elem().FieldByName("Path").SetString(dir)
	project.Elem().FieldByName("BuildDir").SetString("build")
	out := render.Call([]reflect.Value{project, reflect.ValueOf("darwin/Info.plist")})
	if err, _ := out[1].Interface().(error); err != nil {
		t.Fatalf("render Info.plist: %v", err)
	}
	return out[0].Bytes()
}

// TestInfoPlist_Release checks the Info.plist a release tag v1.2.3 gives:
// well-formed XML in Apple's plist format (what plutil -lint accepts), and
// the keys a menu-bar app bundle needs with the right types and values.
func TestInfoPlist_Release(t *testing.T) {
	rendered := renderInfoPlist(t, "v1.2.3")
	if strings.Contains(string(rendered), "{{") || strings.Contains(string(rendered), "}}") {
		t.Fatalf("unrendered template left:\n%s", rendered)
	}
	if !strings.Contains(string(rendered), `<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN"`) {
		t.Error("no plist DOCTYPE")
	}
	v, err := parsePlist(strings.NewReader(string(rendered)))
	if err != nil {
		t.Fatalf("Info.plist: %v\n%s", err, rendered)
	}
	d, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("Info.plist's root is %T, want a dict", v)
	}
	want := map[string]any{
		"CFBundlePackageType":        "APPL",
		"CFBundleName":               "modelbar",
		"CFBundleExecutable":         "modelbar", // Contents/MacOS/modelbar, which bundle.sh expects
		"CFBundleIdentifier":         "dev.modelbar.modelbar",
		"CFBundleVersion":            "1.2.3",
		"CFBundleShortVersionString": "1.2.3",
		"CFBundleIconFile":           "iconfile", // wails build writes Contents/Resources/iconfile.icns
		"LSUIElement":                true,       // menu-bar app: no Dock icon until the window opens
		"NSHighResolutionCapable":    true,
	}
	for key, w := range want {
		if got, ok := d[key]; !ok || got != w {
			t.Errorf("%s = %#v (present: %v), want %#v", key, got, ok, w)
		}
	}
	for _, key := range []string{"CFBundleGetInfoString", "NSHumanReadableCopyright"} {
		if s, ok := d[key].(string); !ok || s == "" {
			t.Errorf("%s = %#v, want a non-empty string", key, d[key])
		}
	}
	// Go 1.26 binaries need macOS 12: a lower minimum would let a Mac
	// install an app that cannot start.
	min, _ := d["LSMinimumSystemVersion"].(string)
	if m := regexp.MustCompile(`^(\d+)(\.\d+){0,2}$`).FindStringSubmatch(min); m == nil {
		t.Errorf("LSMinimumSystemVersion = %#v, want a version like 12.0.0", d["LSMinimumSystemVersion"])
	} else if major, _ := strconv.Atoi(m[1]); major < 12 {
		t.Errorf("LSMinimumSystemVersion = %s, below Go 1.26's macOS 12", min)
	}
	if _, err := os.Stat(filepath.Join(repoRoot(t), "build", "appicon.png")); err != nil {
		t.Errorf("build/appicon.png, which wails build turns into iconfile.icns: %v", err)
	}
}

// TestSetVersion_RefusesNonReleaseTags: only vX.Y.Z reaches wails.json, and a
// refused tag leaves it as it was.
func TestSetVersion_RefusesNonReleaseTags(t *testing.T) {
	wailsJSON := filepath.Join(t.TempDir(), "wails.json")
	copyFile(t, filepath.Join(repoRoot(t), "wails.json"), wailsJSON)
	before, err := os.ReadFile(wailsJSON)
	must(t, err)
	for _, tag := range []string{"1.2.3", "v1.2", "v1.2.3-rc.1", "main", "v1.2.3\n", ""} {
		out, err := exec.Command("bash", "set-version.sh", tag, wailsJSON).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "not a release tag") {
			t.Errorf("set-version.sh %q: err %v, output %q; want a refusal", tag, err, out)
		}
	}
	after, err := os.ReadFile(wailsJSON)
	must(t, err)
	if string(after) != string(before) {
		t.Errorf("a refused tag changed wails.json:\n%s", after)
	}
	out, err := exec.Command("bash", "set-version.sh", "v10.20.30", wailsJSON).Output()
	if err != nil || string(out) != "10.20.30\n" {
		t.Fatalf("set-version.sh v10.20.30: %q, %v", out, err)
	}
	var w struct {
		Name string
		Info struct{ ProductVersion string }
	}
	b, err := os.ReadFile(wailsJSON)
	must(t, err)
	must(t, json.Unmarshal(b, &w))
	if w.Info.ProductVersion != "10.20.30" || w.Name != "modelbar" {
		t.Errorf("wails.json after set-version.sh: %+v", w)
	}
}

// parsePlist reads an XML property list into Go values (string, bool,
// int64, float64, []any, map[string]any, and []byte/string for data/date),
// enforcing what plutil -lint does: a plist root with one value, dicts of
// alternating key/value with unique keys, only the plist element names.
func parsePlist(r io.Reader) (any, error) {
	dec := xml.NewDecoder(r)
	dec.Strict = true
	start, err := nextStart(dec)
	if err != nil {
		return nil, err
	}
	if start.Name.Local != "plist" {
		return nil, fmt.Errorf("root element <%s>, want <plist>", start.Name.Local)
	}
	first, err := nextStart(dec)
	if err != nil {
		return nil, fmt.Errorf("<plist>: %w", err)
	}
	v, err := plistValue(dec, first)
	if err != nil {
		return nil, err
	}
	if extra, err := nextStart(dec); err == nil {
		return nil, fmt.Errorf("<plist> holds more than one value (<%s>)", extra.Name.Local)
	} else if !errors.Is(err, errEnd) {
		return nil, err
	}
	return v, nil
}

// errEnd is nextStart's answer when an element ends (or the document does)
// before another starts.
var errEnd = errors.New("end of element")

// nextStart returns the next start element, skipping whitespace, comments
// and directives; errEnd at an end element or the end of the document.
func nextStart(dec *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return xml.StartElement{}, errEnd
		}
		if err != nil {
			return xml.StartElement{}, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			return tok, nil
		case xml.EndElement:
			return xml.StartElement{}, errEnd
		case xml.CharData:
			if strings.TrimSpace(string(tok)) != "" {
				return xml.StartElement{}, fmt.Errorf("text %q between elements", tok)
			}
		}
	}
}

func plistValue(dec *xml.Decoder, start xml.StartElement) (any, error) {
	switch start.Name.Local {
	case "true", "false":
		if err := dec.Skip(); err != nil {
			return nil, err
		}
		return start.Name.Local == "true", nil
	case "string", "date", "data":
		var s string
		if err := dec.DecodeElement(&s, &start); err != nil {
			return nil, err
		}
		return s, nil
	case "integer":
		var s string
		if err := dec.DecodeElement(&s, &start); err != nil {
			return nil, err
		}
		return strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	case "real":
		var s string
		if err := dec.DecodeElement(&s, &start); err != nil {
			return nil, err
		}
		return strconv.ParseFloat(strings.TrimSpace(s), 64)
	case "array":
		var a []any
		for {
			el, err := nextStart(dec)
			if errors.Is(err, errEnd) {
				return a, nil
			}
			if err != nil {
				return nil, err
			}
			v, err := plistValue(dec, el)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
	case "dict":
		return plistDict(dec)
	}
	return nil, fmt.Errorf("<%s> is not a plist element", start.Name.Local)
}

func plistDict(dec *xml.Decoder) (map[string]any, error) {
	d := map[string]any{}
	for {
		el, err := nextStart(dec)
		if errors.Is(err, errEnd) {
			return d, nil
		}
		if err != nil {
			return nil, err
		}
		if el.Name.Local != "key" {
			return nil, fmt.Errorf("<dict> holds <%s> where a <key> belongs", el.Name.Local)
		}
		var key string
		if err := dec.DecodeElement(&key, &el); err != nil {
			return nil, err
		}
		if _, dup := d[key]; dup {
			return nil, fmt.Errorf("key %s twice", key)
		}
		vel, err := nextStart(dec)
		if err != nil {
			return nil, fmt.Errorf("key %s has no value: %w", key, err)
		}
		if d[key], err = plistValue(dec, vel); err != nil {
			return nil, fmt.Errorf("key %s: %w", key, err)
		}
	}
}

// TestParsePlist_Refuses: the checker itself rejects what plutil would.
func TestParsePlist_Refuses(t *testing.T) {
	for name, doc := range map[string]string{
		"not xml":       `<plist><dict><key>a</key><string>x</dict></plist>`,
		"key no value":  `<plist><dict><key>a</key></dict></plist>`,
		"two values":    `<plist><dict/><dict/></plist>`,
		"duplicate key": `<plist><dict><key>a</key><true/><key>a</key><false/></dict></plist>`,
		"value for key": `<plist><dict><string>a</string><true/></dict></plist>`,
		"unknown":       `<plist><dict><key>a</key><bool>1</bool></dict></plist>`,
		"not a plist":   `<html/>`,
		"stray text":    `<plist><dict>x<key>a</key><true/></dict></plist>`,
		"unescaped &":   `<plist><dict><key>a</key><string>a & b</string></dict></plist>`,
	} {
		if v, err := parsePlist(strings.NewReader(doc)); err == nil {
			t.Errorf("%s: parsed %#v, want an error", name, v)
		}
	}
	v, err := parsePlist(strings.NewReader(`<?xml version="1.0"?><plist version="1.0"><dict><key>a</key><array><integer>1</integer><real>2.5</real><string>s</string></array><key>b</key><false/></dict></plist>`))
	want := map[string]any{"a": []any{int64(1), 2.5, "s"}, "b": false}
	if err != nil || !reflect.DeepEqual(v, want) {
		t.Errorf("parsePlist = %#v, %v; want %#v", v, err, want)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	must(t, err)
	must(t, os.MkdirAll(filepath.Dir(to), 0o755))
	must(t, os.WriteFile(to, b, 0o644))
}

// TestLaunchAgentPlist checks the LaunchAgent bundle.sh darwin writes into
// the app for SMAppService, for the bundle id and executable of the
// release's rendered Info.plist: well-formed, in the file name the app
// registers (desktop.BundledAgentPlist), starting the bundle's executable
// with --hidden at login, and labelled apart from the LaunchAgent older
// versions wrote to ~/Library/LaunchAgents.
func TestLaunchAgentPlist(t *testing.T) {
	v, err := parsePlist(strings.NewReader(string(renderInfoPlist(t, "v1.2.3"))))
	must(t, err)
	info, _ := v.(map[string]any)
	id, _ := info["CFBundleIdentifier"].(string)
	exe, _ := info["CFBundleExecutable"].(string)
	if id+".plist" != desktop.BundledAgentPlist || id != desktop.BundleID {
		t.Errorf("Info.plist's bundle id %q: the app registers %s", id, desktop.BundledAgentPlist)
	}
	out, err := exec.Command("bash", "bundle.sh", "launch-agent", id, exe).Output()
	if err != nil {
		t.Fatalf("bundle.sh launch-agent %s %s: %v", id, exe, err)
	}
	if !strings.Contains(string(out), `<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN"`) {
		t.Error("no plist DOCTYPE")
	}
	v, err = parsePlist(strings.NewReader(string(out)))
	if err != nil {
		t.Fatalf("LaunchAgent: %v\n%s", err, out)
	}
	want := map[string]any{
		"Label":                       id + ".login",
		"BundleProgram":               "Contents/MacOS/" + exe,
		"ProgramArguments":            []any{"Contents/MacOS/" + exe, "--hidden"},
		"AssociatedBundleIdentifiers": []any{id},
		"RunAtLoad":                   true,
		"ProcessType":                 "Interactive",
	}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("LaunchAgent = %#v\nwant %#v", v, want)
	}
	if want["Label"] == desktop.LaunchAgentLabel {
		t.Errorf("the bundled agent's label is the old LaunchAgent's, %s", desktop.LaunchAgentLabel)
	}

	for _, args := range [][]string{{"launch-agent", "dev modelbar", exe}, {"launch-agent", id, "../modelbar"}, {"launch-agent", id}} {
		if out, err := exec.Command("bash", append([]string{"bundle.sh"}, args...)...).CombinedOutput(); err == nil {
			t.Errorf("bundle.sh %q = %s, want a refusal", args, out)
		}
	}
}
