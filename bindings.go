//go:build bindings

package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"

	"github.com/wailsapp/wails/v2"
	"github.com/wailsapp/wails/v2/pkg/options"
)

// desktopApp, in Wails' binding generator build (`-tags bindings`, which
// runs main), only declares what the window binds: no server, no tray, no
// secret store.
func desktopApp(fs.FS) func(context.Context, []string, io.Writer) int {
	return func(_ context.Context, _ []string, stderr io.Writer) int {
		if err := wails.Run(&options.App{Title: "modelbar", Bind: []any{&App{}}}); err != nil {
			fmt.Fprintln(stderr, "modelbar:", err)
			return 1
		}
		return 0
	}
}
