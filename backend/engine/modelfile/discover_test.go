package modelfile_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
)

func mkdir(t *testing.T, parts ...string) string {
	t.Helper()
	dir := filepath.Join(parts...)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// filesSize sums the sizes of the regular files directly in dir.
func filesSize(t *testing.T, dir string) int64 {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, de := range des {
		if fi, err := de.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}

// cacheRepo lays a model out as the Hugging Face cache does: its files
// moved to blobs/<sha256>, snapshots/<rev>/<name> linking to them,
// refs/main naming rev when ref is set. It returns the blobs' total size.
func cacheRepo(t *testing.T, hub, repo, rev string, ref bool, spec testmodel.Spec) int64 {
	t.Helper()
	src := writeModel(t, spec)
	blobs, snap := mkdir(t, hub, repo, "blobs"), mkdir(t, hub, repo, "snapshots", rev)
	des, _ := os.ReadDir(src)
	var total int64
	for _, de := range des {
		data, err := os.ReadFile(filepath.Join(src, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		hash := hex.EncodeToString(sum[:])
		writeFile(t, filepath.Join(blobs, hash), string(data))
		total += int64(len(data))
		if err := os.Symlink(filepath.Join("..", "..", "blobs", hash), filepath.Join(snap, de.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if ref {
		mkdir(t, hub, repo, "refs")
		writeFile(t, filepath.Join(hub, repo, "refs", "main"), rev+"\n")
	}
	return total
}

type want struct {
	id     string
	source modelfile.RootKind
	path   string
	rev    string
	size   int64 // -1: not checked
	arch   string
	quant  string
	ctx    int
	reason string // a substring of Reason; "" for usable
}

func TestDiscover(t *testing.T) {
	data := t.TempDir()
	models := filepath.Join(data, "models")
	q4 := testmodel.Spec{Architecture: "qwen2", Quantization: quant(4, 64), TieWordEmbeddings: true, MaxPositionEmbeddings: 4096}
	for name, spec := range map[string]testmodel.Spec{
		"mlx-community/Tiny-4bit": q4, "org/llama-bf16": {}, "org/noweights": {}, "loose": {DType: modelfile.F16},
		"org/mixed": {Architecture: "qwen3", Quantization: quant(8, 128)},
	} {
		if err := testmodel.Write(filepath.Join(models, name), spec); err != nil {
			t.Fatal(err)
		}
	}
	os.Remove(filepath.Join(models, "org", "noweights", "model.safetensors"))
	writeFile(t, filepath.Join(mkdir(t, models, "org", "gemma"), "config.json"), `{"model_type": "gemma2"}`)
	writeFile(t, filepath.Join(mkdir(t, models, "org", "noconfig"), "README.md"), "hello")
	mkdir(t, models, "emptyorg")
	mkdir(t, models, ".trash", "x")
	writeFile(t, filepath.Join(models, "notes.txt"), "not a model")

	hub := filepath.Join(data, "hub")
	repo := "models--mlx-community--Tiny-4bit"
	blobSize := cacheRepo(t, hub, repo, "abc123", true, q4)
	// An older snapshot sharing the config blob, and a second link to it.
	old := mkdir(t, hub, repo, "snapshots", "old000")
	cfg, _ := os.Readlink(filepath.Join(hub, repo, "snapshots", "abc123", "config.json"))
	os.Symlink(cfg, filepath.Join(old, "config.json"))
	os.Symlink(cfg, filepath.Join(hub, repo, "snapshots", "abc123", "config-copy.json"))
	cacheRepo(t, hub, "models--org--noref", "aaa", false, testmodel.Spec{Architecture: "mistral"})
	newer := cacheRepo(t, hub, "models--org--noref", "bbb", false, testmodel.Spec{Architecture: "mistral"})
	past := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(hub, "models--org--noref", "snapshots", "aaa"), past, past)
	mkdir(t, hub, "models--org--nosnap", "blobs")
	mkdir(t, hub, "datasets--org--data", "snapshots", "x")
	mkdir(t, hub, ".locks", "models--org--x")

	got := modelfile.Discover(modelfile.ModelsRoot(data), modelfile.Root{Kind: modelfile.HFCache, Dir: hub}, modelfile.ModelsRoot(filepath.Join(data, "absent")))
	snap := filepath.Join(hub, repo, "snapshots", "abc123")
	wants := []want{
		{"emptyorg", modelfile.ModelsDir, filepath.Join(models, "emptyorg"), "", 0, "", "", 0, "empty directory"},
		{"loose", modelfile.ModelsDir, filepath.Join(models, "loose"), "", filesSize(t, filepath.Join(models, "loose")), "llama", "f16", 2048, ""},
		{"mlx-community/Tiny-4bit", modelfile.ModelsDir, filepath.Join(models, "mlx-community", "Tiny-4bit"), "",
			filesSize(t, filepath.Join(models, "mlx-community", "Tiny-4bit")), "qwen2", "4bit g64", 4096, ""},
		{"mlx-community/Tiny-4bit", modelfile.HFCache, snap, "abc123", blobSize, "qwen2", "4bit g64", 4096, ""},
		{"org/gemma", modelfile.ModelsDir, filepath.Join(models, "org", "gemma"), "", -1, "gemma2", "", 0, `config.json: model_type: not supported: architecture "gemma2"`},
		{"org/llama-bf16", modelfile.ModelsDir, filepath.Join(models, "org", "llama-bf16"), "", -1, "llama", "bf16", 2048, ""},
		{"org/mixed", modelfile.ModelsDir, filepath.Join(models, "org", "mixed"), "", -1, "qwen3", "8bit g128 mixed", 2048, ""},
		{"org/noconfig", modelfile.ModelsDir, filepath.Join(models, "org", "noconfig"), "", 5, "", "", 0, "no config.json"},
		{"org/noref", modelfile.HFCache, filepath.Join(hub, "models--org--noref", "snapshots", "bbb"), "bbb", newer, "mistral", "bf16", 2048, ""},
		{"org/nosnap", modelfile.HFCache, filepath.Join(hub, "models--org--nosnap"), "", 0, "", "", 0, "no snapshot"},
		{"org/noweights", modelfile.ModelsDir, filepath.Join(models, "org", "noweights"), "", -1, "llama", "", 2048, "no safetensors weights"},
	}
	if diff := cmp.Diff(wants, summarize(got, wants), cmp.AllowUnexported(want{})); diff != "" {
		t.Errorf("Discover (-want +got):\n%s", diff)
	}
	for _, e := range got {
		t.Logf("%+v", e)
		if e.Usable() != (e.Reason == "") || strings.Contains(e.Reason, data) {
			t.Errorf("%s: Reason %q should be short and relative", e.ID, e.Reason)
		}
	}
	if again := modelfile.Discover(modelfile.ModelsRoot(data), modelfile.Root{Kind: modelfile.HFCache, Dir: hub}); !cmp.Equal(got, again) {
		t.Error("a second Discover differs")
	}
}

// summarize maps entries onto want's fields, keeping a reason that
// contains the wanted substring as that substring.
func summarize(got []modelfile.Entry, wants []want) []want {
	out := make([]want, len(got))
	for i, e := range got {
		w := want{e.ID, e.Source, e.Path, e.Revision, e.SizeOnDisk, e.Architecture, e.Quantization, e.ContextLength, e.Reason}
		if i < len(wants) {
			if wants[i].size == -1 {
				w.size = -1
			}
			if wants[i].reason != "" && strings.Contains(e.Reason, wants[i].reason) {
				w.reason = wants[i].reason
			}
		}
		out[i] = w
	}
	return out
}

func TestHFCacheRoot_Env(t *testing.T) {
	t.Setenv("HOME", "/home/u")
	tests := []struct{ hubCache, hfHome, xdg, want string }{
		{"/hc", "/hh", "/x", "/hc"},
		{"", "/hh", "/x", "/hh/hub"},
		{"", "", "/x", "/x/huggingface/hub"},
		{"", "", "", "/home/u/.cache/huggingface/hub"},
	}
	for _, tt := range tests {
		t.Setenv("HF_HUB_CACHE", tt.hubCache)
		t.Setenv("HF_HOME", tt.hfHome)
		t.Setenv("XDG_CACHE_HOME", tt.xdg)
		if got := modelfile.HFCacheRoot(); got != (modelfile.Root{Kind: modelfile.HFCache, Dir: tt.want}) {
			t.Errorf("%+v: got %+v", tt, got)
		}
	}
}

// A model directory that is itself a symbolic link, and one whose files
// (and a subdirectory) link elsewhere, weigh what their targets weigh:
// each file once, however many links reach it, and a link loop ends.
func TestDiscover_SizesFollowSymlinks(t *testing.T) {
	data := t.TempDir()
	store := filepath.Join(data, "store")
	if err := testmodel.Write(filepath.Join(store, "real"), testmodel.Spec{Seed: 3}); err != nil {
		t.Fatal(err)
	}
	size := filesSize(t, filepath.Join(store, "real"))
	org := mkdir(t, data, "models", "org")
	if err := os.Symlink(filepath.Join(store, "real"), filepath.Join(org, "linked")); err != nil {
		t.Fatal(err)
	}
	// org/files: every file a link to the real one, a second link to the
	// config, a linked directory holding a 7-byte file, and a loop.
	files := mkdir(t, org, "files")
	des, _ := os.ReadDir(filepath.Join(store, "real"))
	for _, de := range des {
		if err := os.Symlink(filepath.Join(store, "real", de.Name()), filepath.Join(files, de.Name())); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink(filepath.Join(files, "config.json"), filepath.Join(files, "config-copy.json"))
	writeFile(t, filepath.Join(mkdir(t, store, "extra"), "notes.md"), "7 bytes")
	os.Symlink(filepath.Join(store, "extra"), filepath.Join(files, "extra"))
	os.Symlink(files, filepath.Join(files, "loop"))

	got := map[string]int64{}
	for _, e := range modelfile.Discover(modelfile.ModelsRoot(data)) {
		if !e.Usable() {
			t.Errorf("%s: %s", e.ID, e.Reason)
		}
		got[e.ID] = e.SizeOnDisk
	}
	want := map[string]int64{"org/linked": size, "org/files": size + 7}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sizes (-want +got):\n%s", diff)
	}
	m, err := modelfile.Open(filepath.Join(org, "linked"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.SizeOnDisk() != size {
		t.Errorf("Open(linked).SizeOnDisk() = %d, want %d", m.SizeOnDisk(), size)
	}
}
