// Package desktop is the desktop app's logic that needs neither Wails nor
// the tray: its command line, whether there is a display to open a window
// on, launching at login, and (macOS) whether the app shows in the Dock.
// Package main wires it to Wails; everything here is testable on a
// headless Linux machine.
package desktop

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/modelbar/modelbar/backend/server"
)

// Options is the desktop app's command line: `modelbar [--hidden]
// [--addr A] [--data-dir D] [--log-level L]`, with the same environment
// defaults as `modelbar serve`.
type Options struct {
	Hidden   bool   // start in the menu bar only (launch at login uses it)
	Addr     string // listen address
	DataDir  string // "" until Resolve fills in the default
	LogLevel string
}

// ParseArgs reads the desktop app's flags; getenv supplies MODELBAR_ADDR,
// MODELBAR_DATA_DIR and MODELBAR_LOG_LEVEL (flags win). Errors are already
// printed to stderr; flag.ErrHelp means -h was asked for.
func ParseArgs(args []string, getenv func(string) string, stderr io.Writer) (Options, error) {
	var o Options
	fs := flag.NewFlagSet("modelbar", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.Hidden, "hidden", false, "start in the menu bar without opening the window")
	fs.StringVar(&o.Addr, "addr", envOr(getenv, "MODELBAR_ADDR", server.DefaultAddr), "listen address (env MODELBAR_ADDR)")
	fs.StringVar(&o.DataDir, "data-dir", getenv("MODELBAR_DATA_DIR"), "data directory (env MODELBAR_DATA_DIR; default <user config dir>/modelbar)")
	fs.StringVar(&o.LogLevel, "log-level", envOr(getenv, "MODELBAR_LOG_LEVEL", "info"), "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "modelbar: unexpected argument %q (the headless gateway is `modelbar serve`)\n", fs.Arg(0))
		return o, errors.New("unexpected argument")
	}
	if o.DataDir == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			fmt.Fprintln(stderr, "modelbar: find the user config dir (set --data-dir):", err)
			return o, err
		}
		o.DataDir = filepath.Join(dir, "modelbar")
	}
	return o, nil
}

// Logger is the text logger at o.LogLevel, writing to w.
func (o Options) Logger(w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(strings.ToUpper(o.LogLevel))); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", o.LogLevel)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv})), nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// NoDisplay is what the desktop app prints when it cannot open a window.
const NoDisplay = "modelbar: no display to open the desktop app on (neither DISPLAY nor WAYLAND_DISPLAY is set); " +
	"run the gateway headless with `modelbar serve`"

// NotBuilt is what a build without the desktop tags prints for `modelbar`.
const NotBuilt = "modelbar: this build has no desktop app (build with -tags desktop,production; see README.md); " +
	"run the gateway headless with `modelbar serve`"

// HasDisplay reports whether goos has a display to open a window on: on
// X11/Wayland systems the session says so in DISPLAY or WAYLAND_DISPLAY;
// macOS and Windows always have one.
func HasDisplay(goos string, getenv func(string) string) bool {
	switch goos {
	case "darwin", "windows":
		return true
	}
	return getenv("DISPLAY") != "" || getenv("WAYLAND_DISPLAY") != ""
}

func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}
