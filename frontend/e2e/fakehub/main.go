// Command fakehub serves the repo's fake Hugging Face Hub (backend/hub/hubtest)
// on loopback for the browser checks (frontend/e2e/discover.mjs), with one
// tiny random-weight MLX model (backend/engine/modelfile/testmodel) that the
// local engine can load and answer with, a copy of it to cancel, and a gated repo. Its
// file host is throttled so a download lasts long enough for the UI's
// progress to be seen. It prints "fakehub <url>" and serves until killed.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/hub/hubtest"
)

func main() {
	repo := flag.String("repo", "mlx-community/e2e-tiny-llama", "the tiny model's repo id")
	bps := flag.Int64("bytes-per-second", 64<<10, "the file host's throttle (0: none)")
	flag.Parse()
	dir, err := os.MkdirTemp("", "fakehub-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	model := filepath.Join(dir, "model")
	if err := testmodel.Write(model, testmodel.Spec{Seed: 1}); err != nil {
		fail(err)
	}
	files, err := hubtest.FilesFromDir(model)
	if err != nil {
		fail(err)
	}
	h, stop := hubtest.Start(hubtest.Options{})
	defer stop()
	h.AddModel(*repo, files, hubtest.ModelOptions{Downloads: 4242, Likes: 42, LastModified: time.Now().Add(-time.Hour)})
	h.AddModel("mlx-community/e2e-gated", files, hubtest.ModelOptions{Gated: true, Downloads: 7, Likes: 1})
	h.AddModel("mlx-community/e2e-to-cancel", files, hubtest.ModelOptions{Downloads: 3, Likes: 0})
	if *bps > 0 {
		h.SetFaults(hubtest.Faults{BytesPerSecond: *bps})
	}
	fmt.Println("fakehub", h.URL)
	select {} // until the test kills the process
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "fakehub:", err)
	os.Exit(1)
}
