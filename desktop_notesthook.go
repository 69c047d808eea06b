//go:build (desktop || dev) && !desktoptest && !bindings

package main

import (
	"context"
	"log/slog"
)

// startTestHook is the desktop test's window probe (desktop_testhook.go);
// a build without the desktoptest tag has none.
func startTestHook(context.Context, *slog.Logger) {}
