package main

import (
	"context"
	"fmt"
	"io"
)

// runDesktop is `modelbar` without a command: the desktop app (window, tray
// and the same server as `modelbar serve`). The Wails shell is not part of
// this build yet, so it says so and points at the headless server.
func runDesktop(_ context.Context, _ []string, stderr io.Writer) int {
	fmt.Fprintln(stderr, "modelbar: the desktop app is not part of this build yet; run the gateway headless with `modelbar serve`")
	return 2
}
