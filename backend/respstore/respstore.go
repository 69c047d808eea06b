// Package respstore keeps the Responses API answers modelbar makes itself
// (translated or local; a relayed response is its provider's to keep), for
// GET /v1/responses/{id}, its input items and previous_response_id. They
// are conversation content: kept in the database only, never logged,
// pruned after the retention the settings give. No HTTP here.
package respstore

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Response is one stored response.
type Response struct {
	ID         string
	CreatedAt  time.Time
	PreviousID string          // the response it continued; "" for none
	Model      string          // as the client asked for it
	Input      json.RawMessage // the request's own input items, a JSON array
	Response   json.RawMessage // the response object as the client received it
}

// Store is the database behind a Keeper (store.Store). Its methods block on
// the database and honour ctx; it is safe for concurrent use. A response
// that is not there (or older than notBefore) is an error for which
// IsNotFound is true.
type Store interface {
	SaveResponse(ctx context.Context, r Response) error
	Response(ctx context.Context, id string, notBefore time.Time) (Response, error)
	// ResponseChain is id and the responses it continued, oldest first.
	ResponseChain(ctx context.Context, id string, notBefore time.Time) ([]Response, error)
	DeleteResponse(ctx context.Context, id string) error
	PruneResponses(ctx context.Context, before time.Time) (int64, error)
}

// ErrNotFound is what a Store's missing response wraps.
var ErrNotFound = errors.New("response not found")

// IsNotFound reports whether err says a response is not stored.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// PruneInterval is how often expired responses are deleted; reads never
// return them in between.
const PruneInterval = time.Hour

// Keeper applies the settings to a Store: whether to keep responses and for
// how long. One goroutine prunes at start and every PruneInterval until
// Close. Safe for concurrent use.
type Keeper struct {
	st      Store
	log     *slog.Logger
	now     func() time.Time
	enabled atomic.Bool
	keep    atomic.Int64 // retention in nanoseconds; 0: until deleted
	prune   chan struct{}
	quit    chan struct{}
	done    chan struct{}
	closing sync.Once
}

// New starts a Keeper over st, keeping responses for retention (0: until
// deleted) while enabled. now is the clock (nil: time.Now).
func New(st Store, enabled bool, retention time.Duration, log *slog.Logger, now func() time.Time) *Keeper {
	if now == nil {
		now = time.Now
	}
	k := &Keeper{st: st, log: log, now: now, prune: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	k.Set(enabled, retention)
	go k.run()
	return k
}

// Set changes whether responses are kept and for how long (0: until
// deleted); a shorter retention prunes at once.
func (k *Keeper) Set(enabled bool, retention time.Duration) {
	k.enabled.Store(enabled)
	if old := k.keep.Swap(int64(retention)); retention > 0 && (old == 0 || int64(retention) < old) {
		select {
		case k.prune <- struct{}{}:
		default:
		}
	}
}

// Enabled reports whether new responses are kept.
func (k *Keeper) Enabled() bool { return k.enabled.Load() }

// notBefore is the oldest creation time still kept.
func (k *Keeper) notBefore() time.Time {
	if d := time.Duration(k.keep.Load()); d > 0 {
		return k.now().Add(-d)
	}
	return time.Time{}
}

// Save keeps r; it is stamped now if it has no time.
func (k *Keeper) Save(ctx context.Context, r Response) error {
	if r.CreatedAt.IsZero() {
		r.CreatedAt = k.now()
	}
	return k.st.SaveResponse(ctx, r)
}

// Get returns a kept response that has not expired.
func (k *Keeper) Get(ctx context.Context, id string) (Response, error) {
	return k.st.Response(ctx, id, k.notBefore())
}

// Chain returns id and the responses it continued, oldest first, none of
// them expired.
func (k *Keeper) Chain(ctx context.Context, id string) ([]Response, error) {
	return k.st.ResponseChain(ctx, id, k.notBefore())
}

// Delete deletes a kept response (an expired one is not found).
func (k *Keeper) Delete(ctx context.Context, id string) error {
	if _, err := k.Get(ctx, id); err != nil {
		return err
	}
	return k.st.DeleteResponse(ctx, id)
}

// Close stops the pruning goroutine and waits for it.
func (k *Keeper) Close() {
	k.closing.Do(func() { close(k.quit) })
	<-k.done
}

func (k *Keeper) run() {
	defer close(k.done)
	t := time.NewTicker(PruneInterval)
	defer t.Stop()
	for {
		k.pruneNow()
		select {
		case <-k.quit:
			return
		case <-t.C:
		case <-k.prune:
		}
	}
}

// pruneNow deletes the expired responses.
func (k *Keeper) pruneNow() {
	before := k.notBefore()
	if before.IsZero() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := k.st.PruneResponses(ctx, before)
	switch {
	case err != nil:
		k.log.Warn("pruning stored responses failed", "deleted", n, "err", err)
	case n > 0:
		k.log.Info("stored responses pruned", "deleted", n)
	}
}
