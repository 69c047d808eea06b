// Package downloads is the model download manager: a queue of Hugging Face
// Hub downloads with a small parallel limit, their state, rate and ETA,
// kept in the database so a download survives a restart and continues
// from the partial files in the Hugging Face cache, cancel, and the
// `downloads` events. One goroutine owns every download's state; workers
// only report to it. The Hub itself is behind the small Hub interface
// (package hub implements it through an adapter in package server).
package downloads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/modelbar/modelbar/backend/store"
)

// State is where a download is in its life.
type State string

// The states, in the order a download normally goes through them; failed
// and cancelled end it early.
const (
	Queued      State = "queued"
	Downloading State = "downloading"
	Verifying   State = "verifying" // every byte is there; checksums and linking into the snapshot remain
	Done        State = "done"
	Failed      State = "failed"
	Cancelled   State = "cancelled"
)

// ended reports whether a download in state s has stopped for good.
func (s State) ended() bool { return s == Done || s == Failed || s == Cancelled }

// Download is one download as the admin API and the events show it.
type Download struct {
	ID         string    `json:"id"`
	Repo       string    `json:"repo"`
	Revision   string    `json:"revision"`
	Commit     string    `json:"commit"`
	State      State     `json:"state"`
	DoneBytes  int64     `json:"done_bytes"`
	TotalBytes int64     `json:"total_bytes"`
	RateBPS    int64     `json:"rate_bps"`    // smoothed; 0 when unknown or not downloading
	ETASeconds int64     `json:"eta_seconds"` // from the smoothed rate; 0 when unknown
	Error      string    `json:"error"`       // why it failed, in plain words with what to do
	ErrorKind  Kind      `json:"error_kind"`  // the kind of failure ("" unless failed)
	ModelID    string    `json:"model_id"`    // the local model id once done, as /api/models lists it
	StartedAt  time.Time `json:"started_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// File is one file of a repo revision.
type File struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// Plan is what downloading a repo at a revision takes: the commit it
// resolves to and the files a model needs. Ref is the Hub's own
// description, handed back to Fetch.
type Plan struct {
	Repo, Revision, Commit string
	Files                  []File
	Gated                  bool
	Config                 json.RawMessage // config.json, when the Hub gave it
	// Denied says why the files cannot be downloaded with the token at
	// hand (a gated repo: no token, or its account not granted access);
	// nil when they can, or it is not known before trying.
	Denied *Error
	Ref    any
}

// TotalBytes is the size of the plan's files.
func (p Plan) TotalBytes() int64 {
	var n int64
	for _, f := range p.Files {
		n += f.Size
	}
	return n
}

// Summary is one search result.
type Summary struct {
	Repo         string    `json:"repo"`
	Downloads    int       `json:"downloads"`
	Likes        int       `json:"likes"`
	Updated      time.Time `json:"updated"`
	Gated        bool      `json:"gated"`
	Params       string    `json:"params"`       // "0.5B", "7B", from the name; "" if it does not say
	Quantization string    `json:"quantization"` // "4bit", "bf16", from the name; "" if it does not say
}

// SearchQuery is a Hub search.
type SearchQuery struct {
	Text, Author, Sort string // Sort: downloads, likes or recent
	Limit              int
}

// Hub is the Hugging Face Hub as the manager uses it. Every method blocks
// on the network or the disk until done or ctx ends; all are safe for
// concurrent use.
type Hub interface {
	Search(ctx context.Context, q SearchQuery) ([]Summary, error)
	// Plan resolves repo@revision and lists the files a model needs.
	Plan(ctx context.Context, repo, revision string) (Plan, error)
	// Fetch downloads the plan's files into the cache, resuming partial
	// ones, verifying each, and links them into the snapshot; progress
	// (maybe from several goroutines) gets the bytes done of the whole.
	Fetch(ctx context.Context, p Plan, progress func(done, total int64)) error
	// Discard removes the partial files a cut download of p left.
	Discard(ctx context.Context, p Plan) error
	// Remove removes a cached snapshot, keeping blobs another one uses.
	Remove(ctx context.Context, repo, commit string) error
}

// Store keeps downloads across restarts (package store implements it).
type Store interface {
	PutDownload(ctx context.Context, d store.Download) error
	ListDownloads(ctx context.Context) ([]store.Download, error)
}

var _ Store = (*store.Store)(nil)

// Kind is a kind of failure, for the admin API's status and a client's
// choice of what to show.
type Kind string

// The kinds of failure.
const (
	Invalid      Kind = "invalid_request" // a malformed repo or revision
	NotFound     Kind = "not_found"       // no such repo, revision or download
	Unauthorized Kind = "unauthorized"    // the repo needs a Hub token, or refused the one given
	Gated        Kind = "gated"           // the repo is gated and the token's account has not been granted access
	NoWeights    Kind = "no_weights"      // nothing modelbar can run in the repo
	DiskFull     Kind = "disk_full"
	Checksum     Kind = "checksum" // a file did not match the Hub's checksum, again
	Network      Kind = "network"
	Server       Kind = "server"   // the Hub answered with an error
	Conflict     Kind = "conflict" // the request does not fit the download's state
)

// Error is a failure with its kind and a message in plain words that says
// what to do.
type Error struct {
	Kind    Kind
	Message string
	Err     error // the cause, if any
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// errorf makes an *Error.
func errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// kindOf is err's Kind: Network for a cut with no kind.
func kindOf(err error) (Kind, string) {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind, e.Message
	}
	return Network, err.Error()
}

func toRecord(d Download) store.Download {
	return store.Download{ID: d.ID, Repo: d.Repo, Revision: d.Revision, Commit: d.Commit, State: string(d.State),
		DoneBytes: d.DoneBytes, TotalBytes: d.TotalBytes, Error: d.Error, ModelID: d.ModelID,
		StartedAt: d.StartedAt, UpdatedAt: d.UpdatedAt}
}

func fromRecord(r store.Download) Download {
	return Download{ID: r.ID, Repo: r.Repo, Revision: r.Revision, Commit: r.Commit, State: State(r.State),
		DoneBytes: r.DoneBytes, TotalBytes: r.TotalBytes, Error: r.Error, ModelID: r.ModelID,
		StartedAt: r.StartedAt, UpdatedAt: r.UpdatedAt}
}
