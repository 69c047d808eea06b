package engine

import (
	"slices"
	"time"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/pool"
)

// Change is one change of the local models: a model found on disk or gone
// from it (Found, Removed), or a model's state in memory (the pool's
// kinds: loading, loaded, load_failed, unloaded, evicted, expired, pinned,
// unpinned).
type Change = pool.Change

// The changes the disk makes, beside the pool's.
const (
	Found   pool.Kind = "found"   // a rescan found a model not there before
	Removed pool.Kind = "removed" // a rescan no longer finds a model
)

// OnChange adds f to what hears of every Change, in the order they happen.
// f runs on the goroutine that made the change (the model pool's, a
// request's, the rescan's): it must return quickly and must not call the
// engine — hand the change off (an events hub's Publish never blocks).
// Safe for concurrent use.
func (e *Engine) OnChange(f func(Change)) {
	e.obsMu.Lock()
	defer e.obsMu.Unlock()
	e.observers = append(e.observers, f)
}

// tell hands c to every observer.
func (e *Engine) tell(c Change) {
	e.obsMu.Lock()
	obs := slices.Clone(e.observers)
	e.obsMu.Unlock()
	for _, f := range obs {
		f(c)
	}
}

// catalogChanges lists the models found in now and not in before, then
// those gone, each by id.
func catalogChanges(before, now []modelfile.Entry) []Change {
	ids := func(es []modelfile.Entry) map[string]bool {
		m := make(map[string]bool, len(es))
		for _, en := range es {
			m[en.ID] = true
		}
		return m
	}
	had, has := ids(before), ids(now)
	var out []Change
	for _, en := range now {
		if !had[en.ID] {
			had[en.ID] = true // an id in two roots is one model
			out = append(out, Change{Model: en.ID, Kind: Found})
		}
	}
	for _, en := range before {
		if !has[en.ID] {
			has[en.ID] = true
			out = append(out, Change{Model: en.ID, Kind: Removed})
		}
	}
	return out
}

// rescanLoop looks at the disk every d until the engine closes, so a model
// copied or downloaded into a root is found (and told of) without anyone
// asking for the list.
func (e *Engine) rescanLoop(d time.Duration) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			e.rescan()
		case <-e.closed:
			return
		}
	}
}
