//go:build unix

package hub_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/modelbar/modelbar/backend/hub/hubtest"
)

// TestDownload_WaitsForAnotherWriter: while another process (here, the
// test) holds huggingface_hub's lock on a blob, the download waits for it
// rather than writing the same .incomplete.
func TestDownload_WaitsForAnotherWriter(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	m := h.AddModel(repo, tinyModel(t, 10), hubtest.ModelOptions{})
	cache := t.TempDir()
	lock := filepath.Join(cache, ".locks", "models--mlx-community--Tiny-Llama-bf16", shard(m).SHA256+".lock")
	if err := os.MkdirAll(filepath.Dir(lock), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(lock, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	const hold = 400 * time.Millisecond
	time.AfterFunc(hold, func() { f.Close() })
	start := time.Now()
	if _, err := download(t.Context(), t, newClient(h, ""), cache, repo); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < hold {
		t.Errorf("download finished in %s while the blob was locked for %s", took, hold)
	}
}
