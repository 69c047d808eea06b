package hfcache_test

import (
	"testing"

	"github.com/modelbar/modelbar/backend/hfcache"
)

func TestDir(t *testing.T) {
	tests := []struct{ hubCache, hfHome, xdg, want string }{
		{"/hc", "/hh", "/x", "/hc"},
		{"", "/hh", "/x", "/hh/hub"},
		{"", "", "/x", "/x/huggingface/hub"},
		{"", "", "", "/home/u/.cache/huggingface/hub"},
	}
	for _, tt := range tests {
		env := map[string]string{"HF_HUB_CACHE": tt.hubCache, "HF_HOME": tt.hfHome, "XDG_CACHE_HOME": tt.xdg}
		if got := hfcache.Dir(func(k string) string { return env[k] }, "/home/u"); got != tt.want {
			t.Errorf("%+v: got %q", tt, got)
		}
	}
}

func TestRepoFolder(t *testing.T) {
	if got := hfcache.RepoFolder("mlx-community/Qwen2.5-0.5B-Instruct-4bit"); got != "models--mlx-community--Qwen2.5-0.5B-Instruct-4bit" {
		t.Fatal(got)
	}
}
