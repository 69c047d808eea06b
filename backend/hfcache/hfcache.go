// Package hfcache names the places of the Hugging Face hub cache as
// huggingface_hub lays it out. It is shared by the engine's model discovery
// and the Hub downloader so both agree on one directory; it imports nothing
// but the standard library's path handling, so the engine may use it
// without reaching net/http.
package hfcache

import (
	"path/filepath"
	"strings"
)

// Dir is the hub cache directory: $HF_HUB_CACHE, else $HF_HOME/hub, else
// $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub, as
// huggingface_hub's constants resolve it. getenv is os.Getenv in
// production; home is the user's home directory ("" if unknown).
func Dir(getenv func(string) string, home string) string {
	switch {
	case getenv("HF_HUB_CACHE") != "":
		return getenv("HF_HUB_CACHE")
	case getenv("HF_HOME") != "":
		return filepath.Join(getenv("HF_HOME"), "hub")
	case getenv("XDG_CACHE_HOME") != "":
		return filepath.Join(getenv("XDG_CACHE_HOME"), "huggingface", "hub")
	default:
		return filepath.Join(home, ".cache", "huggingface", "hub")
	}
}

// RepoFolder is a model repo's folder name in the cache:
// "models--org--name" for "org/name" (huggingface_hub's repo_folder_name).
func RepoFolder(repo string) string {
	return "models--" + strings.ReplaceAll(repo, "/", "--")
}
