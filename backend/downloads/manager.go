package downloads

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelbar/modelbar/backend/events"
)

// Options configure a Manager.
type Options struct {
	Hub    Hub
	Store  Store       // nil: downloads are not kept across restarts
	Events *events.Hub // nil: no events
	// Parallel is how many downloads run at once; 0: 2 (each fetches
	// several files in parallel already, and one link is shared).
	Parallel int
	// Finished is called (on a worker goroutine) when a model is in the
	// cache, before the download is told done: the engine rescans, so
	// the model is usable the moment a client hears "done". It returns
	// the model's id as the engine lists it.
	Finished func(ctx context.Context, d Download) string
	Log      *slog.Logger
	// Rescan makes the engine look at the disk now (after RemoveModel).
	Rescan func()
	// CacheDir is the Hugging Face cache (free disk, Info's downloaded);
	// ModelsDir is modelbar's models dir (RemoveModel's limit); Budget is
	// the engine's memory budget now (Info's fits).
	CacheDir, ModelsDir string
	Budget              func() int64
}

// How often a download in progress is told (events) and saved (database).
const (
	publishEvery = 250 * time.Millisecond // at most ~4 events a second per download
	saveEvery    = 2 * time.Second
	reportEvery  = 100 * time.Millisecond // how often a worker passes progress to the loop
)

// Manager runs downloads. Create it with New; Close stops it. Safe for
// concurrent use: every method sends a request to the one goroutine that
// owns the downloads' state.
type Manager struct {
	opts   Options
	log    *slog.Logger
	reqs   chan func(*loop) // run on the loop goroutine
	msgs   chan workerMsg   // from the workers
	closed chan struct{}    // closed when Close is called
	done   chan struct{}    // closed when the loop has ended
	once   sync.Once
}

// item is one download as the loop keeps it.
type item struct {
	d        Download
	plan     *Plan              // nil until resolved
	cancel   context.CancelFunc // non-nil while a worker runs it
	discard  bool               // remove the partial files when the worker stops
	cancelAt bool               // the user cancelled it (not a shutdown)
	lastPub  time.Time
	lastSave time.Time
	meter    meter
}

// loop is the state the loop goroutine owns.
type loop struct {
	m       *Manager
	items   map[string]*item
	order   []string // ids, oldest first
	running int
	closing bool
}

// workerMsg is a worker's report: progress, or the end (fin).
type workerMsg struct {
	id          string
	plan        *Plan
	done, total int64
	fin         bool
	err         error
	modelID     string
}

// New starts a manager; downloads the store holds that had not ended
// start again (resuming their partial files).
func New(ctx context.Context, opts Options) (*Manager, error) {
	if opts.Parallel <= 0 {
		opts.Parallel = 2
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{opts: opts, log: opts.Log, reqs: make(chan func(*loop)), msgs: make(chan workerMsg, 64),
		closed: make(chan struct{}), done: make(chan struct{})}
	l := &loop{m: m, items: map[string]*item{}}
	if opts.Store != nil {
		recs, err := opts.Store.ListDownloads(ctx)
		if err != nil {
			return nil, fmt.Errorf("downloads: %w", err)
		}
		for _, r := range recs {
			it := &item{d: fromRecord(r)}
			if !it.d.State.ended() {
				it.d.State = Queued // resumed below, from its partial files
			}
			l.items[it.d.ID] = it
			l.order = append(l.order, it.d.ID)
		}
	}
	go l.run()
	return m, nil
}

// Close cuts the running downloads (they stay queued in the store and
// continue at the next start) and waits for the workers to stop.
func (m *Manager) Close() {
	m.once.Do(func() { close(m.closed) })
	<-m.done
}

// call runs f on the loop goroutine and waits for it; false when the
// manager is closed.
func (m *Manager) call(f func(*loop)) bool {
	ran := make(chan struct{})
	select {
	case m.reqs <- func(l *loop) { f(l); close(ran) }:
		<-ran
		return true
	case <-m.done:
		return false
	}
}

var errClosed = errorf(Server, "modelbar is shutting down")

// repoPattern is a Hub repo id: owner/name of letters, digits and -_. .
var repoPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$`)

// CheckRepo says what is wrong with a repo id and revision, if anything.
func CheckRepo(repo, revision string) error {
	if !repoPattern.MatchString(repo) || containsDotDot(repo) {
		return errorf(Invalid, "repo %q is not a Hub model id: want owner/name, e.g. mlx-community/Qwen2.5-0.5B-Instruct-4bit", repo)
	}
	if revision == "" || len(revision) > 200 || containsDotDot(revision) || revision[0] == '/' {
		return errorf(Invalid, "revision %q: want a branch, tag or commit, e.g. main", revision)
	}
	return nil
}

// dotSegment is a "." or ".." path segment, which no repo or revision has.
var dotSegment = regexp.MustCompile(`(^|/)\.\.?(/|$)`)

func containsDotDot(s string) bool { return dotSegment.MatchString(s) }

// Start queues a download of repo at revision ("" means main) and returns
// it. The repo is looked up first, so an unknown or gated repo, or one
// without MLX weights, is an *Error now rather than a failed download. A
// download of the same repo and revision that has not ended is returned
// instead of a second one.
func (m *Manager) Start(ctx context.Context, repo, revision string) (Download, error) {
	if revision == "" {
		revision = "main"
	}
	if err := CheckRepo(repo, revision); err != nil {
		return Download{}, err
	}
	plan, err := m.opts.Hub.Plan(ctx, repo, revision)
	if err != nil {
		return Download{}, err
	}
	if plan.Denied != nil {
		return Download{}, plan.Denied
	}
	if len(weightFiles(plan.Files)) == 0 {
		return Download{}, errorf(NoWeights, "%s has no MLX weights (*.safetensors) modelbar can run: pick an MLX conversion, e.g. from mlx-community", repo)
	}
	if free, need := diskFree(m.opts.CacheDir), plan.TotalBytes()-m.cachedBytes(repo); free >= 0 && free < need {
		return Download{}, errorf(DiskFull, "%s needs %d MB more and only %d MB are free where the Hugging Face cache is (%s): free some space first",
			repo, need>>20, free>>20, m.opts.CacheDir)
	}
	var out Download
	if !m.call(func(l *loop) { out = l.start(plan) }) {
		return Download{}, errClosed
	}
	return out, nil
}

// diskFree is freeDisk; tests replace it.
var diskFree = freeDisk

// cachedBytes is what the cache holds of repo already (blobs, whole or
// partial), which a download does not fetch again.
func (m *Manager) cachedBytes(repo string) int64 {
	if m.opts.CacheDir == "" {
		return 0
	}
	entries, _ := os.ReadDir(filepath.Join(m.opts.CacheDir, "models--"+strings.ReplaceAll(repo, "/", "--"), "blobs"))
	var n int64
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}

// List returns every download, oldest first.
func (m *Manager) List() []Download {
	out := []Download{}
	m.call(func(l *loop) {
		for _, id := range l.order {
			out = append(out, l.items[id].d)
		}
	})
	return out
}

// Get returns one download; an *Error of kind NotFound if there is none.
func (m *Manager) Get(id string) (Download, error) {
	var d Download
	var ok bool
	if !m.call(func(l *loop) {
		if it := l.items[id]; it != nil {
			d, ok = it.d, true
		}
	}) {
		return Download{}, errClosed
	}
	if !ok {
		return Download{}, errorf(NotFound, "no download %q: GET /api/downloads lists them", id)
	}
	return d, nil
}

// Cancel stops a download that has not ended. Its partial files stay in
// the cache, so starting the same download again resumes it, unless
// discard, which removes them. Cancelling a cancelled or failed download
// again is allowed (to discard its files); a finished one is a Conflict.
func (m *Manager) Cancel(ctx context.Context, id string, discard bool) (Download, error) {
	var d Download
	var err error
	var toDiscard *Plan
	if !m.call(func(l *loop) { d, toDiscard, err = l.cancel(id, discard) }) {
		return Download{}, errClosed
	}
	if err != nil {
		return Download{}, err
	}
	if toDiscard != nil {
		if err := m.opts.Hub.Discard(ctx, *toDiscard); err != nil {
			return d, fmt.Errorf("remove the partial files of %s: %w", d.Repo, err)
		}
	}
	return d, nil
}

// run is the loop: the one goroutine that changes downloads.
func (l *loop) run() {
	defer close(l.m.done)
	l.schedule()
	for {
		select {
		case f := <-l.m.reqs:
			f(l)
		case msg := <-l.m.msgs:
			l.report(msg)
		case <-l.m.closed:
			if !l.closing {
				l.closing = true
				for _, it := range l.items {
					if it.cancel != nil {
						it.cancel()
					}
				}
			}
		}
		if l.closing && l.running == 0 {
			return
		}
	}
}

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "dl_" + hex.EncodeToString(b)
}

func (l *loop) start(p Plan) Download {
	for _, id := range l.order {
		it := l.items[id]
		if it.d.Repo == p.Repo && it.d.Revision == p.Revision && !it.d.State.ended() {
			return it.d
		}
	}
	now := time.Now().UTC()
	it := &item{plan: &p, d: Download{ID: newID(), Repo: p.Repo, Revision: p.Revision, Commit: p.Commit, State: Queued,
		TotalBytes: p.TotalBytes(), StartedAt: now, UpdatedAt: now}}
	l.items[it.d.ID] = it
	l.order = append(l.order, it.d.ID)
	l.changed(it)
	l.schedule()
	return it.d
}

func (l *loop) cancel(id string, discard bool) (Download, *Plan, error) {
	it := l.items[id]
	switch {
	case it == nil:
		return Download{}, nil, errorf(NotFound, "no download %q: GET /api/downloads lists them", id)
	case it.d.State == Done:
		return it.d, nil, errorf(Conflict, "the download of %s has finished: remove the model with DELETE /api/models/%s", it.d.Repo, it.d.ModelID)
	case it.cancel != nil: // running: the worker's end finishes the cancel
		it.cancelAt, it.discard = true, discard
		it.cancel()
		return it.d, nil, nil
	}
	if it.d.State == Queued {
		it.d.State, it.d.RateBPS, it.d.ETASeconds = Cancelled, 0, 0
		l.changed(it)
	}
	if discard && it.plan != nil {
		return it.d, it.plan, nil
	}
	return it.d, nil, nil
}

// schedule starts queued downloads, oldest first, up to the limit.
func (l *loop) schedule() {
	if l.closing {
		return
	}
	for _, id := range l.order {
		if l.running >= l.m.opts.Parallel {
			return
		}
		it := l.items[id]
		if it.d.State != Queued || it.cancel != nil {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		it.cancel = cancel
		l.running++
		it.d.State, it.d.Error, it.d.ErrorKind = Downloading, "", ""
		it.meter = meter{}
		l.changed(it)
		go l.m.work(ctx, it.d, it.plan)
	}
}

// report takes a worker's message.
func (l *loop) report(msg workerMsg) {
	it := l.items[msg.id]
	if msg.plan != nil {
		it.plan = msg.plan
		it.d.Commit, it.d.TotalBytes = msg.plan.Commit, msg.plan.TotalBytes()
	}
	if msg.fin {
		l.finish(it, msg)
		return
	}
	if msg.total > 0 {
		it.d.DoneBytes, it.d.TotalBytes = msg.done, msg.total
	}
	now := time.Now()
	it.meter.add(now, it.d.DoneBytes)
	it.d.RateBPS, it.d.ETASeconds = it.meter.rateETA(it.d.TotalBytes - it.d.DoneBytes)
	if it.d.State == Downloading && it.d.TotalBytes > 0 && it.d.DoneBytes >= it.d.TotalBytes {
		it.d.State, it.d.RateBPS, it.d.ETASeconds = Verifying, 0, 0
		l.changed(it)
		return
	}
	it.d.UpdatedAt = now.UTC()
	if now.Sub(it.lastPub) >= publishEvery {
		it.lastPub = now
		l.m.opts.Events.Publish(events.Downloads, it.d)
	}
	if now.Sub(it.lastSave) >= saveEvery {
		l.save(it)
	}
}

// finish ends a worker's run: done, failed, cancelled, or queued again
// when modelbar is shutting down (to continue at the next start).
func (l *loop) finish(it *item, msg workerMsg) {
	it.cancel = nil
	l.running--
	if msg.total > 0 {
		it.d.DoneBytes, it.d.TotalBytes = msg.done, msg.total
	}
	it.d.RateBPS, it.d.ETASeconds = 0, 0
	switch {
	case msg.err == nil:
		it.d.State, it.d.ModelID, it.d.DoneBytes = Done, msg.modelID, it.d.TotalBytes
	case it.cancelAt:
		it.d.State = Cancelled
		if it.discard && it.plan != nil {
			p := *it.plan
			go func() { // the loop never waits for the disk
				if err := l.m.opts.Hub.Discard(context.Background(), p); err != nil {
					l.m.log.Warn("remove the partial files of a cancelled download", "repo", p.Repo, "err", err)
				}
			}()
		}
	case l.closing:
		it.d.State = Queued
	default:
		it.d.State = Failed
		it.d.ErrorKind, it.d.Error = kindOf(msg.err)
		l.m.log.Warn("model download failed", "repo", it.d.Repo, "revision", it.d.Revision, "kind", it.d.ErrorKind, "err", msg.err)
	}
	it.cancelAt, it.discard = false, false
	l.changed(it)
	l.schedule()
}

// changed tells and saves a state change.
func (l *loop) changed(it *item) {
	it.d.UpdatedAt = time.Now().UTC()
	it.lastPub = time.Now()
	l.m.opts.Events.Publish(events.Downloads, it.d)
	l.save(it)
}

func (l *loop) save(it *item) {
	it.lastSave = time.Now()
	if l.m.opts.Store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.m.opts.Store.PutDownload(ctx, toRecord(it.d)); err != nil {
		l.m.log.Warn("save a download's state", "repo", it.d.Repo, "err", err)
	}
}

// work runs one download on its own goroutine and reports to the loop.
func (m *Manager) work(ctx context.Context, d Download, plan *Plan) {
	send := func(msg workerMsg) {
		msg.id = d.ID
		select {
		case m.msgs <- msg:
		case <-m.done: // cannot happen while this worker runs; kept for safety
		}
	}
	if plan == nil {
		p, err := m.opts.Hub.Plan(ctx, d.Repo, d.Revision)
		if err != nil {
			send(workerMsg{fin: true, err: err})
			return
		}
		plan = &p
		send(workerMsg{plan: plan})
	}
	var mu sync.Mutex // guards last, lastDone, lastTotal
	var last time.Time
	var lastDone, lastTotal int64
	err := m.opts.Hub.Fetch(ctx, *plan, func(done, total int64) {
		mu.Lock()
		lastDone, lastTotal = done, total
		now := time.Now()
		skip := now.Sub(last) < reportEvery && done < total
		if !skip {
			last = now
		}
		mu.Unlock()
		if !skip {
			send(workerMsg{done: done, total: total})
		}
	})
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	var modelID string
	if err == nil {
		d.Commit, d.State = plan.Commit, Done
		modelID = d.Repo
		if m.opts.Finished != nil {
			if id := m.opts.Finished(ctx, d); id != "" {
				modelID = id
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	send(workerMsg{fin: true, err: err, modelID: modelID, done: lastDone, total: lastTotal}) // the last bytes the throttle held back
}

// meter smooths the download rate: an exponentially weighted average of
// the rate over samples at least 200 ms apart, so the ETA does not jump
// with every chunk.
type meter struct {
	at   time.Time
	done int64
	rate float64
}

func (m *meter) add(now time.Time, done int64) {
	if m.at.IsZero() || done < m.done {
		m.at, m.done = now, done
		return
	}
	dt := now.Sub(m.at).Seconds()
	if dt < 0.2 {
		return
	}
	inst := float64(done-m.done) / dt
	if m.rate == 0 {
		m.rate = inst
	} else {
		m.rate = 0.3*inst + 0.7*m.rate
	}
	m.at, m.done = now, done
}

func (m *meter) rateETA(left int64) (int64, int64) {
	if m.rate <= 0 {
		return 0, 0
	}
	return int64(m.rate), int64(float64(max(left, 0))/m.rate + 0.5)
}

// weightFiles are the safetensors files among files.
func weightFiles(files []File) []File {
	return slices.DeleteFunc(slices.Clone(files), func(f File) bool { return !isWeights(f.Path) })
}
