package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SearchQuery is a model search. Library "" searches every library
// (callers pass "mlx" for MLX models); Sort is downloads, likes or recent
// ("" = downloads); Limit 0 is 20, at most 100.
type SearchQuery struct {
	Text, Author, Library string
	Sort                  string // downloads|likes|recent
	Limit                 int
}

// ModelSummary is one search hit.
type ModelSummary struct {
	Repo             string
	Downloads, Likes int
	Updated          time.Time
	Tags             []string
	Gated            bool
}

// apiModel is the JSON of /api/models and /api/models/{repo}: gated is
// false, "auto" or "manual".
type apiModel struct {
	ID           string          `json:"id"`
	SHA          string          `json:"sha"`
	Downloads    int             `json:"downloads"`
	Likes        int             `json:"likes"`
	LastModified time.Time       `json:"lastModified"`
	Tags         []string        `json:"tags"`
	Gated        json.RawMessage `json:"gated"`
	Private      bool            `json:"private"`
	LibraryName  string          `json:"library_name"`
	Siblings     []struct {
		RFilename string `json:"rfilename"`
	} `json:"siblings"`
}

func gatedOf(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s != "" && s != "false" && s != "null"
}

// searchSorts maps SearchQuery.Sort to the Hub's sort keys.
var searchSorts = map[string]string{"": "downloads", "downloads": "downloads", "likes": "likes", "recent": "lastModified"}

// Search lists models matching q, best first, as the Hub's
// GET /api/models?search=&author=&library=&sort=&direction=-1&limit=
// answers (with expand= asking for the fields a summary shows).
func (c *Client) Search(ctx context.Context, q SearchQuery) ([]ModelSummary, error) {
	sortKey, ok := searchSorts[q.Sort]
	if !ok {
		return nil, &Error{Kind: NotFound, Message: fmt.Sprintf("sort %q is not one of downloads, likes, recent", q.Sort)}
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, 100)
	v := url.Values{}
	if q.Text != "" {
		v.Set("search", q.Text)
	}
	if q.Author != "" {
		v.Set("author", q.Author)
	}
	if q.Library != "" {
		v.Set("library", q.Library)
	}
	v.Set("sort", sortKey)
	v.Set("direction", "-1")
	v.Set("limit", strconv.Itoa(limit))
	for _, f := range []string{"downloads", "likes", "lastModified", "tags", "gated", "library_name"} {
		v.Add("expand", f) // repeated, as huggingface_hub sends a list
	}
	var list []apiModel
	if _, err := c.getJSON(ctx, c.endpoint()+"/api/models?"+v.Encode(), "", &list); err != nil {
		return nil, err
	}
	out := make([]ModelSummary, 0, len(list))
	for _, m := range list {
		out = append(out, ModelSummary{Repo: m.ID, Downloads: m.Downloads, Likes: m.Likes, Updated: m.LastModified, Tags: m.Tags, Gated: gatedOf(m.Gated)})
	}
	return out, nil
}

// File is one file of a repo at a commit. SHA256 is the LFS oid (the
// blob's name in the cache); BlobID is the git blob sha1 (the cache name
// of a non-LFS file).
type File struct {
	Path   string
	Size   int64
	SHA256 string // LFS oid, "" for non-LFS
	BlobID string // git blob id
}

// LFS reports whether the file is stored in LFS.
func (f File) LFS() bool { return f.SHA256 != "" }

// BlobName is the file's name under blobs/: the LFS sha256, else the git
// blob sha1 — the normalized ETag huggingface_hub names blobs after.
func (f File) BlobName() string {
	if f.SHA256 != "" {
		return f.SHA256
	}
	return f.BlobID
}

// Model is a repo at a resolved commit with its files.
type Model struct {
	Repo        string
	Revision    string // as requested: a branch, tag or commit
	Commit      string // the sha it resolved to
	Files       []File
	Gated       bool
	Config      json.RawMessage // config.json when fetched, else nil
	Tags        []string
	LibraryName string
}

// treeEntry is one entry of GET /api/models/{repo}/tree/{rev}?recursive=true.
type treeEntry struct {
	Type string `json:"type"` // "file" or "directory"
	OID  string `json:"oid"`  // git blob id
	Size int64  `json:"size"`
	Path string `json:"path"`
	LFS  *struct {
		OID         string `json:"oid"` // sha256
		Size        int64  `json:"size"`
		PointerSize int    `json:"pointerSize"`
	} `json:"lfs"`
}

// escapeRev quotes a revision as huggingface_hub does (quote(rev,
// safe="")): "refs/pr/1" becomes "refs%2Fpr%2F1".
func escapeRev(rev string) string { return url.PathEscape(rev) }

// escapePath quotes a file path keeping its slashes.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// Model reads repo at revision ("" = main): the commit it resolves to
// (GET /api/models/{repo}/revision/{rev}), every file with its size and
// oids (the recursive tree listing at that commit) and config.json. A
// gated repo's files are listed (the Hub shows them) with Gated set;
// downloading them needs a token with access.
func (c *Client) Model(ctx context.Context, repo, revision string) (Model, error) {
	if revision == "" {
		revision = "main"
	}
	if err := checkRepoRev(repo, revision); err != nil {
		return Model{}, err
	}
	var info apiModel
	if _, err := c.getJSON(ctx, c.endpoint()+"/api/models/"+repo+"/revision/"+escapeRev(revision), repo, &info); err != nil {
		return Model{}, err
	}
	if !commitRE.MatchString(info.SHA) {
		return Model{}, &Error{Kind: Server, Repo: repo, Message: "the Hub did not say which commit " + revision + " is; try again later"}
	}
	m := Model{Repo: repo, Revision: revision, Commit: info.SHA, Gated: gatedOf(info.Gated), Tags: info.Tags, LibraryName: info.LibraryName}
	next := c.endpoint() + "/api/models/" + repo + "/tree/" + info.SHA + "?recursive=true"
	for pages := 0; next != ""; pages++ {
		if pages > 1000 {
			return Model{}, &Error{Kind: Server, Repo: repo, Message: "the Hub's file listing does not end"}
		}
		var entries []treeEntry
		n, err := c.getJSON(ctx, next, repo, &entries)
		if err != nil {
			return Model{}, err
		}
		if n != "" && !sameHost(n, c.endpoint()) {
			return Model{}, &Error{Kind: Server, Repo: repo, Message: "the Hub's file listing pointed to another host"}
		}
		next = n
		for _, e := range entries {
			if e.Type != "file" {
				continue
			}
			f := File{Path: e.Path, Size: e.Size, BlobID: e.OID}
			if e.LFS != nil {
				f.SHA256, f.Size = e.LFS.OID, e.LFS.Size
			}
			m.Files = append(m.Files, f)
		}
	}
	slices.SortFunc(m.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	for _, f := range m.Files {
		if f.Path == "config.json" && f.Size < 4<<20 {
			cfg, err := c.smallFile(ctx, repo, m.Commit, f.Path)
			var he *Error
			if m.Gated && errors.As(err, &he) && (he.Kind == Gated || he.Kind == Unauthorized) {
				break // a gated repo's files need access; its listing does not
			}
			if err != nil {
				return Model{}, err
			}
			if json.Valid(cfg) {
				m.Config = cfg
			}
		}
	}
	return m, nil
}

// smallFile GETs a small non-LFS file through resolve.
func (c *Client) smallFile(ctx context.Context, repo, commit, file string) ([]byte, error) {
	req, err := c.newRequest(ctx, http.MethodGet, c.resolveURL(repo, commit, file), true)
	if err != nil {
		return nil, err
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, c.netError(ctx, repo, file, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, c.statusError(resp, repo, file)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, c.netError(ctx, repo, file, err)
	}
	return b, nil
}

func (c *Client) resolveURL(repo, rev, file string) string {
	return c.endpoint() + "/" + repo + "/resolve/" + escapeRev(rev) + "/" + escapePath(file)
}

// NeededFiles are the files a model needs to run: config.json and
// generation_config.json, the safetensors weights and their index, the
// tokenizer files and chat templates — not READMEs, images, other
// weight formats (gguf, bin, pth, onnx) or anything in a subfolder.
func NeededFiles(m Model) []File {
	var out []File
	for _, f := range m.Files {
		if needed(f.Path) {
			out = append(out, f)
		}
	}
	return out
}

func needed(p string) bool {
	if strings.Contains(p, "/") {
		return false
	}
	switch p {
	case "config.json", "generation_config.json", "model.safetensors.index.json",
		"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
		"tokenizer.model", "vocab.json", "merges.txt", "vocab.txt", "spiece.model",
		"chat_template.json", "chat_template.jinja", "preprocessor_config.json", "processor_config.json":
		return true
	}
	return path.Ext(p) == ".safetensors" || (strings.HasPrefix(p, "chat_template") && (strings.HasSuffix(p, ".jinja") || strings.HasSuffix(p, ".json")))
}

// HasWeights reports whether files hold safetensors weights.
func HasWeights(files []File) bool {
	return slices.ContainsFunc(files, func(f File) bool { return path.Ext(f.Path) == ".safetensors" })
}

// noWeights is the NoWeights error for m, naming what it has instead.
func noWeights(m Model) *Error {
	var other []string
	for _, f := range m.Files {
		switch path.Ext(f.Path) {
		case ".gguf", ".bin", ".pth", ".pt", ".onnx", ".ckpt", ".h5", ".msgpack":
			if !slices.Contains(other, path.Ext(f.Path)) {
				other = append(other, path.Ext(f.Path))
			}
		}
	}
	msg := fmt.Sprintf("%s has no MLX weights (.safetensors): look for an MLX conversion, e.g. in the mlx-community organisation", m.Repo)
	if len(other) > 0 {
		msg = fmt.Sprintf("%s has no MLX weights (.safetensors), only %s files: look for an MLX conversion, e.g. in the mlx-community organisation", m.Repo, strings.Join(other, ", "))
	}
	return &Error{Kind: NoWeights, Repo: m.Repo, Message: msg}
}
