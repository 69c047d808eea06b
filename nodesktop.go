//go:build !desktop && !dev && !bindings

package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"

	"github.com/modelbar/modelbar/backend/desktop"
)

// desktopApp, in a build without the desktop tags, says so and points at
// the headless server.
func desktopApp(fs.FS) func(context.Context, []string, io.Writer) int {
	return func(_ context.Context, _ []string, stderr io.Writer) int {
		fmt.Fprintln(stderr, desktop.NotBuilt)
		return 2
	}
}
