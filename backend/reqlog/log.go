package reqlog

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the zero fields of Options.
const (
	DefaultBuffer        = 4096
	DefaultBatchSize     = 1024
	DefaultFlushInterval = time.Second
	DefaultRetention     = 30 * 24 * time.Hour
	DefaultMaxEntries    = 1_000_000
	DefaultPruneInterval = time.Hour
)

// storeTimeout bounds one call into the Store from the writer goroutine, so
// a stuck database cannot stall Close forever.
const storeTimeout = 30 * time.Second

// Options configures a Log. The zero value takes every default.
type Options struct {
	Buffer        int           // entries waiting to be written before Add drops; 0: DefaultBuffer
	BatchSize     int           // entries per transaction at most; 0: DefaultBatchSize
	FlushInterval time.Duration // longest an entry waits to be written; 0: DefaultFlushInterval
	Retention     time.Duration // entries older than this are pruned; 0: DefaultRetention
	MaxEntries    int           // entries kept at most; 0: DefaultMaxEntries
	PruneInterval time.Duration // 0: DefaultPruneInterval
	Now           func() time.Time
	Log           *slog.Logger
}

// Log is the request log: Add queues an entry without blocking and one
// writer goroutine stores the queue in batches, prunes old entries at start
// and every PruneInterval, and stops at Close. Safe for concurrent use.
type Log struct {
	store Store
	opts  Options
	log   *slog.Logger

	in      chan Entry    // queued entries; the writer goroutine drains it
	ops     chan func()   // work to run on the writer goroutine
	pruneCh chan struct{} // buffered 1: a prune was asked for
	quit    chan struct{} // closed by Close
	done    chan struct{} // closed when the writer goroutine has returned
	closing sync.Once     // guards closing quit
	closed  atomic.Bool   // set by Close; Add drops from then on
	dropped atomic.Int64  // entries lost: queue full, closed, or a failed write
	keep    atomic.Int64  // retention in nanoseconds

	// Owned by the writer goroutine (run).
	pending []Entry     // taken off in, not yet written
	timer   *time.Timer // fires FlushInterval after pending stopped being empty
}

// New starts a Log over st. Close stops it.
func New(st Store, opts Options) *Log {
	opts = withDefaults(opts)
	l := &Log{
		store: st, opts: opts, log: opts.Log,
		in:      make(chan Entry, opts.Buffer),
		ops:     make(chan func()),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		pruneCh: make(chan struct{}, 1),
	}
	l.keep.Store(int64(opts.Retention))
	l.pruneCh <- struct{}{} // prune once at start
	go l.run()
	return l
}

func withDefaults(o Options) Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Buffer, DefaultBuffer)
	def(&o.BatchSize, DefaultBatchSize)
	def(&o.MaxEntries, DefaultMaxEntries)
	defDur(&o.FlushInterval, DefaultFlushInterval)
	defDur(&o.Retention, DefaultRetention)
	defDur(&o.PruneInterval, DefaultPruneInterval)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return o
}

// Add queues e to be stored. It never blocks: when the queue is full, or
// the Log is closed, e is dropped and counted in Dropped.
func (l *Log) Add(e Entry) {
	if l.closed.Load() {
		l.dropped.Add(1)
		return
	}
	select {
	case l.in <- e:
	default:
		l.dropped.Add(1)
	}
}

// Dropped is how many entries were lost: the queue was full, the Log was
// closed or the Store failed to write them.
func (l *Log) Dropped() int64 { return l.dropped.Load() }

// Recent returns up to limit entries with ids above afterID (0 for all),
// newest first; a poller passes the newest id it has seen. Entries added
// before the call are written first, so they are among the results.
func (l *Log) Recent(ctx context.Context, limit int, afterID int64) ([]Entry, error) {
	return l.Query(ctx, Query{Limit: limit, AfterID: afterID})
}

// Query returns the entries q selects, newest first, after writing those
// added before the call.
func (l *Log) Query(ctx context.Context, q Query) ([]Entry, error) {
	if err := l.Flush(ctx); err != nil {
		return nil, err
	}
	return l.store.QueryRequests(ctx, q)
}

// Get returns the entry with that id, or ErrNotFound, after writing the
// entries added before the call.
func (l *Log) Get(ctx context.Context, id int64) (Entry, error) {
	if err := l.Flush(ctx); err != nil {
		return Entry{}, err
	}
	return l.store.Request(ctx, id)
}

// Totals sums the entries since a time per backend, after writing those
// added before the call.
func (l *Log) Totals(ctx context.Context, since time.Time) ([]Totals, error) {
	if err := l.Flush(ctx); err != nil {
		return nil, err
	}
	return l.store.RequestTotals(ctx, since)
}

// RouteTokenStore is a Store that can also sum tokens per route, for the
// routes' daily budgets to survive a restart.
type RouteTokenStore interface {
	// RouteTokens sums input plus output tokens of the entries since a
	// time, per route pattern; entries of no route are left out.
	RouteTokens(ctx context.Context, since time.Time) (map[string]int64, error)
}

var _ RouteTokenStore = (*Memory)(nil)

// RouteTokens sums the tokens of the entries since a time per route
// pattern, after writing those added before the call. A Store that cannot
// gives an empty map.
func (l *Log) RouteTokens(ctx context.Context, since time.Time) (map[string]int64, error) {
	rs, ok := l.store.(RouteTokenStore)
	if !ok {
		return map[string]int64{}, nil
	}
	if err := l.Flush(ctx); err != nil {
		return nil, err
	}
	return rs.RouteTokens(ctx, since)
}

// Flush writes every entry added before the call. After Close it returns at
// once: Close has written them.
func (l *Log) Flush(ctx context.Context) error {
	return l.do(ctx, func() { l.flush(len(l.in)) })
}

// SetRetention changes how long entries are kept (0 or less: the default)
// and prunes with the new value soon after.
func (l *Log) SetRetention(d time.Duration) {
	if d <= 0 {
		d = DefaultRetention
	}
	l.keep.Store(int64(d))
	l.askPrune()
}

// Retention is how long entries are kept.
func (l *Log) Retention() time.Duration { return time.Duration(l.keep.Load()) }

// Prune deletes the entries older than the retention and those beyond
// MaxEntries now, and returns how many it deleted.
func (l *Log) Prune(ctx context.Context) (int64, error) {
	var n int64
	var err error
	if derr := l.do(ctx, func() { n, err = l.prune() }); derr != nil {
		return 0, derr
	}
	return n, err
}

// Close writes the queued entries and stops the writer goroutine; entries
// added afterwards are dropped. Call it once nothing adds any more (after
// the HTTP server has drained); further calls do nothing.
func (l *Log) Close() error {
	l.closing.Do(func() {
		l.closed.Store(true)
		close(l.quit)
	})
	<-l.done
	return nil
}

// do runs f on the writer goroutine and waits for it, or for ctx. After
// Close it runs nothing and returns nil.
func (l *Log) do(ctx context.Context, f func()) error {
	ran := make(chan struct{})
	select {
	case l.ops <- func() { f(); close(ran) }:
	case <-l.done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	select {
	case <-ran:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (l *Log) askPrune() {
	select {
	case l.pruneCh <- struct{}{}:
	default: // one is already pending
	}
}
