package engine

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/engine/pool"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
)

// changes collects what OnChange hears, for waiting on.
type changes chan Change

func (c changes) add(ch Change) { c <- ch }

// expect waits for want, in order; other changes may come between them.
func (c changes) expect(t *testing.T, want ...Change) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	var got []Change
	for len(want) > 0 {
		select {
		case ch := <-c:
			got = append(got, ch)
			if ch == want[0] {
				want = want[1:]
			}
		case <-deadline:
			t.Fatalf("heard %v, still waiting for %v", got, want)
		}
	}
}

// A rescan tells of models added to and removed from a root; loading,
// pinning and unloading are told as they happen.
func TestEngine_OnChangeTellsDiskAndMemoryChanges(t *testing.T) {
	dir := t.TempDir()
	write := func(name string) {
		t.Helper()
		if err := testmodel.Write(filepath.Join(dir, "models", "test", name), testmodel.Spec{Seed: 1}); err != nil {
			t.Fatal(err)
		}
	}
	write("a")
	b := cpu.New()
	t.Cleanup(func() { b.Close() })
	e := New(Options{Roots: []modelfile.Root{modelfile.ModelsRoot(dir)}, Budget: 1 << 30, Backend: b, Rescan: 20 * time.Millisecond})
	t.Cleanup(e.Close)
	heard := make(changes, 64)
	e.OnChange(heard.add)
	if got := len(e.Models()); got != 1 {
		t.Fatalf("%d models at start, want 1", got)
	}

	write("b")
	heard.expect(t, Change{Model: "test/b", Kind: Found})
	if err := os.RemoveAll(filepath.Join(dir, "models", "test", "a")); err != nil {
		t.Fatal(err)
	}
	heard.expect(t, Change{Model: "test/a", Kind: Removed})

	ctx := context.Background()
	if err := e.Load(ctx, "test/b", true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Unload("test/b"); err != nil {
		t.Fatal(err)
	}
	heard.expect(t, Change{Model: "test/b", Kind: pool.Loading}, Change{Model: "test/b", Kind: pool.Loaded}, Change{Model: "test/b", Kind: pool.Pinned},
		Change{Model: "test/b", Kind: pool.Unloaded})
}

func TestCatalogChanges(t *testing.T) {
	entries := func(ids ...string) []modelfile.Entry {
		var out []modelfile.Entry
		for _, id := range ids {
			out = append(out, modelfile.Entry{ID: id})
		}
		return out
	}
	for _, tc := range []struct {
		name          string
		before, after []modelfile.Entry
		want          []Change
	}{
		{"same", entries("a", "b"), entries("a", "b"), nil},
		{"added and removed", entries("a", "b"), entries("b", "c"), []Change{{Model: "c", Kind: Found}, {Model: "a", Kind: Removed}}},
		{"an id in two roots", nil, entries("a", "a"), []Change{{Model: "a", Kind: Found}}},
	} {
		if got := catalogChanges(tc.before, tc.after); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
