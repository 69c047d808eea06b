// Command modelbar gives every editor, IDE plugin and script one local
// endpoint for language models. See README.md.
//
// `modelbar serve` runs the gateway headless; `modelbar` alone runs the
// desktop app (desktop.go, built with the desktop tags). Both serve the
// web UI embedded here.
package main

import (
	"context"
	"embed"
	"io/fs"
	"os"

	"github.com/modelbar/modelbar/backend/cli"
)

// dist is the built frontend (npm ci && npm run build in frontend/).
//
//go:embed all:frontend/dist
var dist embed.FS

func main() {
	ui, err := fs.Sub(dist, "frontend/dist")
	if err != nil {
		panic(err) // a constant, valid path
	}
	os.Exit(cli.Main(context.Background(), os.Args[1:], cli.Env{
		Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, UI: ui, Desktop: desktopApp(ui),
	}))
}
