// Package hubtest is a fake Hugging Face Hub on loopback for tests: the
// model search, model info and tree listing APIs, and resolve, which
// answers non-LFS files itself and redirects LFS files (302) to a second
// server, the file host, with X-Repo-Commit, X-Linked-Etag and
// X-Linked-Size as the real Hub does. The file host honours Range. Fault
// switches make it drop connections mid-file, throttle, ignore Range,
// serve corrupt bytes or fail, and the Hub can require a token or gate a
// repo. Every request is recorded for assertions. Nothing reaches the
// internet.
package hubtest

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configure the fake Hub.
type Options struct {
	// Token is the one valid access token ("" = any bearer token is
	// accepted as valid). A request with another token gets 401.
	Token string
	// RequireToken makes every API and resolve request need Token.
	RequireToken bool
	// PageSize paginates the tree listing with Link rel="next" (0: one page).
	PageSize int
}

// ModelOptions describe a repo added with AddModel.
type ModelOptions struct {
	Gated            bool // downloads need a token ...
	Approved         bool // ... whose account was granted access (else 403)
	Downloads, Likes int
	LastModified     time.Time
	Tags             []string // default ["mlx", "safetensors"]
	Library          string   // default "mlx"
	// LFS reports whether a file is stored in LFS (default: .safetensors,
	// .gguf, .bin and files over 10 MB).
	LFS func(path string, size int) bool
}

// Faults are switches for the next responses. File names the file they
// apply to ("" = every LFS file). Counters count down as they fire.
type Faults struct {
	File           string
	DropAfter      int64 // close the connection after this many bytes of a response ...
	Drops          int   // ... this many times (0 with DropAfter > 0: once)
	IgnoreRange    bool  // answer 200 with the whole file to a Range request
	WrongChecksum  int   // serve a corrupt copy this many times
	BytesPerSecond int64 // throttle the body
	Status         int   // answer this status (e.g. 500) instead of the file ...
	StatusTimes    int   // ... this many times (0: every time)
}

// Request is one request either server saw.
type Request struct {
	Server string // "hub" or "files"
	Method string
	Path   string // escaped path with query
	Range  string
	Auth   string // the Authorization header
}

// File is a file as the fake Hub stores it.
type File struct {
	Path    string
	Content []byte
	LFS     bool
	SHA256  string // of the content
	GitOID  string // the git blob id (of the LFS pointer for an LFS file)
}

// Model is a repo as the fake Hub stores it.
type Model struct {
	Repo   string
	Commit string
	Files  []File
	Opts   ModelOptions
}

// Hub is the fake Hub: URL is its API endpoint (for HF_ENDPOINT or
// hub.NewClient), FilesURL the file host LFS downloads are sent to.
type Hub struct {
	URL, FilesURL string
	opts          Options

	mu       sync.Mutex
	models   map[string]*Model
	blobs    map[string][]byte // by sha256
	faults   Faults
	requests []Request
	inFlight int // file host GETs being answered
	maxIn    int
}

// New starts a fake Hub and its file host, closed when t ends.
func New(t testing.TB, o Options) *Hub {
	t.Helper()
	h, stop := Start(o)
	t.Cleanup(stop)
	return h
}

// Start starts a fake Hub outside a test (e.g. a command serving it to
// the browser checks); stop closes both servers.
func Start(o Options) (h *Hub, stop func()) {
	h = &Hub{opts: o, models: map[string]*Model{}, blobs: map[string][]byte{}}
	api := httptest.NewServer(http.HandlerFunc(h.serveHub))
	files := httptest.NewServer(http.HandlerFunc(h.serveFiles))
	h.URL, h.FilesURL = api.URL, files.URL
	return h, func() {
		api.CloseClientConnections()
		files.CloseClientConnections()
		api.Close()
		files.Close()
	}
}

// GitBlobID is git's id of content: sha1("blob <len>\x00" + content).
func GitBlobID(content []byte) string {
	s := sha1.New()
	fmt.Fprintf(s, "blob %d\x00", len(content))
	s.Write(content)
	return hex.EncodeToString(s.Sum(nil))
}

// SHA256 is the hex sha256 of content (an LFS oid).
func SHA256(content []byte) string {
	s := sha256.Sum256(content)
	return hex.EncodeToString(s[:])
}

func defaultLFS(p string, size int) bool {
	switch path.Ext(p) {
	case ".safetensors", ".gguf", ".bin":
		return true
	}
	return size > 10<<20
}

// AddModel stores repo with files (path -> content) at one commit that
// both "main" and the commit resolve to, and returns it.
func (h *Hub) AddModel(repo string, files map[string][]byte, o ModelOptions) Model {
	if o.Tags == nil {
		o.Tags = []string{"mlx", "safetensors"}
	}
	if o.Library == "" {
		o.Library = "mlx"
	}
	if o.LFS == nil {
		o.LFS = defaultLFS
	}
	if o.LastModified.IsZero() {
		o.LastModified = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	}
	m := &Model{Repo: repo, Opts: o}
	commit := sha1.New()
	commit.Write([]byte(repo))
	for _, p := range slices.Sorted(mapsKeys(files)) {
		c := files[p]
		f := File{Path: p, Content: c, LFS: o.LFS(p, len(c)), SHA256: SHA256(c)}
		if f.LFS {
			f.GitOID = GitBlobID(lfsPointer(f.SHA256, len(c)))
		} else {
			f.GitOID = GitBlobID(c)
		}
		m.Files = append(m.Files, f)
		fmt.Fprintf(commit, "%s %s\n", p, f.GitOID)
	}
	m.Commit = hex.EncodeToString(commit.Sum(nil))
	h.mu.Lock()
	defer h.mu.Unlock()
	h.models[repo] = m
	for _, f := range m.Files {
		if f.LFS {
			h.blobs[f.SHA256] = f.Content
		}
	}
	return *m
}

func mapsKeys(m map[string][]byte) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func lfsPointer(sha string, size int) []byte {
	return fmt.Appendf(nil, "version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n", sha, size)
}

// SetFaults replaces the fault switches.
func (h *Hub) SetFaults(f Faults) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if f.DropAfter > 0 && f.Drops == 0 {
		f.Drops = 1
	}
	h.faults = f
}

// Requests is every request seen so far.
func (h *Hub) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.requests)
}

// FilesFromDir reads every regular file under dir, keyed by its slash path
// (for AddModel of a model a generator wrote).
func FilesFromDir(dir string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	return out, err
}

func (h *Hub) record(server string, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests = append(h.requests, Request{Server: server, Method: r.Method, Path: r.URL.RequestURI(), Range: r.Header.Get("Range"), Auth: r.Header.Get("Authorization")})
}

func hubError(w http.ResponseWriter, status int, code, msg string) {
	if code != "" {
		w.Header().Set("X-Error-Code", code)
	}
	w.Header().Set("X-Error-Message", msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// auth is the caller's standing: a valid token or not; ok false means
// the answer (401) was written.
func (h *Hub) auth(w http.ResponseWriter, r *http.Request) (authed, ok bool) {
	a := r.Header.Get("Authorization")
	tok, hasBearer := strings.CutPrefix(a, "Bearer ")
	switch {
	case a == "" && h.opts.RequireToken:
		hubError(w, http.StatusUnauthorized, "", "Invalid username or password.")
		return false, false
	case a == "":
		return false, true
	case !hasBearer || tok == "" || (h.opts.Token != "" && tok != h.opts.Token):
		hubError(w, http.StatusUnauthorized, "", "Invalid credentials in Authorization header")
		return false, false
	}
	return true, true
}

func (h *Hub) model(repo string) *Model {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.models[repo]
}

// repoNotFound answers as the Hub does: 401 to anonymous callers (a
// private repo is not revealed), 404 to authenticated ones.
func repoNotFound(w http.ResponseWriter, repo string, authed bool) {
	status := http.StatusNotFound
	if !authed {
		status = http.StatusUnauthorized
	}
	hubError(w, status, "RepoNotFound", "Repository not found")
}

func (h *Hub) serveHub(w http.ResponseWriter, r *http.Request) {
	h.record("hub", r)
	authed, ok := h.auth(w, r)
	if !ok {
		return
	}
	p := r.URL.EscapedPath()
	if p == "/api/models" && r.Method == http.MethodGet {
		h.search(w, r)
		return
	}
	if rest, ok := strings.CutPrefix(p, "/api/resolve-cache/models/"); ok && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		segs := strings.SplitN(rest, "/", 4) // org, name, commit, path
		if len(segs) == 4 {
			h.resolve(w, r, segs[0]+"/"+segs[1], unescape(segs[2]), unescape(segs[3]), authed)
			return
		}
	}
	if rest, ok := strings.CutPrefix(p, "/api/models/"); ok && r.Method == http.MethodGet {
		segs := strings.SplitN(rest, "/", 5) // org, name, kind, rev, path
		if len(segs) < 2 {
			hubError(w, http.StatusNotFound, "", "Not found")
			return
		}
		repo := segs[0] + "/" + segs[1]
		m := h.model(repo)
		if m == nil {
			repoNotFound(w, repo, authed)
			return
		}
		switch {
		case len(segs) == 2:
			h.info(w, m, "main")
		case len(segs) == 4 && segs[2] == "revision":
			h.info(w, m, unescape(segs[3]))
		case len(segs) >= 4 && segs[2] == "tree":
			h.tree(w, r, m, unescape(segs[3]))
		default:
			hubError(w, http.StatusNotFound, "", "Not found")
		}
		return
	}
	// /{org}/{name}/resolve/{rev}/{path...}
	segs := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 5)
	if len(segs) == 5 && segs[2] == "resolve" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		h.resolve(w, r, segs[0]+"/"+segs[1], unescape(segs[3]), unescape(segs[4]), authed)
		return
	}
	hubError(w, http.StatusNotFound, "", "Not found")
}

func unescape(s string) string {
	u, err := url.PathUnescape(s)
	if err != nil {
		return s
	}
	return u
}

func (m *Model) atRevision(rev string) bool { return rev == "main" || rev == m.Commit }

func gatedJSON(m *Model) any {
	if m.Opts.Gated {
		return "manual"
	}
	return false
}

func (h *Hub) info(w http.ResponseWriter, m *Model, rev string) {
	if !m.atRevision(rev) {
		hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
		return
	}
	siblings := []map[string]string{}
	for _, f := range m.Files {
		siblings = append(siblings, map[string]string{"rfilename": f.Path})
	}
	writeJSON(w, map[string]any{
		"_id": m.Commit[:24], "id": m.Repo, "modelId": m.Repo, "author": strings.Split(m.Repo, "/")[0],
		"sha": m.Commit, "lastModified": m.Opts.LastModified, "private": false, "disabled": false,
		"gated": gatedJSON(m), "downloads": m.Opts.Downloads, "likes": m.Opts.Likes,
		"library_name": m.Opts.Library, "tags": m.Opts.Tags, "siblings": siblings,
	})
}

func (h *Hub) tree(w http.ResponseWriter, r *http.Request, m *Model, rev string) {
	if !m.atRevision(rev) {
		hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
		return
	}
	var entries []map[string]any
	dirs := map[string]bool{}
	for _, f := range m.Files {
		for d := path.Dir(f.Path); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
			entries = append(entries, map[string]any{"type": "directory", "oid": GitBlobID([]byte(d)), "size": 0, "path": d})
		}
		e := map[string]any{"type": "file", "oid": f.GitOID, "size": len(f.Content), "path": f.Path}
		if f.LFS {
			e["lfs"] = map[string]any{"oid": f.SHA256, "size": len(f.Content), "pointerSize": len(lfsPointer(f.SHA256, len(f.Content)))}
		}
		entries = append(entries, e)
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i]["path"].(string) < entries[j]["path"].(string) })
	if r.URL.Query().Get("recursive") != "true" {
		top := entries[:0:0]
		for _, e := range entries {
			if !strings.Contains(e["path"].(string), "/") {
				top = append(top, e)
			}
		}
		entries = top
	}
	if n := h.opts.PageSize; n > 0 {
		start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
		start = min(start, len(entries))
		end := min(start+n, len(entries))
		if end < len(entries) {
			q := r.URL.Query()
			q.Set("cursor", strconv.Itoa(end))
			w.Header().Set("Link", fmt.Sprintf(`<%s%s?%s>; rel="next"`, h.URL, r.URL.EscapedPath(), q.Encode()))
		}
		entries = entries[start:end]
	}
	if entries == nil {
		entries = []map[string]any{}
	}
	writeJSON(w, entries)
}

func (h *Hub) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	h.mu.Lock()
	var list []*Model
	for _, m := range h.models {
		if s := q.Get("search"); s != "" && !strings.Contains(strings.ToLower(m.Repo), strings.ToLower(s)) {
			continue
		}
		if a := q.Get("author"); a != "" && !strings.EqualFold(strings.Split(m.Repo, "/")[0], a) {
			continue
		}
		if l := q.Get("library"); l != "" && m.Opts.Library != l && !slices.Contains(m.Opts.Tags, l) {
			continue
		}
		list = append(list, m)
	}
	h.mu.Unlock()
	key := q.Get("sort")
	less := func(a, b *Model) bool {
		switch key {
		case "likes":
			return a.Opts.Likes > b.Opts.Likes
		case "lastModified":
			return a.Opts.LastModified.After(b.Opts.LastModified)
		default:
			return a.Opts.Downloads > b.Opts.Downloads
		}
	}
	sort.SliceStable(list, func(i, j int) bool {
		if less(list[i], list[j]) != less(list[j], list[i]) {
			return less(list[i], list[j])
		}
		return list[i].Repo < list[j].Repo
	})
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n >= 0 && n < len(list) {
		list = list[:n]
	}
	out := []map[string]any{}
	for _, m := range list {
		out = append(out, map[string]any{
			"_id": m.Commit[:24], "id": m.Repo, "modelId": m.Repo, "downloads": m.Opts.Downloads, "likes": m.Opts.Likes,
			"lastModified": m.Opts.LastModified, "tags": m.Opts.Tags, "gated": gatedJSON(m), "library_name": m.Opts.Library, "private": false,
		})
	}
	writeJSON(w, out)
}

func (h *Hub) resolve(w http.ResponseWriter, r *http.Request, repo, rev, file string, authed bool) {
	m := h.model(repo)
	if m == nil {
		repoNotFound(w, repo, authed)
		return
	}
	if m.Opts.Gated {
		switch {
		case !authed:
			hubError(w, http.StatusUnauthorized, "GatedRepo", "Access to model "+repo+" is restricted. You must have access to it and be authenticated to access it. Please log in.")
			return
		case !m.Opts.Approved:
			hubError(w, http.StatusForbidden, "GatedRepo", "Access to model "+repo+" is restricted and you are not in the authorized list. Visit https://huggingface.co/"+repo+" to ask for access.")
			return
		}
	}
	if !m.atRevision(rev) {
		hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
		return
	}
	i := slices.IndexFunc(m.Files, func(f File) bool { return f.Path == file })
	if i < 0 {
		hubError(w, http.StatusNotFound, "EntryNotFound", "Entry not found")
		return
	}
	f := m.Files[i]
	w.Header().Set("X-Repo-Commit", m.Commit)
	w.Header().Set("Accept-Ranges", "bytes")
	if f.LFS {
		// As the Hub: the pointer's ETag, the blob's sha256 and size as
		// linked headers, and a signed URL on the file host.
		w.Header().Set("ETag", `"`+f.GitOID+`"`)
		w.Header().Set("X-Linked-Etag", `"`+f.SHA256+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(f.Content)))
		w.Header().Set("Location", fmt.Sprintf("%s/repos/%s/%s?X-Amz-Expires=3600&X-Amz-Signature=fake", h.FilesURL, m.Commit[:8], f.SHA256))
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `"`+f.GitOID+`"`)
	if !strings.HasPrefix(r.URL.Path, "/api/resolve-cache/") {
		// As the Hub does for a regular file: a relative 307 to its
		// resolve cache, which huggingface_hub follows (same host, token kept).
		w.Header().Set("Location", "/api/resolve-cache/models/"+repo+"/"+m.Commit+"/"+escapePath(f.Path))
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	h.serveBytes(w, r, f.Path, f.Content, false)
}

func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

func (h *Hub) serveFiles(w http.ResponseWriter, r *http.Request) {
	h.record("files", r)
	segs := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(segs) != 3 || segs[0] != "repos" || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	h.mu.Lock()
	content, ok := h.blobs[segs[2]]
	var name string
	for _, m := range h.models {
		for _, f := range m.Files {
			if f.SHA256 == segs[2] && f.LFS {
				name = f.Path
			}
		}
	}
	h.mu.Unlock()
	if !ok {
		http.Error(w, "<Error><Code>NoSuchKey</Code></Error>", http.StatusNotFound)
		return
	}
	w.Header().Set("ETag", `"`+segs[2]+`"`)
	w.Header().Set("Accept-Ranges", "bytes")
	h.mu.Lock()
	h.inFlight++
	h.maxIn = max(h.maxIn, h.inFlight)
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.inFlight--
		h.mu.Unlock()
	}()
	h.serveBytes(w, r, name, content, true)
}

// MaxConcurrent is the most file host downloads answered at once so far.
func (h *Hub) MaxConcurrent() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.maxIn
}

// faultsFor takes this response's faults for file, counting them down.
func (h *Hub) faultsFor(file string, lfs bool) (f Faults) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cur := &h.faults
	if cur.File != "" && cur.File != file || cur.File == "" && !lfs {
		return Faults{}
	}
	f = *cur
	if cur.Drops > 0 {
		cur.Drops--
	} else {
		f.DropAfter = 0
	}
	if cur.WrongChecksum > 0 {
		cur.WrongChecksum--
	}
	if cur.Status != 0 && cur.StatusTimes > 0 {
		if cur.StatusTimes--; cur.StatusTimes == 0 {
			cur.Status = 0
		}
	}
	return f
}

// serveBytes writes content honouring a "bytes=N-" Range, with faults.
func (h *Hub) serveBytes(w http.ResponseWriter, r *http.Request, name string, content []byte, lfs bool) {
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Length", strconv.Itoa(len(content)))
		w.WriteHeader(http.StatusOK)
		return
	}
	f := h.faultsFor(name, lfs)
	if f.Status != 0 {
		http.Error(w, "fault", f.Status)
		return
	}
	body := content
	if f.WrongChecksum > 0 {
		body = slices.Clone(content)
		body[len(body)-1] ^= 0xff
	}
	start := 0
	if rg := r.Header.Get("Range"); rg != "" && !f.IgnoreRange {
		spec, ok := strings.CutPrefix(rg, "bytes=")
		a, b, ok2 := strings.Cut(spec, "-")
		n, err := strconv.Atoi(a)
		if !ok || !ok2 || b != "" || err != nil || n < 0 {
			http.Error(w, "bad range", http.StatusBadRequest)
			return
		}
		if n >= len(content) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(content)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start = n
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(content)-1, len(content)))
		w.Header().Set("Content-Length", strconv.Itoa(len(content)-n))
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(content)))
		w.WriteHeader(http.StatusOK)
	}
	body = body[start:]
	chunk := 32 << 10
	if f.BytesPerSecond > 0 {
		chunk = int(max(1, min(int64(chunk), f.BytesPerSecond/20)))
	}
	var sent int64
	for len(body) > 0 {
		n := min(chunk, len(body))
		if f.DropAfter > 0 && sent+int64(n) > f.DropAfter {
			n = int(f.DropAfter - sent)
		}
		if n > 0 {
			if _, err := w.Write(body[:n]); err != nil {
				return
			}
			sent += int64(n)
			body = body[n:]
		}
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		if f.DropAfter > 0 && sent >= f.DropAfter {
			panic(http.ErrAbortHandler) // the connection is cut mid-file
		}
		if f.BytesPerSecond > 0 {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(time.Duration(int64(n) * int64(time.Second) / f.BytesPerSecond)):
			}
		}
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(v)
}

// Isolate points the Hugging Face environment at empty temp dirs for t —
// HF_HUB_CACHE (returned), HF_HOME, and no HF_TOKEN or login file — so a
// test neither reads the machine user's cache and token nor writes there.
func Isolate(t testing.TB) (cacheDir string) {
	t.Helper()
	cacheDir = t.TempDir()
	t.Setenv("HF_HUB_CACHE", cacheDir)
	t.Setenv("HF_HOME", t.TempDir())
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_TOKEN_PATH", "")
	return cacheDir
}
