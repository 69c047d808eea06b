package reqlog

import (
	"context"
	"time"
)

// run is the writer goroutine. It alone touches pending and timer, and it
// makes every call into the Store that writes.
func (l *Log) run() {
	defer close(l.done)
	l.timer = time.NewTimer(l.opts.FlushInterval)
	l.timer.Stop() // armed while pending is not empty
	prune := time.NewTicker(l.opts.PruneInterval)
	defer prune.Stop()
	for {
		select {
		case e := <-l.in:
			if len(l.pending) == 0 {
				l.timer.Reset(l.opts.FlushInterval)
			}
			l.pending = append(l.pending, e)
			if len(l.pending) >= l.opts.BatchSize {
				l.flush(0)
			}
		case <-l.timer.C:
			l.flush(0)
		case f := <-l.ops:
			f()
		case <-l.pruneCh:
			l.pruneAndLog()
		case <-prune.C:
			l.pruneAndLog()
		case <-l.quit:
			l.flush(len(l.in))
			return
		}
	}
}

// flush takes n more entries off the queue (they were queued before the
// caller asked) and writes everything pending, BatchSize per transaction.
// A batch the Store refuses is logged and counted as dropped: the request
// log is best-effort and must not grow without bound while the disk is
// full.
func (l *Log) flush(n int) {
	for range n {
		l.pending = append(l.pending, <-l.in)
	}
	l.timer.Stop()
	for len(l.pending) > 0 {
		batch := l.pending[:min(len(l.pending), l.opts.BatchSize)]
		if err := l.insert(batch); err != nil {
			l.dropped.Add(int64(len(batch)))
			l.log.Warn("request log: entries not stored", "count", len(batch), "err", err)
		}
		l.pending = l.pending[len(batch):]
	}
	l.pending = nil
}

func (l *Log) insert(batch []Entry) error {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	return l.store.InsertRequests(ctx, batch)
}

// prune deletes what the retention and MaxEntries no longer keep.
func (l *Log) prune() (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	return l.store.PruneRequests(ctx, l.opts.Now().Add(-l.Retention()), l.opts.MaxEntries)
}

func (l *Log) pruneAndLog() {
	n, err := l.prune()
	switch {
	case err != nil:
		l.log.Warn("request log: prune failed", "err", err)
	case n > 0:
		l.log.Info("request log pruned", "deleted", n, "retention", l.Retention().String())
	}
}
