package hub_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/hub"
	"github.com/modelbar/modelbar/backend/hub/hubtest"
)

const repo = "mlx-community/Tiny-Llama-bf16"

// tinyModel is a generated two-shard MLX model plus files a download
// must skip (a README, an image, a GGUF copy).
func tinyModel(t *testing.T, seed uint64) map[string][]byte {
	t.Helper()
	dir := t.TempDir()
	if err := testmodel.Write(dir, testmodel.Spec{Shards: 2, Seed: seed}); err != nil {
		t.Fatal(err)
	}
	files, err := hubtest.FilesFromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files["README.md"] = []byte("# Tiny\n")
	files["assets/logo.png"] = []byte("\x89PNG fake")
	files["tiny.gguf"] = []byte("GGUF fake weights")
	return files
}

func newClient(h *hubtest.Hub, token string) *hub.Client {
	c := hub.NewClient(h.URL, token)
	c.RetryDelay = time.Millisecond
	return c
}

func shard(m hubtest.Model) hubtest.File {
	for _, f := range m.Files {
		if strings.HasPrefix(f.Path, "model-00001") {
			return f
		}
	}
	panic("no shard")
}

// tree is the cache as huggingface_hub's layout docs describe it: a path
// maps to "-> target" for a symlink, the content for refs, "blob <n>"
// for a blob of n bytes.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			tgt, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "-> " + tgt
		case strings.Contains(rel, "/refs/"):
			b, _ := os.ReadFile(p)
			out[rel] = string(b)
		default:
			st, _ := e.Info()
			out[rel] = "blob " + fmtInt(st.Size())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func fmtInt(n int64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// golden is the tree huggingface_hub's snapshot_download writes for the
// needed files of m at "main": blobs named by the LFS sha256 (weights)
// or the git blob sha1 (the rest), snapshot entries as relative symlinks
// ../../blobs/<id>, and refs/main holding the commit without a newline.
func golden(m hubtest.Model) map[string]string {
	base := "models--" + strings.ReplaceAll(m.Repo, "/", "--") + "/"
	out := map[string]string{base + "refs/main": m.Commit}
	for _, f := range m.Files {
		if f.Path == "README.md" || f.Path == "tiny.gguf" || strings.HasPrefix(f.Path, "assets/") {
			continue
		}
		id := f.GitOID
		if f.LFS {
			id = f.SHA256
		}
		out[base+"blobs/"+id] = "blob " + fmtInt(int64(len(f.Content)))
		out[base+"snapshots/"+m.Commit+"/"+f.Path] = "-> ../../blobs/" + id
	}
	return out
}

// withLocks adds the lock files hf_hub_download leaves, one per blob:
// .locks/models--org--name/<blob id>.lock (empty).
func withLocks(tr map[string]string) map[string]string {
	out := map[string]string{}
	for p, v := range tr {
		out[p] = v
		if folder, rest, ok := strings.Cut(p, "/blobs/"); ok {
			out[".locks/"+folder+"/"+rest+".lock"] = "blob 0"
		}
	}
	return out
}

// noLocks is tr without .locks/.
func noLocks(tr map[string]string) map[string]string {
	out := map[string]string{}
	for p, v := range tr {
		if !strings.HasPrefix(p, ".locks/") {
			out[p] = v
		}
	}
	return out
}

func download(ctx context.Context, t *testing.T, c *hub.Client, cache, repo string) (hub.Result, error) {
	t.Helper()
	m, err := c.Model(ctx, repo, "main")
	if err != nil {
		return hub.Result{}, err
	}
	var last hub.Progress
	res, err := c.Download(ctx, hub.DownloadRequest{Model: m, CacheDir: cache, Parallel: 3}, func(p hub.Progress) {
		if p.Done < 0 || p.Done > p.Total {
			t.Errorf("progress out of range: %+v", p)
		}
		last = p
	})
	if err == nil && last.Done != last.Total {
		t.Errorf("final progress %+v: done != total", last)
	}
	return res, err
}

func checkFiles(t *testing.T, res hub.Result, m hubtest.Model) {
	t.Helper()
	for _, f := range m.Files {
		if f.Path == "README.md" || f.Path == "tiny.gguf" || strings.HasPrefix(f.Path, "assets/") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(res.SnapshotDir, f.Path))
		if err != nil || string(b) != string(f.Content) {
			t.Errorf("%s: content differs (err %v)", f.Path, err)
		}
	}
}

func TestDownload_GoldenTree(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Token: "hf_secret"})
	m := h.AddModel(repo, tinyModel(t, 1), hubtest.ModelOptions{})
	cache := t.TempDir()
	res, err := download(t.Context(), t, newClient(h, "hf_secret"), cache, repo)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, "models--mlx-community--Tiny-Llama-bf16", "snapshots", m.Commit); res.SnapshotDir != want {
		t.Errorf("SnapshotDir = %s, want %s", res.SnapshotDir, want)
	}
	if d := cmp.Diff(withLocks(golden(m)), tree(t, cache)); d != "" {
		t.Errorf("cache tree differs from huggingface_hub's layout (-want +got):\n%s", d)
	}
	checkFiles(t, res, m)
	// LFS files came from the file host through the 302, without the
	// token; the Hub itself got it.
	var lfsGets int
	for _, r := range h.Requests() {
		switch r.Server {
		case "files":
			lfsGets++
			if r.Auth != "" {
				t.Errorf("the file host got Authorization %q", r.Auth)
			}
		case "hub":
			if r.Auth != "Bearer hf_secret" {
				t.Errorf("%s %s: Authorization %q", r.Method, r.Path, r.Auth)
			}
		}
	}
	if lfsGets != 2 {
		t.Errorf("file host GETs = %d, want 2 (the shards)", lfsGets)
	}
	// A second download finds everything in place and fetches nothing.
	n := len(h.Requests())
	if _, err := download(t.Context(), t, newClient(h, "hf_secret"), cache, repo); err != nil {
		t.Fatal(err)
	}
	for _, r := range h.Requests()[n:] {
		if r.Server == "files" || strings.Contains(r.Path, "/resolve/") && !strings.HasSuffix(r.Path, "config.json") {
			t.Errorf("second download fetched %s %s", r.Method, r.Path)
		}
	}
}

func TestDownload_Faults(t *testing.T) {
	tests := []struct {
		name     string
		opts     hubtest.Options
		model    hubtest.ModelOptions
		token    string
		faults   func(m hubtest.Model) hubtest.Faults
		repo     string // "" = repo
		wantKind *hub.Kind
		wantMsg  string
		check    func(t *testing.T, m hubtest.Model, reqs []hubtest.Request)
	}{
		{name: "resume after a cut", faults: func(m hubtest.Model) hubtest.Faults {
			return hubtest.Faults{File: shard(m).Path, DropAfter: 4000}
		}, check: func(t *testing.T, m hubtest.Model, reqs []hubtest.Request) {
			if !slices.ContainsFunc(reqs, func(r hubtest.Request) bool { return r.Server == "files" && r.Range == "bytes=4000-" }) {
				t.Errorf("no resume with Range bytes=4000-: %+v", reqs)
			}
		}},
		{name: "cut twice then resumes", faults: func(m hubtest.Model) hubtest.Faults {
			return hubtest.Faults{File: shard(m).Path, DropAfter: 1000, Drops: 2}
		}},
		{name: "ignores Range: restarts the file", faults: func(m hubtest.Model) hubtest.Faults {
			return hubtest.Faults{File: shard(m).Path, DropAfter: 3000, IgnoreRange: true}
		}, check: func(t *testing.T, m hubtest.Model, reqs []hubtest.Request) {
			if !slices.ContainsFunc(reqs, func(r hubtest.Request) bool { return r.Range == "bytes=3000-" }) {
				t.Errorf("no Range asked: %+v", reqs)
			}
		}},
		{name: "wrong checksum once: downloaded again", faults: func(m hubtest.Model) hubtest.Faults {
			return hubtest.Faults{File: shard(m).Path, WrongChecksum: 1}
		}, check: func(t *testing.T, m hubtest.Model, reqs []hubtest.Request) {
			n := 0
			for _, r := range reqs {
				if r.Server == "files" && strings.Contains(r.Path, shard(m).SHA256) {
					n++
				}
			}
			if n != 2 {
				t.Errorf("shard fetched %d times, want 2", n)
			}
		}},
		{name: "wrong checksum twice", faults: func(m hubtest.Model) hubtest.Faults {
			return hubtest.Faults{File: shard(m).Path, WrongChecksum: 2}
		}, wantKind: ptr(hub.Checksum), wantMsg: "did not match the Hub's checksum twice"},
		{name: "wrong checksum twice, non-LFS file", faults: func(hubtest.Model) hubtest.Faults {
			return hubtest.Faults{File: "tokenizer.json", WrongChecksum: 2}
		}, wantKind: ptr(hub.Checksum)},
		{name: "file host 503 once: retried", faults: func(m hubtest.Model) hubtest.Faults {
			return hubtest.Faults{File: shard(m).Path, Status: 503, StatusTimes: 1}
		}},
		{name: "file host refuses an expired link once: the Hub is asked again", faults: func(m hubtest.Model) hubtest.Faults {
			return hubtest.Faults{File: shard(m).Path, Status: 403, StatusTimes: 1}
		}, check: func(t *testing.T, m hubtest.Model, reqs []hubtest.Request) {
			heads := 0
			for _, r := range reqs {
				if r.Method == "HEAD" && strings.HasSuffix(r.Path, "/"+shard(m).Path) {
					heads++
				}
			}
			if heads != 2 {
				t.Errorf("%d HEADs of the shard, want 2 (a fresh link)", heads)
			}
		}},
		{name: "file host refuses the link for good", faults: func(m hubtest.Model) hubtest.Faults {
			return hubtest.Faults{File: shard(m).Path, Status: 403}
		}, wantKind: ptr(hub.Server), wantMsg: "refused the download link"},
		{name: "file host error", faults: func(m hubtest.Model) hubtest.Faults {
			return hubtest.Faults{File: shard(m).Path, Status: 500}
		}, wantKind: ptr(hub.Server)},
		{name: "token required, none given", opts: hubtest.Options{Token: "hf_ok", RequireToken: true},
			wantKind: ptr(hub.Unauthorized), wantMsg: "needs a Hub access token"},
		{name: "token required, wrong one", opts: hubtest.Options{Token: "hf_ok", RequireToken: true}, token: "hf_bad",
			wantKind: ptr(hub.Unauthorized), wantMsg: "refused the access token"},
		{name: "token required, right one", opts: hubtest.Options{Token: "hf_ok", RequireToken: true}, token: "hf_ok",
			check: func(t *testing.T, m hubtest.Model, reqs []hubtest.Request) {
				for _, r := range reqs {
					if r.Server == "files" && r.Auth != "" {
						t.Errorf("token sent to the file host")
					}
				}
			}},
		{name: "gated, no token", model: hubtest.ModelOptions{Gated: true}, wantKind: ptr(hub.Gated), wantMsg: "accept its conditions"},
		{name: "gated, no access", model: hubtest.ModelOptions{Gated: true}, token: "hf_x", wantKind: ptr(hub.Gated), wantMsg: "has no access yet"},
		{name: "gated, approved", model: hubtest.ModelOptions{Gated: true, Approved: true}, token: "hf_x"},
		{name: "unknown repo, anonymous (401)", repo: "mlx-community/nope", wantKind: ptr(hub.NotFound), wantMsg: "no repo mlx-community/nope"},
		{name: "unknown repo, with token (404)", repo: "mlx-community/nope", token: "hf_x", wantKind: ptr(hub.NotFound)},
		{name: "no MLX weights", repo: "someone/gguf-only", wantKind: ptr(hub.NoWeights), wantMsg: "only .gguf files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hubtest.New(t, tt.opts)
			m := h.AddModel(repo, tinyModel(t, 2), tt.model)
			h.AddModel("someone/gguf-only", map[string][]byte{"config.json": []byte(`{"model_type":"llama"}`), "m.Q4_K_M.gguf": []byte("GGUF")}, hubtest.ModelOptions{})
			if tt.faults != nil {
				h.SetFaults(tt.faults(m))
			}
			cache := t.TempDir()
			r := repo
			if tt.repo != "" {
				r = tt.repo
			}
			res, err := download(t.Context(), t, newClient(h, tt.token), cache, r)
			if tt.wantKind == nil {
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(golden(m), noLocks(tree(t, cache))); d != "" {
					t.Errorf("cache tree (-want +got):\n%s", d)
				}
				checkFiles(t, res, m)
			} else {
				var he *hub.Error
				if !errors.As(err, &he) || he.Kind != *tt.wantKind {
					t.Fatalf("err = %v, want kind %v", err, *tt.wantKind)
				}
				if !strings.Contains(he.Message, tt.wantMsg) {
					t.Errorf("message %q does not say %q", he.Message, tt.wantMsg)
				}
				if strings.Contains(err.Error(), "hf_") {
					t.Errorf("error leaks the token: %v", err)
				}
				// Nothing unverified is linked; no ref names a partial
				// snapshot; a file failing its checksum leaves nothing.
				failing := ""
				if tt.faults != nil {
					failing = tt.faults(m).File
				}
				var bad hubtest.File
				for _, f := range m.Files {
					if f.Path == failing {
						bad = f
					}
				}
				for p := range tree(t, cache) {
					if strings.Contains(p, "/refs/") || failing != "" && strings.HasSuffix(p, "/"+failing) {
						t.Errorf("failed download left %s", p)
					}
					if *tt.wantKind == hub.Checksum && (strings.Contains(p, "/blobs/"+bad.SHA256) || strings.Contains(p, "/blobs/"+bad.GitOID)) {
						t.Errorf("a checksum failure left %s", p)
					}
					if failing == "" && strings.Contains(p, "/snapshots/") {
						t.Errorf("failed download linked %s", p)
					}
				}
			}
			if tt.check != nil {
				tt.check(t, m, h.Requests())
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestDownload_ResumeAfterRestart(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	m := h.AddModel(repo, tinyModel(t, 3), hubtest.ModelOptions{})
	cache := t.TempDir()
	s := shard(m)
	blobs := filepath.Join(cache, "models--mlx-community--Tiny-Llama-bf16", "blobs")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	// What an earlier modelbar (or huggingface_hub) left behind.
	const have = 5000
	if err := os.WriteFile(filepath.Join(blobs, s.SHA256+".incomplete"), s.Content[:have], 0o644); err != nil {
		t.Fatal(err)
	}
	var first hub.Progress
	seen := false
	c := newClient(h, "")
	mm, err := c.Model(t.Context(), repo, "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Download(t.Context(), hub.DownloadRequest{Model: mm, CacheDir: cache}, func(p hub.Progress) {
		if !seen {
			first, seen = p, true
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if first.Done != have {
		t.Errorf("first progress Done = %d, want the %d bytes already there", first.Done, have)
	}
	var ranges []string
	for _, r := range h.Requests() {
		if r.Server == "files" && strings.Contains(r.Path, s.SHA256) {
			ranges = append(ranges, r.Range)
		}
	}
	if d := cmp.Diff([]string{"bytes=5000-"}, ranges); d != "" {
		t.Errorf("shard requests (-want +got):\n%s", d)
	}
	checkFiles(t, res, m)
	if d := cmp.Diff(golden(m), noLocks(tree(t, cache))); d != "" {
		t.Errorf("cache tree (-want +got):\n%s", d)
	}
}

func TestDownload_CancelKeepsPartial(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	m := h.AddModel(repo, tinyModel(t, 4), hubtest.ModelOptions{})
	s := shard(m)
	h.SetFaults(hubtest.Faults{File: s.Path, BytesPerSecond: 20000})
	cache := t.TempDir()
	c := newClient(h, "")
	mm, err := c.Model(t.Context(), repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, err = c.Download(ctx, hub.DownloadRequest{Model: mm, Files: []hub.File{fileOf(mm, s.Path), fileOf(mm, "config.json")}, CacheDir: cache}, func(p hub.Progress) {
		if p.File == s.Path && p.FileDone > 2000 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	inc := filepath.Join(cache, "models--mlx-community--Tiny-Llama-bf16", "blobs", s.SHA256+".incomplete")
	st, err := os.Stat(inc)
	if err != nil || st.Size() == 0 || st.Size() >= int64(len(s.Content)) {
		t.Fatalf("partial file after cancel: %v %v", st, err)
	}
	if _, err := os.Lstat(filepath.Join(cache, "models--mlx-community--Tiny-Llama-bf16", "snapshots", m.Commit, s.Path)); err == nil {
		t.Error("a cancelled file is linked into the snapshot")
	}
	h.SetFaults(hubtest.Faults{})
	if _, err := c.Download(t.Context(), hub.DownloadRequest{Model: mm, CacheDir: cache}, nil); err != nil {
		t.Fatal(err)
	}
	want := "bytes=" + fmtInt(st.Size()) + "-"
	if !slices.ContainsFunc(h.Requests(), func(r hubtest.Request) bool { return r.Range == want }) {
		t.Errorf("no resume from %s", want)
	}
	if d := cmp.Diff(golden(m), noLocks(tree(t, cache))); d != "" {
		t.Errorf("cache tree (-want +got):\n%s", d)
	}
}

func fileOf(m hub.Model, p string) hub.File {
	for _, f := range m.Files {
		if f.Path == p {
			return f
		}
	}
	panic(p)
}

func TestDownload_DiskFull(t *testing.T) {
	defer hub.SetFreeSpace(func(string) (int64, error) { return 1000, nil })()
	h := hubtest.New(t, hubtest.Options{})
	h.AddModel(repo, tinyModel(t, 5), hubtest.ModelOptions{})
	cache := t.TempDir()
	_, err := download(t.Context(), t, newClient(h, ""), cache, repo)
	var he *hub.Error
	if !errors.As(err, &he) || he.Kind != hub.DiskFull {
		t.Fatalf("err = %v, want DiskFull", err)
	}
	if !strings.Contains(he.Message, "only 1.0 kB is free") || !strings.Contains(he.Message, "needs ") {
		t.Errorf("message %q does not name the need and what is free", he.Message)
	}
	for _, r := range h.Requests() {
		if r.Server == "files" {
			t.Errorf("downloaded despite a full disk: %s", r.Path)
		}
	}
}

func TestRemoveSnapshot_KeepsSharedBlobs(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	files := tinyModel(t, 6)
	old := h.AddModel(repo, files, hubtest.ModelOptions{})
	cache := t.TempDir()
	c := newClient(h, "")
	if _, err := download(t.Context(), t, c, cache, repo); err != nil {
		t.Fatal(err)
	}
	// A new commit changes only the tokenizer config.
	files["tokenizer_config.json"] = append(files["tokenizer_config.json"], ' ')
	cur := h.AddModel(repo, files, hubtest.ModelOptions{})
	if _, err := download(t.Context(), t, c, cache, repo); err != nil {
		t.Fatal(err)
	}
	if err := hub.RemoveSnapshot(cache, repo, old.Commit); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(golden(cur), noLocks(tree(t, cache))); d != "" {
		t.Errorf("after removing the old snapshot (-want +got):\n%s", d)
	}
	var he *hub.Error
	if err := hub.RemoveSnapshot(cache, repo, old.Commit); !errors.As(err, &he) || he.Kind != hub.NotFound {
		t.Errorf("removing it again: %v, want NotFound", err)
	}
	if err := hub.RemoveSnapshot(cache, repo, cur.Commit); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cache, "models--mlx-community--Tiny-Llama-bf16")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("repo folder left after its last snapshot went: %v", err)
	}
}

func TestModel(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{PageSize: 2})
	hm := h.AddModel(repo, tinyModel(t, 7), hubtest.ModelOptions{})
	c := newClient(h, "")
	m, err := c.Model(t.Context(), repo, "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Commit != hm.Commit || m.Revision != "main" || m.Gated {
		t.Errorf("model %+v", m)
	}
	var want []hub.File
	for _, f := range hm.Files {
		hf := hub.File{Path: f.Path, Size: int64(len(f.Content)), BlobID: f.GitOID}
		if f.LFS {
			hf.SHA256 = f.SHA256
		}
		want = append(want, hf)
	}
	if d := cmp.Diff(want, m.Files); d != "" {
		t.Errorf("files across pages (-want +got):\n%s", d)
	}
	if !strings.Contains(string(m.Config), `"model_type"`) {
		t.Errorf("config not fetched: %s", m.Config)
	}
	var got []string
	for _, f := range hub.NeededFiles(m) {
		got = append(got, f.Path)
	}
	wantNeeded := []string{"config.json", "generation_config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json"}
	if d := cmp.Diff(wantNeeded, got); d != "" {
		t.Errorf("NeededFiles (-want +got):\n%s", d)
	}
	// By commit too; a revision that does not exist is NotFound.
	if m2, err := c.Model(t.Context(), repo, hm.Commit); err != nil || m2.Commit != hm.Commit {
		t.Errorf("by commit: %v %v", m2.Commit, err)
	}
	for _, rev := range []string{"refs/pr/1", "v9"} {
		var he *hub.Error
		if _, err := c.Model(t.Context(), repo, rev); !errors.As(err, &he) || he.Kind != hub.NotFound || !strings.Contains(he.Message, "no such revision") {
			t.Errorf("rev %s: %v", rev, err)
		}
	}
	if !slices.ContainsFunc(h.Requests(), func(r hubtest.Request) bool { return strings.Contains(r.Path, "/revision/refs%2Fpr%2F1") }) {
		t.Error("revision not quoted as huggingface_hub does")
	}
	for _, bad := range []string{"", "noslash", "../etc/passwd", "a/b/c", "a/.."} {
		var he *hub.Error
		if _, err := c.Model(t.Context(), bad, ""); !errors.As(err, &he) || he.Kind != hub.NotFound {
			t.Errorf("repo %q: %v", bad, err)
		}
	}
}

func TestSearch(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	day := func(d int) time.Time { return time.Date(2025, 3, d, 0, 0, 0, 0, time.UTC) }
	h.AddModel("mlx-community/A-4bit", map[string][]byte{"a.safetensors": {1}}, hubtest.ModelOptions{Downloads: 10, Likes: 5, LastModified: day(1)})
	h.AddModel("mlx-community/B-8bit", map[string][]byte{"b.safetensors": {2}}, hubtest.ModelOptions{Downloads: 30, Likes: 1, LastModified: day(3), Gated: true})
	h.AddModel("mlx-community/C-bf16", map[string][]byte{"c.safetensors": {3}}, hubtest.ModelOptions{Downloads: 20, Likes: 9, LastModified: day(2)})
	h.AddModel("other/D-4bit", map[string][]byte{"d.gguf": {4}}, hubtest.ModelOptions{Downloads: 99, Library: "gguf", Tags: []string{"gguf"}})
	c := newClient(h, "")
	tests := []struct {
		q    hub.SearchQuery
		want []string
	}{
		{hub.SearchQuery{Author: "mlx-community", Library: "mlx"}, []string{"mlx-community/B-8bit", "mlx-community/C-bf16", "mlx-community/A-4bit"}},
		{hub.SearchQuery{Library: "mlx", Sort: "likes", Limit: 2}, []string{"mlx-community/C-bf16", "mlx-community/A-4bit"}},
		{hub.SearchQuery{Library: "mlx", Sort: "recent"}, []string{"mlx-community/B-8bit", "mlx-community/C-bf16", "mlx-community/A-4bit"}},
		{hub.SearchQuery{Text: "4bit"}, []string{"other/D-4bit", "mlx-community/A-4bit"}},
		{hub.SearchQuery{Text: "nothing"}, []string{}},
	}
	for _, tt := range tests {
		got, err := c.Search(t.Context(), tt.q)
		if err != nil {
			t.Fatal(err)
		}
		names := []string{}
		for _, s := range got {
			names = append(names, s.Repo)
		}
		if d := cmp.Diff(tt.want, names); d != "" {
			t.Errorf("%+v (-want +got):\n%s", tt.q, d)
		}
	}
	got, _ := c.Search(t.Context(), hub.SearchQuery{Text: "B-8bit"})
	if len(got) != 1 || !got[0].Gated || got[0].Downloads != 30 || !got[0].Updated.Equal(day(3)) || !slices.Contains(got[0].Tags, "mlx") {
		t.Errorf("summary %+v", got)
	}
	reqs := h.Requests()
	if p := reqs[0].Path; !strings.Contains(p, "author=mlx-community") || !strings.Contains(p, "library=mlx") || !strings.Contains(p, "sort=downloads") || !strings.Contains(p, "direction=-1") || !strings.Contains(p, "limit=20") {
		t.Errorf("search query %s", p)
	}
	if _, err := c.Search(t.Context(), hub.SearchQuery{Sort: "stars"}); err == nil {
		t.Error("a bad sort was accepted")
	}
}

func TestEnv(t *testing.T) {
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	if got := hub.EndpointFromEnv(get); got != "https://huggingface.co" {
		t.Errorf("default endpoint %s", got)
	}
	env["HF_ENDPOINT"] = "https://hf-mirror.com/"
	if got := hub.EndpointFromEnv(get); got != "https://hf-mirror.com" {
		t.Errorf("HF_ENDPOINT %s", got)
	}
	env["HOME"] = "/home/u"
	if got := hub.CacheDirFromEnv(get); got != "/home/u/.cache/huggingface/hub" {
		t.Errorf("cache dir %s", got)
	}
	env["HF_HOME"] = "/hf"
	if got := hub.CacheDirFromEnv(get); got != "/hf/hub" {
		t.Errorf("cache dir %s", got)
	}
	env["HF_HUB_CACHE"] = "/cache"
	if got := hub.CacheDirFromEnv(get); got != "/cache" {
		t.Errorf("cache dir %s", got)
	}
}

// TestDownload_LiteralGolden pins the layout with hashes computed outside
// this code (git hash-object, sha256sum): huggingface_hub names a non-LFS
// blob by its git blob sha1 and an LFS blob by its sha256, links each
// snapshot file relatively (one ../ more per subfolder), lets files with
// one content share a blob, and writes refs/main without a newline.
func TestDownload_LiteralGolden(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	tmpl := []byte(`{"chat_template":"{{ messages }}"}`)
	hm := h.AddModel("org/golden", map[string][]byte{
		"config.json":           []byte(`{"model_type":"llama"}`),
		"model.safetensors":     []byte("WEIGHTS-0123456789"),
		"tokenizer_config.json": tmpl,
		"sub/extra.json":        tmpl,
	}, hubtest.ModelOptions{})
	c := newClient(h, "")
	m, err := c.Model(t.Context(), "org/golden", "main")
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	if _, err := c.Download(t.Context(), hub.DownloadRequest{Model: m, Files: m.Files, CacheDir: cache}, nil); err != nil {
		t.Fatal(err)
	}
	const (
		cfg     = "0972e95c1405cc1507c19dcbe784f7a36c930907"
		tok     = "4ac2b8bc87b9148cbb3e8348029ddd5ec08013f5"
		weights = "ffbdc0bec8a2bc99c2cb47e2e6924312507cc49c24dae55a8335ef92e3ed2441"
	)
	snap := "models--org--golden/snapshots/" + hm.Commit + "/"
	want := map[string]string{
		"models--org--golden/blobs/" + cfg:     "blob 22",
		"models--org--golden/blobs/" + tok:     "blob 34",
		"models--org--golden/blobs/" + weights: "blob 18",
		"models--org--golden/refs/main":        hm.Commit,
		snap + "config.json":                   "-> ../../blobs/" + cfg,
		snap + "model.safetensors":             "-> ../../blobs/" + weights,
		snap + "tokenizer_config.json":         "-> ../../blobs/" + tok,
		snap + "sub/extra.json":                "-> ../../../blobs/" + tok,
	}
	if d := cmp.Diff(withLocks(want), tree(t, cache)); d != "" {
		t.Errorf("cache tree (-want +got):\n%s", d)
	}
}

func TestDownload_StalledConnection(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	m := h.AddModel(repo, tinyModel(t, 8), hubtest.ModelOptions{})
	h.SetFaults(hubtest.Faults{File: shard(m).Path, BytesPerSecond: 1})
	c := newClient(h, "")
	c.Retries, c.StallTimeout = -1, 100*time.Millisecond
	start := time.Now()
	_, err := download(t.Context(), t, c, t.TempDir(), repo)
	var he *hub.Error
	if !errors.As(err, &he) || he.Kind != hub.Network || !strings.Contains(err.Error(), "no data for") {
		t.Fatalf("err = %v, want a network error for the stall", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("a stall took %s to notice", time.Since(start))
	}
}

func TestModel_GatedWithoutAccess(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	h.AddModel(repo, tinyModel(t, 9), hubtest.ModelOptions{Gated: true})
	m, err := newClient(h, "").Model(t.Context(), repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	if !m.Gated || m.Config != nil || len(m.Files) == 0 {
		t.Errorf("gated model: Gated %v, Config %s, %d files", m.Gated, m.Config, len(m.Files))
	}
}

func TestDownload_ParallelIsBounded(t *testing.T) {
	for _, par := range []int{1, 2} {
		t.Run(fmtInt(int64(par)), func(t *testing.T) {
			h := hubtest.New(t, hubtest.Options{})
			h.AddModel(repo, tinyModel(t, 12), hubtest.ModelOptions{})
			h.SetFaults(hubtest.Faults{BytesPerSecond: 512 << 10}) // every LFS file, slow enough to overlap
			c := newClient(h, "")
			m, err := c.Model(t.Context(), repo, "main")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Download(t.Context(), hub.DownloadRequest{Model: m, CacheDir: t.TempDir(), Parallel: par}, nil); err != nil {
				t.Fatal(err)
			}
			if got := h.MaxConcurrent(); got != par {
				t.Errorf("at most %d file downloads at once, want %d", got, par)
			}
		})
	}
}

func TestDownload_BadRequest(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	hm := h.AddModel(repo, tinyModel(t, 13), hubtest.ModelOptions{})
	good := hub.Model{Repo: repo, Revision: "main", Commit: hm.Commit}
	tests := []struct {
		name  string
		req   hub.DownloadRequest
		kind  hub.Kind
		plain bool // not a *hub.Error: a caller's mistake
	}{
		{"no commit", hub.DownloadRequest{Model: hub.Model{Repo: repo}}, hub.NotFound, false},
		{"bad repo", hub.DownloadRequest{Model: hub.Model{Repo: "../x", Commit: hm.Commit}}, hub.NotFound, false},
		{"path escaping the snapshot", hub.DownloadRequest{Model: good, Files: []hub.File{{Path: "../evil.safetensors", Size: 1}}}, hub.Server, false},
		{"absolute path", hub.DownloadRequest{Model: good, Files: []hub.File{{Path: "/etc/x.safetensors", Size: 1}}}, hub.Server, false},
		{"no weights among the files", hub.DownloadRequest{Model: good, Files: []hub.File{{Path: "config.json", Size: 1}}}, hub.NoWeights, false},
		{"no cache dir", hub.DownloadRequest{Model: good, Files: []hub.File{{Path: "a.safetensors", Size: 1}}}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache := t.TempDir()
			if !tt.plain {
				tt.req.CacheDir = cache
			}
			_, err := newClient(h, "").Download(t.Context(), tt.req, nil)
			var he *hub.Error
			switch {
			case err == nil:
				t.Fatal("accepted")
			case tt.plain && errors.As(err, &he):
				t.Errorf("err %v, want a plain error", err)
			case !tt.plain && (!errors.As(err, &he) || he.Kind != tt.kind):
				t.Errorf("err %v, want kind %v", err, tt.kind)
			}
			if got := tree(t, cache); len(got) != 0 {
				t.Errorf("wrote %v", got)
			}
		})
	}
}

// A partial file that is not a prefix of the real one (a corrupt disk, a
// changed file) fails the check after the resume; the file is fetched
// afresh once and the download succeeds.
func TestDownload_CorruptPartialIsReplaced(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	m := h.AddModel(repo, tinyModel(t, 14), hubtest.ModelOptions{})
	s := shard(m)
	cache := t.TempDir()
	blobs := filepath.Join(cache, "models--mlx-community--Tiny-Llama-bf16", "blobs")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(blobs, s.SHA256+".incomplete"), []byte(strings.Repeat("x", 3000)), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := download(t.Context(), t, newClient(h, ""), cache, repo)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, res, m)
	var ranges []string
	for _, r := range h.Requests() {
		if r.Server == "files" && strings.Contains(r.Path, s.SHA256) {
			ranges = append(ranges, r.Range)
		}
	}
	if d := cmp.Diff([]string{"bytes=3000-", ""}, ranges); d != "" {
		t.Errorf("shard requests: a resume, then a fresh fetch (-want +got):\n%s", d)
	}
}

// Two downloads of one repo into one cache at once (two modelbar
// windows, or modelbar and mlx-lm) both succeed and leave one copy.
func TestDownload_TwoAtOnce(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{})
	m := h.AddModel(repo, tinyModel(t, 15), hubtest.ModelOptions{})
	h.SetFaults(hubtest.Faults{BytesPerSecond: 1 << 20})
	cache := t.TempDir()
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := download(t.Context(), t, newClient(h, ""), cache, repo)
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if d := cmp.Diff(withLocks(golden(m)), tree(t, cache)); d != "" {
		t.Errorf("cache tree (-want +got):\n%s", d)
	}
}

func TestTokenFromEnv(t *testing.T) {
	home := t.TempDir()
	hfHome := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".cache", "huggingface"), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(home, ".cache", "huggingface", "token"), []byte("hf_default\n"), 0o600)
	os.WriteFile(filepath.Join(hfHome, "token"), []byte("hf_home"), 0o600)
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HOME": home}, "hf_default"},
		{map[string]string{"HOME": home, "HF_HOME": hfHome}, "hf_home"},
		{map[string]string{"HOME": home, "HF_HOME": hfHome, "HF_TOKEN": " hf_env "}, "hf_env"},
		{map[string]string{"HOME": home, "HF_TOKEN_PATH": filepath.Join(hfHome, "nope")}, ""},
		{map[string]string{"HOME": t.TempDir()}, ""},
	}
	for _, tt := range tests {
		if got := hub.TokenFromEnv(func(k string) string { return tt.env[k] }); got != tt.want {
			t.Errorf("%v: %q, want %q", tt.env, got, tt.want)
		}
	}
}
