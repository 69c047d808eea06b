package downloads

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

type diskHub struct{ Hub }

func (diskHub) Plan(_ context.Context, repo, rev string) (Plan, error) {
	return Plan{Repo: repo, Revision: rev, Commit: "1", Files: []File{{Path: "model.safetensors", Size: 100 << 20}}}, nil
}

// A download that cannot fit on the disk is refused before it starts;
// what the cache holds of it already counts.
func TestStart_DiskFull(t *testing.T) {
	cache := t.TempDir()
	diskFree = func(string) int64 { return 60 << 20 }
	defer func() { diskFree = freeDisk }()
	m, err := New(t.Context(), Options{Hub: diskHub{}, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, err = m.Start(t.Context(), "org/big", "main")
	var e *Error
	if !errors.As(err, &e) || e.Kind != DiskFull || e.Message == "" {
		t.Fatalf("Start: %v, want disk_full", err)
	}
	blobs := filepath.Join(cache, "models--org--big", "blobs")
	os.MkdirAll(blobs, 0o755)
	if err := os.WriteFile(filepath.Join(blobs, "abc.incomplete"), make([]byte, 50<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(t.Context(), "org/big", "main"); err != nil {
		t.Fatalf("Start with half of it in the cache: %v", err)
	}
}

func (diskHub) Fetch(ctx context.Context, _ Plan, _ func(done, total int64)) error {
	<-ctx.Done()
	return ctx.Err()
}
