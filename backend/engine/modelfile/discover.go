package modelfile

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/modelbar/modelbar/backend/hfcache"
)

// RootKind is the layout of a directory Discover searches.
type RootKind int

const (
	// ModelsDir is modelbar's layout: <dir>/<org>/<name>/ (a model
	// directly in <dir>/<name>/ is found too).
	ModelsDir RootKind = iota
	// HFCache is the Hugging Face hub cache: <dir>/models--<org>--<name>/
	// with snapshots/<revision>/ (files linking into blobs/) and
	// refs/main naming the current revision.
	HFCache
)

func (k RootKind) String() string {
	if k == HFCache {
		return "hf-cache"
	}
	return "models"
}

// Root is a directory to search for models.
type Root struct {
	Kind RootKind
	Dir  string
}

// ModelsRoot is modelbar's models directory under its data directory.
func ModelsRoot(dataDir string) Root { return Root{ModelsDir, filepath.Join(dataDir, "models")} }

// HFCacheRoot is the Hugging Face hub cache: $HF_HUB_CACHE, else
// $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub, as huggingface_hub resolves it.
func HFCacheRoot() Root {
	home, _ := os.UserHomeDir()
	return Root{HFCache, hfcache.Dir(os.Getenv, home)}
}

// Entry is one model directory Discover found, usable or not.
type Entry struct {
	ID            string   // repo id, "org/name"
	Source        RootKind // the kind of root it was found in
	Path          string   // the directory with config.json (for HFCache, the snapshot)
	Revision      string   // HFCache only: the snapshot's commit
	SizeOnDisk    int64    // its files, symbolic links followed, each blob once
	Architecture  string   // model_type, when config.json says
	Quantization  string   // "4bit g64", "8bit g32", "bf16", "f16", "f32"; "" if unknown
	ContextLength int      // max_position_embeddings
	Reason        string   // why the model is not usable; "" when it is
}

// Usable reports whether Open should succeed.
func (e Entry) Usable() bool { return e.Reason == "" }

// Discover lists the models under roots, sorted by ID, then root order,
// then path. A directory that is not a usable model (no config.json, an
// unsupported architecture, no or broken weights...) is listed with the
// Reason. Missing or unreadable roots give nothing. Discover reads configs
// and safetensors headers, never tensor data.
func Discover(roots ...Root) []Entry {
	type found struct {
		Entry
		root int
	}
	var all []found
	for i, root := range roots {
		list := discoverModels
		if root.Kind == HFCache {
			list = discoverHF
		}
		for _, e := range list(root.Dir) {
			e.Source = root.Kind
			all = append(all, found{e, i})
		}
	}
	slices.SortStableFunc(all, func(a, b found) int {
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		if a.root != b.root {
			return a.root - b.root
		}
		return strings.Compare(a.Path, b.Path)
	})
	entries := make([]Entry, len(all))
	for i, f := range all {
		entries[i] = f.Entry
	}
	return entries
}

// discoverModels lists <dir>/<org>/<name>/ and <dir>/<name>/ models.
func discoverModels(dir string) []Entry {
	var entries []Entry
	for _, org := range subdirs(dir) {
		orgDir := filepath.Join(dir, org)
		if exists(filepath.Join(orgDir, ConfigFile)) {
			entries = append(entries, describe(org, orgDir))
			continue
		}
		names := subdirs(orgDir)
		if len(names) == 0 {
			entries = append(entries, Entry{ID: org, Path: orgDir, Reason: "empty directory: want <org>/<name>/ with a model"})
		}
		for _, name := range names {
			entries = append(entries, describe(org+"/"+name, filepath.Join(orgDir, name)))
		}
	}
	return entries
}

// discoverHF lists the model repos of a Hugging Face hub cache.
func discoverHF(dir string) []Entry {
	var entries []Entry
	for _, repo := range subdirs(dir) {
		rest, ok := strings.CutPrefix(repo, "models--")
		if !ok {
			continue // datasets--, spaces--, .locks
		}
		id := strings.Replace(rest, "--", "/", 1)
		repoDir := filepath.Join(dir, repo)
		rev, snap, err := hfSnapshot(repoDir)
		if err != nil {
			entries = append(entries, Entry{ID: id, Path: repoDir, Reason: err.Error(), SizeOnDisk: dirSize(repoDir)})
			continue
		}
		e := describe(id, snap)
		e.Revision = rev
		entries = append(entries, e)
	}
	return entries
}

// hfSnapshot picks a cached repo's snapshot: the one refs/main names,
// else the most recently modified (then the greatest name).
func hfSnapshot(repoDir string) (rev, path string, err error) {
	snaps := filepath.Join(repoDir, "snapshots")
	if ref, err := os.ReadFile(filepath.Join(repoDir, "refs", "main")); err == nil {
		rev = strings.TrimSpace(string(ref))
		if rev != "" && rev != "." && rev != ".." && !strings.ContainsAny(rev, `/\`) && isDir(filepath.Join(snaps, rev)) {
			return rev, filepath.Join(snaps, rev), nil
		}
	}
	var best fs.FileInfo
	for _, name := range subdirs(snaps) {
		fi, err := os.Stat(filepath.Join(snaps, name))
		if err == nil && (best == nil || !fi.ModTime().Before(best.ModTime())) {
			best = fi
		}
	}
	if best == nil {
		return "", "", fmt.Errorf("no snapshot downloaded")
	}
	return best.Name(), filepath.Join(snaps, best.Name()), nil
}

// describe inspects one candidate model directory.
func describe(id, dir string) Entry {
	e := Entry{ID: id, Path: dir, SizeOnDisk: dirSize(dir)}
	mc, cat, quant, err := inspect(dir)
	if mc != nil {
		e.Architecture, e.ContextLength = mc.Architecture, mc.MaxPositionEmbeddings
	} else {
		var raw struct {
			ModelType string `json:"model_type"`
		}
		if data, err := os.ReadFile(filepath.Join(dir, ConfigFile)); err == nil && json.Unmarshal(data, &raw) == nil {
			e.Architecture = raw.ModelType
		}
	}
	if err != nil {
		e.Reason = reason(err, dir)
		return e
	}
	e.Quantization = describeQuant(mc.Config, quant, cat)
	return e
}

// describeQuant names how a model's weights are stored.
func describeQuant(c Config, quant map[string]*Quantization, cat *catalog) string {
	if q := quant["model.embed_tokens"]; q != nil {
		s := fmt.Sprintf("%dbit g%d", q.Bits, q.GroupSize)
		for _, lq := range quant {
			if lq == nil || *lq != *q {
				return s + " mixed"
			}
		}
		return s
	}
	if c.Quantization != nil {
		return fmt.Sprintf("%dbit g%d mixed", c.Quantization.Bits, c.Quantization.GroupSize)
	}
	info, _, _ := cat.find("model.embed_tokens.weight")
	return strings.ToLower(string(info.dtype))
}

// reason shortens an error for an Entry: paths inside dir become relative.
func reason(err error, dir string) string {
	msg := strings.TrimPrefix(err.Error(), dir+": ")
	return strings.ReplaceAll(msg, dir+string(filepath.Separator), "")
}

// subdirs lists the directories (or links to directories) in dir, sorted,
// skipping hidden ones.
func subdirs(dir string) []string {
	des, _ := os.ReadDir(dir)
	var names []string
	for _, de := range des {
		if !strings.HasPrefix(de.Name(), ".") && isDir(filepath.Join(dir, de.Name())) {
			names = append(names, de.Name())
		}
	}
	return names
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// dirSize sums the sizes of the regular files under dir, following
// symbolic links wherever they are: dir itself may be one (a model linked
// into the models directory), files may link elsewhere (a Hugging Face
// snapshot's files link into blobs/), and so may directories. Each file
// is counted once however many links reach it, and each directory is
// read once, so a link loop ends. filepath.WalkDir follows none of these
// (it does not even descend into a root that is a link), which made a
// linked model weigh 0 bytes and escape the memory budget.
func dirSize(dir string) int64 {
	files, dirs := map[string]bool{}, map[string]bool{}
	var total int64
	var walk func(dir string)
	walk = func(dir string) {
		real, err := filepath.EvalSymlinks(dir)
		if err != nil || dirs[real] {
			return
		}
		dirs[real] = true
		des, _ := os.ReadDir(real)
		for _, de := range des {
			path := filepath.Join(real, de.Name())
			fi, err := os.Stat(path) // through any link
			switch {
			case err != nil:
			case fi.IsDir():
				walk(path)
			case fi.Mode().IsRegular():
				if target, err := filepath.EvalSymlinks(path); err == nil && !files[target] {
					files[target] = true
					total += fi.Size()
				}
			}
		}
	}
	walk(dir)
	return total
}
