// Package backend_test checks that imports flow one way (see STYLE.md):
// protocol, router and failover stay pure, the engine knows nothing of
// HTTP, storage or routing, providers never touch the store or the secret
// store, the gateway reaches the store only through config, nothing below
// the gateway imports it, the tray is a client of the admin API, only the
// adapters may import Wails or the tray, and only the MLX backend uses cgo.
// Every rule is checked for Linux, for macOS and with the desktop build
// tags, since build-tagged files import differently.
package backend_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/modelbar/modelbar/"

// builds are the configurations the rules are checked in.
var builds = []struct {
	name string
	env  []string
	tags string
}{
	{"linux", []string{"GOOS=linux"}, ""},
	{"darwin", []string{"GOOS=darwin", "GOARCH=arm64", "CGO_ENABLED=1"}, ""},
	{"desktop", nil, "desktop,production,webkit2_41"},
	{"darwin-desktop", []string{"GOOS=darwin", "GOARCH=arm64", "CGO_ENABLED=1"}, "desktop,production"},
}

func TestImports_FlowOneWay(t *testing.T) {
	pure := []string{"net/http", "database/sql", "os/exec", "backend/store", "backend/secrets", "backend/providers", "backend/config", "backend/gateway", "backend/server", "backend/engine"}
	above := []string{"backend/gateway", "backend/server", "backend/cli", "backend/desktop"}
	// Transitive: nothing the package imports, directly or not, may be one
	// of these.
	transitive := map[string][]string{
		"backend/router":    pure,
		"backend/protocol":  pure,
		"backend/redact":    pure,
		"backend/reqlog":    pure,
		"backend/respstore": pure, // stored Responses API answers: the gateway reaches the store through its interface
		"backend/metrics":   pure,
		"backend/budget":    pure, // the route budget counters: the gateway maps a refusal to its 429
		"backend/balance":   pure, // the group balancers: the gateway feeds them health and load
		"backend/auth":      pure, // the admin token, login codes and sessions: no HTTP, the gateway maps them
		"backend/connect":   pure, // the clients' configurations: values in, text out
		"backend/engine":    append([]string{"net/http", "database/sql", "backend/store", "backend/secrets", "backend/providers", "backend/config", "backend/router", "backend/failover", "backend/reqlog"}, above...),
		"backend/failover":  append([]string{"database/sql", "backend/store", "backend/secrets", "backend/config", "backend/engine", "backend/router", "backend/reqlog"}, above...),
		"backend/providers": append([]string{"backend/store", "backend/secrets", "backend/config", "backend/engine", "database/sql"}, above...),
		"backend/store":     append([]string{"net/http", "backend/secrets", "backend/providers", "backend/router", "backend/config", "backend/engine"}, above...),
		"backend/secrets":   append([]string{"net/http", "database/sql", "backend/store", "backend/providers", "backend/config", "backend/engine"}, above...),
		"backend/config":    above,
		"backend/gateway":   {"backend/server", "backend/cli", "backend/desktop", "backend/tray"},
		// The tray is a client: it reaches the gateway through the admin
		// API it is handed, never through the services themselves.
		"backend/tray": {"net/http", "database/sql", "backend/store", "backend/secrets", "backend/providers", "backend/config",
			"backend/router", "backend/engine", "backend/failover", "backend/gateway", "backend/server", "backend/protocol"},
		// Saved chat conversations: the gateway reaches the store through its interface.
		"backend/conversations": pure,
		// The Hugging Face Hub client speaks HTTP and writes the cache; the
		// download manager above it owns state, the engine reads the cache
		// through hfcache.
		"backend/hub": append([]string{"database/sql", "os/exec", "backend/store", "backend/secrets", "backend/providers", "backend/config",
			"backend/engine", "backend/router", "backend/failover", "backend/reqlog", "backend/events"}, above...),
		// The cache's directory and folder names, shared by the engine and hub.
		"backend/hfcache": pure,
	}
	// Direct: the package itself may not import these (it may reach them
	// through a package in between: the gateway reads and writes state
	// only through config, which owns the store).
	direct := map[string][]string{
		"backend/gateway":  {"backend/store", "backend/secrets", "database/sql"},
		"backend/failover": {"net/http"},
	}
	for _, b := range builds {
		t.Run(b.name, func(t *testing.T) {
			for pkg, forbidden := range transitive {
				check(t, pkg, deps(t, b.env, b.tags, "-deps", module+pkg), forbidden)
			}
			for pkg, forbidden := range direct {
				check(t, pkg, deps(t, b.env, b.tags, "-f", "{{join .Imports \"\\n\"}}", module+pkg), forbidden)
			}
		})
	}
}

func check(t *testing.T, pkg string, imports, forbidden []string) {
	t.Helper()
	for _, dep := range imports {
		for _, f := range forbidden {
			if dep == f || dep == module+f || strings.HasPrefix(dep, module+f+"/") {
				t.Errorf("%s imports %s: imports must flow one way", pkg, dep)
			}
		}
	}
}

func TestImports_OnlyAdaptersUseWailsOrTray(t *testing.T) {
	adapters := map[string]bool{strings.TrimSuffix(module, "/"): true, module + "backend/tray": true}
	for _, b := range builds {
		t.Run(b.name, func(t *testing.T) {
			for _, pkg := range deps(t, b.env, b.tags, "./...") {
				if adapters[pkg] {
					continue
				}
				for _, dep := range deps(t, b.env, b.tags, "-deps", pkg) {
					if strings.Contains(dep, "wailsapp/wails") || strings.Contains(dep, "systray") {
						t.Errorf("%s imports %s: only package main and the tray adapter may", pkg, dep)
					}
				}
			}
		})
	}
}

// TestImports_CgoInLeafPackages: cgo lives in the MLX backend (and, on
// macOS, the desktop adapter); everything else is pure Go.
func TestImports_CgoInLeafPackages(t *testing.T) {
	// The MLX backend; and on macOS the desktop adapter's Dock switch
	// (Objective-C on the main queue), which Wails offers no way to make.
	allowed := map[string]bool{module + "backend/engine/tensor/mlx": true, module + "backend/desktop": true}
	for _, b := range builds {
		t.Run(b.name, func(t *testing.T) {
			for _, line := range deps(t, b.env, b.tags, "-f", "{{.ImportPath}} {{len .CgoFiles}}", "./...") {
				pkg, n, _ := strings.Cut(line, " ")
				if n != "0" && !allowed[pkg] {
					t.Errorf("%s has %s cgo files: only the MLX backend and the desktop adapter may import \"C\"", pkg, n)
				}
			}
		})
	}
}

// deps runs go list with args in a build configuration and returns its
// output lines.
func deps(t *testing.T, env []string, tags string, args ...string) []string {
	t.Helper()
	list := []string{"list"}
	if tags != "" {
		list = append(list, "-tags", tags)
	}
	cmd := exec.Command("go", append(list, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list %v (%v): %v\n%s", args, env, err, msg)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}
