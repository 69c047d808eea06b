package desktop

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LoginItem is the file that makes the session start modelbar at login: a
// LaunchAgent plist on macOS, an XDG autostart entry elsewhere. Its
// presence is the setting; there is nothing else to keep in sync. The zero
// value is unusable: build one with NewLoginItem.
type LoginItem struct {
	Path    string // where the file goes
	Content []byte // what it holds
}

// LaunchAgentLabel names modelbar's LaunchAgent (and its plist file).
const LaunchAgentLabel = "dev.modelbar.modelbar"

// NewLoginItem is the login item for goos that starts exe with --hidden;
// home is the user's home directory and configDir the XDG config dir
// ($XDG_CONFIG_HOME, ~/.config), which only non-macOS systems use.
func NewLoginItem(goos, home, configDir, exe string) (LoginItem, error) {
	if exe == "" || !filepath.IsAbs(exe) {
		return LoginItem{}, fmt.Errorf("launch at login: the program path %q is not absolute", exe)
	}
	switch goos {
	case "darwin":
		return LoginItem{
			Path:    filepath.Join(home, "Library", "LaunchAgents", LaunchAgentLabel+".plist"),
			Content: LaunchAgentPlist(exe),
		}, nil
	case "windows":
		return LoginItem{}, errors.New("launch at login: not supported on Windows")
	}
	return LoginItem{Path: filepath.Join(configDir, "autostart", "modelbar.desktop"), Content: DesktopEntry(exe)}, nil
}

// UserLoginItem is NewLoginItem for this user and the running program.
func UserLoginItem(goos string) (LoginItem, error) {
	exe, err := executable()
	if err != nil {
		return LoginItem{}, err
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return LoginItem{}, fmt.Errorf("launch at login: %w", err)
	}
	configDir := os.Getenv("XDG_CONFIG_HOME")
	if configDir == "" || !filepath.IsAbs(configDir) {
		configDir = filepath.Join(home, ".config")
	}
	return NewLoginItem(goos, home, configDir, exe)
}

// executable is the running program's path, symlinks resolved.
func executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("launch at login: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	return exe, nil
}

// Enabled reports whether the login item is installed (any content: a
// file the user edited still counts).
func (l LoginItem) Enabled() bool {
	_, err := os.Stat(l.Path)
	return err == nil
}

// SetEnabled installs (writing the file, its directory as needed) or
// removes the login item. Removing one that is not there is no error.
func (l LoginItem) SetEnabled(on bool) error {
	if !on {
		if err := os.Remove(l.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("launch at login: %w", err)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(l.Path), 0o755); err != nil {
		return fmt.Errorf("launch at login: %w", err)
	}
	tmp := l.Path + ".tmp"
	if err := os.WriteFile(tmp, l.Content, 0o644); err != nil {
		return fmt.Errorf("launch at login: %w", err)
	}
	if err := os.Rename(tmp, l.Path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("launch at login: %w", err)
	}
	return nil
}

// LaunchAgentPlist is a LaunchAgent that runs exe --hidden once at login.
func LaunchAgentPlist(exe string) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>` + LaunchAgentLabel + `</string>
	<key>ProgramArguments</key>
	<array>
		<string>`)
	xml.EscapeText(&b, []byte(exe))
	b.WriteString(`</string>
		<string>--hidden</string>
	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>ProcessType</key>
	<string>Interactive</string>
</dict>
</plist>
`)
	return b.Bytes()
}

// DesktopEntry is an XDG autostart entry that runs exe --hidden.
func DesktopEntry(exe string) []byte {
	return []byte(`[Desktop Entry]
Type=Application
Name=modelbar
Comment=One local endpoint for language models
Exec=` + execQuote(exe) + ` --hidden
Terminal=false
X-GNOME-Autostart-enabled=true
`)
}

// execQuote quotes an argument for a desktop entry's Exec key: inside
// double quotes, ", `, $ and \ are backslash-escaped, and the value's own
// escaping doubles each backslash again (Desktop Entry Specification,
// "The Exec key").
func execQuote(arg string) string {
	if arg != "" && !strings.ContainsAny(arg, " \t\n\"'\\><~|&;$*?#()`=%") {
		return arg
	}
	r := strings.NewReplacer(`"`, `\"`, "`", "\\`", `$`, `\$`, `\`, `\\`, `%`, `%%`)
	quoted := `"` + r.Replace(arg) + `"`
	return strings.ReplaceAll(quoted, `\`, `\\`)
}
