package downloads

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/modelbar/modelbar/backend/hub"
)

// HubClient is the Hub interface over package hub: the endpoint (HF_ENDPOINT
// or the public Hub), the cache, and the token read from its store at each
// call (so a token set in the UI counts for the next request).
type HubClient struct {
	Endpoint string
	CacheDir string
	Token    func(ctx context.Context) string // nil: anonymous
	HTTP     *http.Client                     // nil: package hub's default
}

var _ Hub = (*HubClient)(nil)

// ref is what Plan hands Fetch.
type ref struct {
	model hub.Model
	files []hub.File
}

func (h *HubClient) client(ctx context.Context) *hub.Client {
	token := ""
	if h.Token != nil {
		token = h.Token(ctx)
	}
	c := hub.NewClient(h.Endpoint, token)
	c.HTTP = h.HTTP
	return c
}

// Search implements Hub.
func (h *HubClient) Search(ctx context.Context, q SearchQuery) ([]Summary, error) {
	hits, err := h.client(ctx).Search(ctx, hub.SearchQuery{Text: q.Text, Author: q.Author, Library: "mlx", Sort: q.Sort, Limit: q.Limit})
	if err != nil {
		return nil, hubError(err)
	}
	out := make([]Summary, 0, len(hits))
	for _, s := range hits {
		out = append(out, Summary{Repo: s.Repo, Downloads: s.Downloads, Likes: s.Likes, Updated: s.Updated, Gated: s.Gated})
	}
	return out, nil
}

// Plan implements Hub: the files are those a model needs (hub.NeededFiles).
func (h *HubClient) Plan(ctx context.Context, repo, revision string) (Plan, error) {
	c := h.client(ctx)
	m, err := c.Model(ctx, repo, revision)
	if err != nil {
		return Plan{}, hubError(err)
	}
	need := hub.NeededFiles(m)
	p := Plan{Repo: repo, Revision: revision, Commit: m.Commit, Gated: m.Gated, Config: m.Config, Ref: ref{m, need}}
	if m.Gated && m.Config == nil { // the Hub gave the listing but not the files
		p.Denied = errorf(Gated, "%s is gated: accept its conditions on %s/%s while signed in to the Hub, and make sure the access token set in modelbar (PUT /api/hub/token) is of that account",
			repo, c.Endpoint, repo)
		if c.Token == "" {
			p.Denied = errorf(Unauthorized, "%s is gated: accept its conditions on %s/%s while signed in to the Hub, then set a Hub access token in modelbar (Settings, or PUT /api/hub/token)",
				repo, c.Endpoint, repo)
		}
	}
	for _, f := range need {
		p.Files = append(p.Files, File{Path: f.Path, Size: f.Size})
	}
	return p, nil
}

// Fetch implements Hub.
func (h *HubClient) Fetch(ctx context.Context, p Plan, progress func(done, total int64)) error {
	r, ok := p.Ref.(ref)
	if !ok {
		return errorf(Server, "the plan of %s is not the Hub client's", p.Repo)
	}
	_, err := h.client(ctx).Download(ctx, hub.DownloadRequest{Model: r.model, Files: r.files, CacheDir: h.CacheDir},
		func(pr hub.Progress) { progress(pr.Done, pr.Total) })
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return hubError(err)
	}
	return nil
}

// Discard implements Hub: the plan's blobs/<id>.incomplete files go.
func (h *HubClient) Discard(_ context.Context, p Plan) error {
	r, ok := p.Ref.(ref)
	if !ok {
		return nil
	}
	blobs := filepath.Join(h.CacheDir, "models--"+strings.ReplaceAll(p.Repo, "/", "--"), "blobs")
	var errs []error
	for _, f := range r.files {
		name := f.BlobName()
		if name == "" || strings.ContainsAny(name, `/\`) {
			continue
		}
		if err := os.Remove(filepath.Join(blobs, name+".incomplete")); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Remove implements Hub.
func (h *HubClient) Remove(_ context.Context, repo, commit string) error {
	return hubError(hub.RemoveSnapshot(h.CacheDir, repo, commit))
}

// hubError turns a *hub.Error into an *Error of the same kind and words.
func hubError(err error) error {
	var he *hub.Error
	if err == nil || !errors.As(err, &he) {
		return err
	}
	kinds := map[hub.Kind]Kind{hub.Network: Network, hub.NotFound: NotFound, hub.Unauthorized: Unauthorized, hub.Gated: Gated,
		hub.NoWeights: NoWeights, hub.Checksum: Checksum, hub.DiskFull: DiskFull, hub.Server: Server}
	k, ok := kinds[he.Kind]
	if !ok {
		k = Server
	}
	msg := he.Message
	if k == Network && he.Err != nil {
		msg = fmt.Sprintf("%s (%v)", msg, he.Err)
	}
	return &Error{Kind: k, Message: msg, Err: err}
}
