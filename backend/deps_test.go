// Package backend_test checks that imports flow one way (see STYLE.md):
// protocol and router stay pure, providers never touch the store or the
// secret store, nothing below the gateway imports it, and only the
// adapters may import Wails or the tray, and only the MLX backend uses cgo.
package backend_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/modelbar/modelbar/"

func TestImports_FlowOneWay(t *testing.T) {
	pure := []string{"net/http", "database/sql", "os/exec", "backend/store", "backend/secrets", "backend/providers", "backend/config", "backend/gateway", "backend/server"}
	above := []string{"backend/gateway", "backend/server", "backend/cli"}
	rules := map[string][]string{
		"backend/router":    pure,
		"backend/protocol":  pure,
		"backend/redact":    pure,
		"backend/reqlog":    pure,
		"backend/metrics":   pure,
		"backend/auth":      pure, // the admin token, login codes and sessions: no HTTP, the gateway maps them
		"backend/providers": append([]string{"backend/store", "backend/secrets", "backend/config", "database/sql"}, above...),
		"backend/store":     append([]string{"net/http", "backend/secrets", "backend/providers", "backend/router", "backend/config"}, above...),
		"backend/secrets":   append([]string{"net/http", "database/sql", "backend/store", "backend/providers", "backend/config"}, above...),
		"backend/config":    above,
		"backend/gateway":   {"backend/server", "backend/cli"},
	}
	for pkg, forbidden := range rules {
		for _, dep := range deps(t, module+pkg) {
			for _, f := range forbidden {
				if dep == f || dep == module+f || strings.HasPrefix(dep, module+f+"/") {
					t.Errorf("%s imports %s (directly or not): imports must flow one way", pkg, dep)
				}
			}
		}
	}
}

func TestImports_OnlyAdaptersUseWailsOrTray(t *testing.T) {
	out, err := exec.Command("go", "list", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	adapters := map[string]bool{strings.TrimSuffix(module, "/"): true, module + "backend/tray": true}
	for _, pkg := range strings.Fields(string(out)) {
		if adapters[pkg] {
			continue
		}
		for _, dep := range deps(t, pkg) {
			if strings.Contains(dep, "wailsapp/wails") || strings.Contains(dep, "systray") {
				t.Errorf("%s imports %s: only package main and the tray adapter may", pkg, dep)
			}
		}
	}
}

// TestImports_CgoInLeafPackages: cgo lives in the MLX backend (and, on
// macOS, the desktop adapter); everything else is pure Go.
func TestImports_CgoInLeafPackages(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{len .CgoFiles}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	// The MLX backend; and on macOS the desktop adapter's Dock switch
	// (Objective-C on the main queue), which Wails offers no way to make.
	allowed := map[string]bool{module + "backend/engine/tensor/mlx": true, module + "backend/desktop": true}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, n, _ := strings.Cut(line, " ")
		if n != "0" && !allowed[pkg] {
			t.Errorf("%s has %s cgo files: only the MLX backend and the desktop adapter may import \"C\"", pkg, n)
		}
	}
}

func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}
