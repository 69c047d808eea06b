package server

import (
	"testing"

	"github.com/modelbar/modelbar/backend/engine/tensor/mlx"
)

func TestLoadedReason_NamesSkippedLibraries(t *testing.T) {
	for _, c := range []struct {
		skipped []mlx.Attempt
		want    string
	}{
		{nil, "libmlxc (MLX 0.31.1) loaded from /opt/homebrew/lib/libmlxc.dylib"},
		{
			[]mlx.Attempt{{Path: "/Applications/modelbar.app/Contents/Frameworks/libmlxc.dylib", Reason: "dlopen: Library not loaded: @rpath/libmlx.dylib"}},
			"libmlxc (MLX 0.31.1) loaded from /opt/homebrew/lib/libmlxc.dylib; skipped /Applications/modelbar.app/Contents/Frameworks/libmlxc.dylib: dlopen: Library not loaded: @rpath/libmlx.dylib",
		},
	} {
		if got := loadedReason("0.31.1", "/opt/homebrew/lib/libmlxc.dylib", c.skipped); got != c.want {
			t.Errorf("loadedReason = %q, want %q", got, c.want)
		}
	}
}
