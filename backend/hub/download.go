package hub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelbar/modelbar/backend/hfcache"
)

// DownloadRequest is what to download: Files of Model (nil: NeededFiles)
// into the cache rooted at CacheDir, Parallel files at a time (0: 4).
type DownloadRequest struct {
	Model    Model
	Files    []File
	CacheDir string // HF_HUB_CACHE layout root
	Parallel int
}

// Progress is reported as bytes arrive: Done and Total for the whole
// download (files already in the cache count as done), FileDone and
// FileTotal for File.
type Progress struct {
	File                string
	Done, Total         int64
	FileDone, FileTotal int64
}

// Result is a finished download.
type Result struct {
	SnapshotDir string // <cache>/models--org--name/snapshots/<commit>
}

// freeSpace reports the bytes available at path; tests replace it.
var freeSpace = diskFree

// Download fetches req's files into the cache layout huggingface_hub
// writes: each file goes to blobs/<id>.incomplete (resumed with Range if
// one is there), is checked against its LFS sha256 or git blob sha1,
// renamed to blobs/<id>, then linked from snapshots/<commit>/<path> with
// a relative symlink; refs/<revision> names the commit once every file
// is in place. A file whose checksum does not match is downloaded once
// more, then fails with Kind Checksum. Nothing unverified is ever linked
// into the snapshot. progress (may be nil) is called from one goroutine
// at a time. A cancelled ctx returns its error, keeping partial files for
// a later resume.
func (c *Client) Download(ctx context.Context, req DownloadRequest, progress func(Progress)) (Result, error) {
	m := req.Model
	if err := checkRepoRev(m.Repo, orMain(m.Revision)); err != nil {
		return Result{}, err
	}
	if !commitRE.MatchString(m.Commit) {
		return Result{}, &Error{Kind: NotFound, Repo: m.Repo, Message: "the model has no resolved commit; read it with Model first"}
	}
	if req.CacheDir == "" {
		return Result{}, errors.New("hub: Download needs a CacheDir")
	}
	files := req.Files
	if files == nil {
		files = NeededFiles(m)
	}
	if !HasWeights(files) {
		return Result{}, noWeights(m)
	}
	for _, f := range files {
		if !safeRelPath(f.Path) {
			return Result{}, &Error{Kind: Server, Repo: m.Repo, File: f.Path, Message: fmt.Sprintf("the Hub listed a file path %q that cannot be stored safely", f.Path)}
		}
	}
	repoDir := filepath.Join(req.CacheDir, hfcache.RepoFolder(m.Repo))
	snap := filepath.Join(repoDir, "snapshots", m.Commit)
	d := &downloader{c: c, repo: m.Repo, commit: m.Commit, repoDir: repoDir, snap: snap, progress: progress}

	// What is left: files not yet linked, less what .incomplete files hold.
	var need int64
	for _, f := range files {
		d.total += f.Size
		if d.linked(f) {
			d.credit(f.Path, f.Size)
			continue
		}
		have := int64(0)
		if id := f.BlobName(); id != "" && !exists(d.blobPath(id)) {
			if st, err := os.Stat(d.blobPath(id) + ".incomplete"); err == nil && st.Size() <= f.Size {
				have = st.Size()
			}
		}
		d.credit(f.Path, have) // resumed bytes count as done
		need += f.Size - have
	}
	if need > 0 {
		if err := os.MkdirAll(filepath.Join(repoDir, "blobs"), 0o755); err != nil {
			return Result{}, fsError(m.Repo, "", err)
		}
		if free, err := freeSpace(filepath.Join(repoDir, "blobs")); err == nil && free < need+(16<<20) {
			return Result{}, &Error{Kind: DiskFull, Repo: m.Repo, Message: fmt.Sprintf("downloading %s needs %s more but only %s is free in %s: free some space (or point HF_HUB_CACHE elsewhere) and try again", m.Repo, humanBytes(need), humanBytes(free), req.CacheDir)}
		}
	}
	d.report(Progress{})

	par := req.Parallel
	if par <= 0 {
		par = 4
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	errs := make([]error, len(files))
	for i, f := range files {
		if d.linked(f) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = fmt.Errorf("hub: %w", ctx.Err())
				return
			}
			defer func() { <-sem }()
			if err := d.file(ctx, f); err != nil {
				errs[i] = err
				cancel() // one failure stops the rest; their partial files stay
			}
		}()
	}
	wg.Wait()
	if err := firstError(errs); err != nil {
		return Result{}, err
	}
	if err := os.MkdirAll(snap, 0o755); err != nil {
		return Result{}, fsError(m.Repo, "", err)
	}
	if rev := orMain(m.Revision); rev != m.Commit {
		if err := writeRef(repoDir, rev, m.Commit); err != nil {
			return Result{}, fsError(m.Repo, "", err)
		}
	}
	return Result{SnapshotDir: snap}, nil
}

// firstError prefers a real failure over the cancellations it caused.
func firstError(errs []error) error {
	var cancelled error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			if cancelled == nil {
				cancelled = err
			}
			continue
		}
		return err
	}
	return cancelled
}

// retryable errors are a dropped connection and the statuses
// huggingface_hub retries (429, 500, 502, 503, 504).
func retryable(e *Error) bool {
	switch {
	case e.Kind == Network:
		return true
	case e.Kind == Server:
		return e.Status == 429 || e.Status == 500 || e.Status == 502 || e.Status == 503 || e.Status == 504
	}
	return false
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func orMain(rev string) string {
	if rev == "" {
		return "main"
	}
	return rev
}

func safeRelPath(p string) bool {
	return p != "" && filepath.IsLocal(p) && !strings.Contains(p, "\\") && filepath.ToSlash(filepath.Clean(p)) == p
}

// writeRef writes refs/<revision> holding commit (no newline, as
// huggingface_hub writes it), atomically.
func writeRef(repoDir, rev, commit string) error {
	p := filepath.Join(repoDir, "refs", filepath.FromSlash(rev))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if b, err := os.ReadFile(p); err == nil && string(b) == commit {
		return nil
	}
	tmp := tempName(p)
	if err := os.WriteFile(tmp, []byte(commit), 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

var tempSeq atomic.Int64

// tempName is a name next to p no other writer (goroutine or process)
// uses, for an atomic rename onto p.
func tempName(p string) string {
	return fmt.Sprintf("%s.tmp-%d-%d", p, os.Getpid(), tempSeq.Add(1))
}

type downloader struct {
	c             *Client
	repo, commit  string
	repoDir, snap string
	mu            sync.Mutex
	done, total   int64
	progress      func(Progress)
	blobLocks     map[string]*sync.Mutex // two files with one content share a blob
	fileDone      map[string]int64       // bytes of each file counted in done
}

// lockBlob serializes work on one blob within this download.
func (d *downloader) lockBlob(id string) func() {
	d.mu.Lock()
	if d.blobLocks == nil {
		d.blobLocks = map[string]*sync.Mutex{}
	}
	l := d.blobLocks[id]
	if l == nil {
		l = &sync.Mutex{}
		d.blobLocks[id] = l
	}
	d.mu.Unlock()
	l.Lock()
	return l.Unlock
}

func (d *downloader) blobPath(id string) string { return filepath.Join(d.repoDir, "blobs", id) }

func (d *downloader) pointer(f File) string {
	return filepath.Join(d.snap, filepath.FromSlash(f.Path))
}

// linked reports whether f is already in the snapshot, its link pointing
// at a blob of the right size.
func (d *downloader) linked(f File) bool {
	st, err := os.Stat(d.pointer(f))
	return err == nil && st.Mode().IsRegular() && st.Size() == f.Size
}

// add counts n more bytes of file and reports progress.
// credit records that fileDone bytes of file are there (before the
// transfers start: no report).
func (d *downloader) credit(file string, fileDone int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fileDone == nil {
		d.fileDone = map[string]int64{}
	}
	d.done += fileDone - d.fileDone[file]
	d.fileDone[file] = fileDone
}

// set records that fileDone bytes of file are there and reports
// progress. Absolute counts keep Done right when a file restarts, or
// another writer finished it meanwhile.
func (d *downloader) set(file string, fileDone, fileTotal int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fileDone == nil {
		d.fileDone = map[string]int64{}
	}
	d.done += fileDone - d.fileDone[file]
	d.fileDone[file] = fileDone
	if d.progress != nil {
		d.progress(Progress{File: file, Done: d.done, Total: d.total, FileDone: fileDone, FileTotal: fileTotal})
	}
}

func (d *downloader) report(p Progress) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.progress != nil {
		p.Done, p.Total = d.done, d.total
		d.progress(p)
	}
}

// lockFile takes <cache>/.locks/models--org--name/<etag>.lock, where
// huggingface_hub's hf_hub_download locks a blob, waiting (as long as ctx
// allows) while mlx-lm or another modelbar downloads it.
func (d *downloader) lockFile(ctx context.Context, etag string) (func(), error) {
	p := filepath.Join(filepath.Dir(d.repoDir), ".locks", filepath.Base(d.repoDir), etag+".lock")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, fsError(d.repo, "", err)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fsError(d.repo, "", err)
	}
	for {
		ok, err := flockTry(f)
		if err != nil {
			f.Close()
			return nil, fsError(d.repo, "", err)
		}
		if ok {
			return func() { f.Close() }, nil // closing releases the flock
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("hub: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// meta is what the HEAD of resolve/{commit}/{path} says.
type meta struct {
	etag     string // normalized X-Linked-Etag or ETag: the blob's name
	size     int64
	location string // where to GET the bytes
	commit   string
}

// head asks the Hub where f is, not following a redirect to another host
// (as huggingface_hub does: it reads X-Linked-Etag/X-Linked-Size from
// the 302 itself), following same-host ones (a renamed repo).
func (d *downloader) head(ctx context.Context, f File) (meta, error) {
	target := d.c.resolveURL(d.repo, d.commit, f.Path)
	hc := *d.c.httpClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for hops := 0; ; hops++ {
		req, err := d.c.newRequest(ctx, http.MethodHead, target, true)
		if err != nil {
			return meta{}, err
		}
		req.Header.Set("Accept-Encoding", "identity")
		resp, err := hc.Do(req)
		if err != nil {
			return meta{}, d.c.netError(ctx, d.repo, f.Path, err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
			if err != nil || resp.Header.Get("Location") == "" {
				return meta{}, &Error{Kind: Server, Repo: d.repo, File: f.Path, Status: resp.StatusCode, Message: "the Hub redirected without a location"}
			}
			if loc.Host == resp.Request.URL.Host && resp.Header.Get("X-Linked-Etag") == "" && hops < 5 {
				target = loc.String() // a relative redirect: a renamed repo
				continue
			}
			return d.metaOf(resp, f, loc.String())
		}
		if resp.StatusCode != http.StatusOK {
			return meta{}, d.c.statusError(resp, d.repo, f.Path)
		}
		return d.metaOf(resp, f, target)
	}
}

func (d *downloader) metaOf(resp *http.Response, f File, location string) (meta, error) {
	m := meta{location: location, commit: resp.Header.Get("X-Repo-Commit")}
	m.etag = normalizeETag(resp.Header.Get("X-Linked-Etag"))
	if m.etag == "" {
		m.etag = normalizeETag(resp.Header.Get("ETag"))
	}
	size := resp.Header.Get("X-Linked-Size")
	if size == "" {
		size = resp.Header.Get("Content-Length")
	}
	m.size, _ = strconv.ParseInt(size, 10, 64)
	if m.commit != "" && m.commit != d.commit {
		return meta{}, &Error{Kind: Server, Repo: d.repo, File: f.Path, Message: fmt.Sprintf("the Hub served %s from commit %s instead of %s", f.Path, short(m.commit), short(d.commit))}
	}
	// The blob's name must be one a later check can vouch for: the LFS
	// sha256 or the git blob sha1 the listing gave.
	want := f.BlobName()
	switch {
	case m.etag == "" && want != "":
		m.etag = want
	case want != "" && m.etag != want:
		// A mirror may send its own ETag: name the blob by the hash the
		// listing gave, which the content is checked against.
		m.etag = want
	case !validBlobName(m.etag):
		return meta{}, &Error{Kind: Server, Repo: d.repo, File: f.Path, Message: "the Hub gave no usable ETag for " + f.Path}
	}
	if m.size == 0 {
		m.size = f.Size
	}
	if f.Size != 0 && m.size != f.Size {
		return meta{}, &Error{Kind: Server, Repo: d.repo, File: f.Path, Message: fmt.Sprintf("the Hub says %s is %d bytes, its listing %d; try again", f.Path, m.size, f.Size)}
	}
	return m, nil
}

func validBlobName(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// normalizeETag strips W/ and quotes, as huggingface_hub's _normalize_etag.
func normalizeETag(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	return strings.Trim(s, `"`)
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// file brings one file into the snapshot.
func (d *downloader) file(ctx context.Context, f File) error {
	var m meta
	var err error
	for try := 0; ; try++ {
		if m, err = d.head(ctx, f); err == nil {
			break
		}
		if !d.retry(ctx, err, try) {
			return err
		}
	}
	defer d.lockBlob(m.etag)()
	unlock, err := d.lockFile(ctx, m.etag)
	if err != nil {
		return err
	}
	defer unlock()
	blob := d.blobPath(m.etag)
	if st, err := os.Stat(blob); err == nil && st.Size() == m.size {
		// Another snapshot (or mlx-lm) already has it.
		d.set(f.Path, m.size, m.size)
		return d.link(f, blob)
	}
	for attempt := 0; ; attempt++ {
		sum, err := d.fetch(ctx, f, &m)
		if err != nil {
			return err
		}
		if _, want := newHash(f, m); hex.EncodeToString(sum) == strings.ToLower(want) {
			break
		}
		// Forget the bad bytes: the progress goes back, the file is
		// fetched afresh once.
		os.Remove(blob + ".incomplete")
		d.set(f.Path, 0, m.size)
		if attempt == 1 {
			return &Error{Kind: Checksum, Repo: d.repo, File: f.Path, Message: fmt.Sprintf("%s did not match the Hub's checksum twice, so it was deleted; try again later (a mirror set in HF_ENDPOINT may be serving a corrupt copy)", f.Path)}
		}
	}
	if err := os.Rename(blob+".incomplete", blob); err != nil {
		return fsError(d.repo, f.Path, err)
	}
	return d.link(f, blob)
}

// link points snapshots/<commit>/<path> at blob with a relative symlink
// (../../blobs/<id>, one more ../ per subfolder), as huggingface_hub's
// _create_symlink does.
func (d *downloader) link(f File, blob string) error {
	p := d.pointer(f)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fsError(d.repo, f.Path, err)
	}
	rel, err := filepath.Rel(filepath.Dir(p), blob)
	if err != nil {
		return fsError(d.repo, f.Path, err)
	}
	tmp := tempName(p)
	if err := os.Symlink(rel, tmp); err != nil {
		return fsError(d.repo, f.Path, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fsError(d.repo, f.Path, err)
	}
	return nil
}

// fetch fills blobs/<id>.incomplete up to m.size, resuming from what is
// there and retrying after a dropped connection.
func (d *downloader) fetch(ctx context.Context, f File, m *meta) ([]byte, error) {
	inc := d.blobPath(m.etag) + ".incomplete"
	refreshed := false
	for try := 0; ; try++ {
		sum, err := d.fetchOnce(ctx, f, *m, inc)
		if errors.Is(err, errLinkRefused) && !refreshed {
			// The file host's signed URL expired (or was refused): ask the
			// Hub for a fresh one, once.
			refreshed = true
			fresh, herr := d.head(ctx, f)
			if herr != nil {
				return nil, herr
			}
			if fresh.etag != m.etag || fresh.size != m.size {
				return nil, &Error{Kind: Server, Repo: d.repo, File: f.Path, Message: "the Hub changed " + f.Path + " during the download; try again"}
			}
			m.location = fresh.location
			continue
		}
		if err == nil || !d.retry(ctx, err, try) {
			return sum, err
		}
	}
}

// errLinkRefused marks a file host (another origin than the Hub) refusing
// its signed link with 401/403: links expire, so the Hub is asked again.
var errLinkRefused = errors.New("the file host refused the download link")

// retry reports whether to try again after err on attempt try (from 0):
// only network errors are retried, Client.Retries times, after
// Client.RetryDelay.
func (d *downloader) retry(ctx context.Context, err error, try int) bool {
	retries := d.c.Retries
	if retries == 0 {
		retries = 3
	}
	delay := d.c.RetryDelay
	if delay <= 0 {
		delay = 500 * time.Millisecond
	}
	var he *Error
	if try >= retries || !errors.As(err, &he) || !retryable(he) {
		return false
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(delay):
		return true
	}
}

// fetchOnce makes one attempt and returns the hash of the whole file
// (what was there hashed first, the rest as it arrives), so a fresh
// download is read from disk only once.
func (d *downloader) fetchOnce(ctx context.Context, f File, m meta, inc string) ([]byte, error) {
	out, err := os.OpenFile(inc, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fsError(d.repo, f.Path, err)
	}
	defer out.Close()
	st, err := out.Stat()
	if err != nil {
		return nil, fsError(d.repo, f.Path, err)
	}
	have := st.Size()
	if have > m.size {
		if err := out.Truncate(0); err != nil {
			return nil, fsError(d.repo, f.Path, err)
		}
		have = 0
	}
	d.set(f.Path, have, m.size)
	h, _ := newHash(f, m)
	if have == m.size {
		if _, err := io.Copy(h, io.NewSectionReader(out, 0, have)); err != nil {
			return nil, fsError(d.repo, f.Path, err)
		}
		return h.Sum(nil), nil
	}
	// The token goes to the Hub's host only: a file host on another
	// origin gets a signed URL and no Authorization, as huggingface_hub.
	// A connection that stops sending is cut after StallTimeout, so the
	// transfer resumes instead of hanging.
	stall := d.c.StallTimeout
	if stall <= 0 {
		stall = 60 * time.Second
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watchdog := time.AfterFunc(stall, cancel)
	defer watchdog.Stop()
	req, err := d.c.newRequest(rctx, http.MethodGet, m.location, sameHost(m.location, d.c.endpoint()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept-Encoding", "identity")
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := d.c.httpClient().Do(req)
	if err != nil {
		return nil, d.c.netError(ctx, d.repo, f.Path, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		if start, ok := rangeStart(resp.Header.Get("Content-Range")); !ok || start != have {
			return nil, &Error{Kind: Server, Repo: d.repo, File: f.Path, Status: resp.StatusCode, Message: "the file host answered the wrong range for " + f.Path}
		}
		if _, err := io.Copy(h, io.NewSectionReader(out, 0, have)); err != nil {
			return nil, fsError(d.repo, f.Path, err)
		}
		if _, err := out.Seek(have, io.SeekStart); err != nil {
			return nil, fsError(d.repo, f.Path, err)
		}
	case resp.StatusCode == http.StatusOK:
		// A host that ignores Range sends the whole file: start over.
		if err := out.Truncate(0); err != nil {
			return nil, fsError(d.repo, f.Path, err)
		}
		have = 0
		d.set(f.Path, 0, m.size)
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		// What is there is not a prefix of this file: start over.
		if err := out.Truncate(0); err != nil {
			return nil, fsError(d.repo, f.Path, err)
		}
		d.set(f.Path, 0, m.size)
		return nil, &Error{Kind: Network, Repo: d.repo, File: f.Path, Status: resp.StatusCode, Message: "the partial file did not fit; restarting it"}
	case (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) && !sameHost(m.location, d.c.endpoint()):
		return nil, &Error{Kind: Server, Repo: d.repo, File: f.Path, Status: resp.StatusCode, Message: fmt.Sprintf("the file host refused the download link for %s (%s); try again", f.Path, resp.Status), Err: errLinkRefused}
	default:
		return nil, d.c.statusError(resp, d.repo, f.Path)
	}
	buf := make([]byte, 256<<10)
	done := have
	for {
		n, rerr := resp.Body.Read(buf)
		watchdog.Reset(stall)
		if n > 0 {
			if done+int64(n) > m.size {
				return nil, &Error{Kind: Server, Repo: d.repo, File: f.Path, Message: fmt.Sprintf("the file host sent more than the %d bytes of %s", m.size, f.Path)}
			}
			h.Write(buf[:n])
			if _, err := out.Write(buf[:n]); err != nil {
				return nil, fsError(d.repo, f.Path, err)
			}
			done += int64(n)
			d.set(f.Path, done, m.size)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if ctx.Err() == nil && rctx.Err() != nil {
				rerr = fmt.Errorf("no data for %s: %w", stall, rerr)
			}
			return nil, d.c.netError(ctx, d.repo, f.Path, rerr)
		}
	}
	if done != m.size {
		return nil, d.c.netError(ctx, d.repo, f.Path, fmt.Errorf("got %d of %d bytes", done, m.size))
	}
	return h.Sum(nil), out.Sync()
}

// rangeStart is the first byte of a "bytes a-b/n" Content-Range.
func rangeStart(h string) (int64, bool) {
	rest, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, false
	}
	a, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(a, 10, 64)
	return n, err == nil
}

// newHash is the hash f is checked against and its expected hex: the LFS
// sha256, or the git blob sha1 ("blob <size>\x00" + content) of a
// non-LFS file.
func newHash(f File, m meta) (hash.Hash, string) {
	want := f.SHA256
	if want == "" && len(m.etag) == 64 {
		want = m.etag
	}
	if want != "" {
		return sha256.New(), want
	}
	want = f.BlobID
	if want == "" {
		want = m.etag
	}
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", m.size)
	return h, want
}

func fsError(repo, file string, err error) error {
	if errors.Is(err, errNoSpace) {
		return &Error{Kind: DiskFull, Repo: repo, File: file, Message: "the disk filled up during the download: free some space and try again; it resumes where it stopped", Err: err}
	}
	return fmt.Errorf("hub: %s %s: %w", repo, file, err)
}

func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), 0
	for f >= unit && i < 4 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", f, []string{"B", "kB", "MB", "GB", "TB"}[i])
}

// RemoveSnapshot deletes snapshots/<commit> of repo and the refs naming
// it, and the blobs it linked that no other snapshot links. When no
// snapshot is left, the repo's folder goes (with any partial downloads).
func RemoveSnapshot(cacheDir, repo, commit string) error {
	if !ValidRepo(repo) || !commitRE.MatchString(commit) {
		return &Error{Kind: NotFound, Repo: repo, Message: fmt.Sprintf("%s@%s is not a repo and commit", repo, commit)}
	}
	repoDir := filepath.Join(cacheDir, hfcache.RepoFolder(repo))
	snaps := filepath.Join(repoDir, "snapshots")
	target := filepath.Join(snaps, commit)
	if _, err := os.Lstat(target); err != nil {
		return &Error{Kind: NotFound, Repo: repo, Message: fmt.Sprintf("%s has no snapshot %s in %s", repo, short(commit), cacheDir), Err: err}
	}
	// Blobs every other snapshot still uses.
	keep := map[string]bool{}
	others, _ := os.ReadDir(snaps)
	for _, o := range others {
		if o.Name() == commit {
			continue
		}
		for _, b := range linkedBlobs(filepath.Join(snaps, o.Name())) {
			keep[b] = true
		}
	}
	mine := linkedBlobs(target)
	if err := os.RemoveAll(target); err != nil {
		return fmt.Errorf("hub: remove snapshot: %w", err)
	}
	blobs := filepath.Join(repoDir, "blobs")
	for _, b := range mine {
		if !keep[b] && filepath.Dir(b) == blobs {
			if err := os.Remove(b); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("hub: remove blob: %w", err)
			}
		}
	}
	// Refs naming the commit.
	refs := filepath.Join(repoDir, "refs")
	filepath.WalkDir(refs, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			if b, _ := os.ReadFile(p); strings.TrimSpace(string(b)) == commit {
				os.Remove(p)
			}
		}
		return nil
	})
	if left, _ := os.ReadDir(snaps); len(left) == 0 {
		if err := os.RemoveAll(repoDir); err != nil {
			return fmt.Errorf("hub: remove repo folder: %w", err)
		}
	}
	return nil
}

// linkedBlobs are the absolute targets of the symlinks under dir.
func linkedBlobs(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		t, err := os.Readlink(p)
		if err != nil {
			return nil
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(filepath.Dir(p), t)
		}
		out = append(out, filepath.Clean(t))
		return nil
	})
	return out
}
