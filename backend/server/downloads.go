package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/modelbar/modelbar/backend/downloads"
	"github.com/modelbar/modelbar/backend/engine"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/events"
	"github.com/modelbar/modelbar/backend/hub"
	"github.com/modelbar/modelbar/backend/secrets"
	"github.com/modelbar/modelbar/backend/store"
)

// downloadsOptions are the download manager's options for a data dir: the
// Hub at HF_ENDPOINT, the Hugging Face cache at HF_HUB_CACHE/HF_HOME, the
// token in the secret store.
func downloadsOptions(dataDir string, getenv func(string) string, st *store.Store, sec secrets.Store, log *slog.Logger) (downloads.Options, downloads.Token) {
	tok := downloads.Token{Secrets: sec, Fallback: func() string { return hub.TokenFromEnv(getenv) }}
	cache := hub.CacheDirFromEnv(getenv)
	return downloads.Options{
		Hub:       &downloads.HubClient{Endpoint: hub.EndpointFromEnv(getenv), CacheDir: cache, Token: tok.Get},
		Store:     st,
		Log:       log,
		CacheDir:  cache,
		ModelsDir: filepath.Join(dataDir, "models"),
	}, tok
}

// startDownloads starts the download manager beside the engine: a finished
// download makes the engine rescan, so the model is listed (and its
// "models" event sent) before the download is told done.
func startDownloads(ctx context.Context, dataDir string, st *store.Store, sec secrets.Store, hubEvents *events.Hub,
	local *engine.Engine, budget func() int64, log *slog.Logger) (*downloads.Manager, downloads.Token, error) {
	opts, tok := downloadsOptions(dataDir, os.Getenv, st, sec, log)
	opts.Events, opts.Budget, opts.Rescan = hubEvents, budget, local.Rescan
	opts.Finished = func(_ context.Context, d downloads.Download) string {
		local.Rescan()
		if slices.ContainsFunc(local.Models(), func(m engine.Model) bool { return m.ID == d.Repo }) {
			return d.Repo
		}
		log.Warn("a downloaded model is not in the engine's list", "repo", d.Repo)
		return ""
	}
	m, err := downloads.New(ctx, opts)
	if err != nil {
		return nil, tok, err
	}
	return m, tok, nil
}

// Downloads is a download manager working on a data dir without a running
// server (`modelbar pull` when none answers). Close it when done.
type Downloads struct {
	Manager *downloads.Manager
	roots   []modelfile.Root
	st      *store.Store
}

// OpenDownloads opens the data dir's database and secret store and starts
// a manager on them. Another modelbar must not be running on the data dir.
func OpenDownloads(ctx context.Context, dataDir string, getenv func(string) string, log *slog.Logger) (*Downloads, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	st, err := store.Open(ctx, filepath.Join(dataDir, dbFileName))
	if err != nil {
		return nil, err
	}
	sec, err := secrets.Open(ctx, dataDir, log)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("open secret store: %w", err)
	}
	opts, _ := downloadsOptions(dataDir, getenv, st, sec, log)
	opts.Parallel = 1
	d := &Downloads{st: st, roots: []modelfile.Root{modelfile.ModelsRoot(dataDir), {Kind: modelfile.HFCache, Dir: opts.CacheDir}}}
	if d.Manager, err = downloads.New(ctx, opts); err != nil {
		st.Close()
		return nil, err
	}
	return d, nil
}

// Discover lists the models on disk, as the engine would.
func (d *Downloads) Discover() []modelfile.Entry { return modelfile.Discover(d.roots...) }

// Remove removes a model from the disk.
func (d *Downloads) Remove(ctx context.Context, id string) error {
	for _, e := range d.Discover() {
		if e.ID == id {
			return d.Manager.RemoveModel(ctx, downloads.LocalModel{ID: e.ID, InHFCache: e.Source == modelfile.HFCache, Path: e.Path, Revision: e.Revision})
		}
	}
	return &downloads.Error{Kind: downloads.NotFound, Message: "no local model " + id + ": `modelbar ls` lists them"}
}

// Close stops the manager and closes the database.
func (d *Downloads) Close() {
	d.Manager.Close()
	d.st.Close()
}
