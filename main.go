// Command modelbar gives every editor, IDE plugin and script one local
// endpoint for language models. See README.md.
package main

import (
	"context"
	"os"

	"github.com/modelbar/modelbar/backend/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], cli.Env{
		Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Desktop: runDesktop,
	}))
}
