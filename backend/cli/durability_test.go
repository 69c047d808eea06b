package cli

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // the "sqlite3" driver, to open the crashed database directly

	"github.com/modelbar/modelbar/backend/secrets"
)

const (
	durRounds  = 5 // kills, each restart opening the previous crash's database
	durWorkers = 8 // goroutines writing at once
	durMaxSeq  = 9999
	startLimit = 60 * time.Second // generous: a loaded 2-core machine under -race
)

// durSettings gives each worker one setting of its own, each taking every
// value round*10000+seq the test writes.
var durSettings = [durWorkers]string{
	"idle_ttl_minutes", "retry_backoff_ms", "retry_backoff_max_ms", "request_timeout_seconds",
	"first_byte_timeout_seconds", "stream_idle_timeout_seconds", "cooldown_seconds", "memory_budget_mb",
}

// TestServe_DurabilityUnderKill9 kills the real binary with SIGKILL in the
// middle of a burst of admin writes, durRounds times on one data dir. After
// each kill the database must pass integrity_check, and the restarted
// server must show every write that was answered 2xx (it answers after
// COMMIT); a write cut off by the kill may have happened or not, but
// wholly. Every write sets a value no other write sets, so a lost one
// shows.
func TestServe_DurabilityUnderKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it repeatedly")
	}
	bin := buildModelbar(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	model := durModel{}
	for round := 1; round <= durRounds; round++ {
		srv := startModelbar(t, bin, dataDir)
		verifyDurable(t, srv, model, fmt.Sprintf("start of round %d", round))
		if t.Failed() {
			return
		}
		burstAndKill(t, srv, model, round, rng)
		checkIntegrity(t, filepath.Join(dataDir, "modelbar.db"))
	}
	srv := startModelbar(t, bin, dataDir)
	verifyDurable(t, srv, model, "after the last kill")
	srv.stop(t)
}

// buildModelbar builds the modelbar binary (with the UI in frontend/dist
// embedded) once for the package's tests; TestMain removes it.
func buildModelbar(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "modelbar-cli-test-")
		if err != nil {
			binErr = err
			return
		}
		binDir = dir
		bin := filepath.Join(dir, "modelbar")
		out, err := exec.Command("go", "build", "-o", bin, "github.com/modelbar/modelbar").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("build: %v\n%s", err, out)
			return
		}
		binPath = bin
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

var (
	binOnce sync.Once
	binDir  string // the temporary dir holding the binary; removed by TestMain
	binPath string
	binErr  error
)

// modelbarProc is a running `modelbar serve`.
type modelbarProc struct {
	cmd   *exec.Cmd
	log   *logSink
	done  chan struct{} // closed once cmd.Wait has returned
	dir   string        // the data dir
	base  string        // http://127.0.0.1:port
	token string
}

// startModelbar starts the server on a free loopback port and waits for
// /healthz. t.Cleanup kills and reaps it if the test has not.
func startModelbar(t *testing.T, bin, dataDir string) *modelbarProc {
	t.Helper()
	p := &modelbarProc{log: newLogSink(), done: make(chan struct{}), dir: dataDir}
	p.cmd = exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir)
	p.cmd.Env = append(os.Environ(), "MODELBAR_SECRETS=file")
	p.cmd.Stderr = p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill() // an error only says it has already exited
		<-p.done
	})
	select {
	case addr := <-p.log.addr:
		p.base = "http://" + addr
	case <-p.done:
		t.Fatalf("modelbar exited at start: %v\n%s", p.cmd.ProcessState, p.log)
	case <-time.After(startLimit):
		t.Fatalf("modelbar did not log its address within %v\n%s", startLimit, p.log)
	}
	token, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	p.token = strings.TrimSpace(string(token))
	p.waitHealthy(t)
	return p
}

func (p *modelbarProc) waitHealthy(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(startLimit)
	for {
		resp, err := http.Get(p.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz not ok within %v: %v\n%s", startLimit, err, p.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and reaps the process, checking that it was the kill
// that ended it (not a crash before it).
func (p *modelbarProc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Errorf("SIGKILL: %v", err)
	}
	p.reap(t)
	if ws, _ := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("modelbar ended with %v before the SIGKILL\n%s", p.cmd.ProcessState, p.log)
	}
}

// stop ends the server the polite way, as a user would.
func (p *modelbarProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
	p.reap(t)
	if !p.cmd.ProcessState.Success() {
		t.Errorf("modelbar ended with %v after SIGTERM\n%s", p.cmd.ProcessState, p.log)
	}
}

func (p *modelbarProc) reap(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("modelbar still running 30s after the signal\n%s", p.log)
	}
}

// logSink collects the server's stderr and reports the address it logs.
type logSink struct {
	mu   sync.Mutex
	buf  bytes.Buffer // guarded by mu
	addr chan string  // receives the listening address once
	sent bool         // guarded by mu
}

func newLogSink() *logSink { return &logSink{addr: make(chan string, 1)} }

func (l *logSink) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(b)
	if !l.sent {
		if m := listeningAddr.FindSubmatch(l.buf.Bytes()); m != nil {
			l.addr <- string(m[1])
			l.sent = true
		}
	}
	return len(b), nil
}

// String returns the log's last 8 KiB, for failure messages.
func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf.Bytes()
	return string(b[max(0, len(b)-8<<10):])
}

// durState is one object's state: absent, or the value the admin API shows.
type durState struct {
	present bool
	val     any // provView, routeView, int64 or (observed) json.RawMessage
}

func (s durState) String() string {
	if !s.present {
		return "absent"
	}
	b, _ := json.Marshal(s.val)
	return string(b)
}

func (s durState) equal(o durState) bool { return s.String() == o.String() }

// durObject is what the test knows of one object: its acknowledged state,
// and the state the last write would have given it if that write was cut
// off by the kill (nil if there was none).
type durObject struct {
	acked   durState
	pending *durState
}

// durModel maps "provider/NAME", "route/PATTERN" and "setting/KEY" to what
// the test knows. Only one worker ever writes a given object, so each
// object's writes are ordered.
type durModel map[string]*durObject

// provView and routeView are the fields the test sets, as the API shows them.
type provView struct {
	Type       string `json:"type"`
	BaseURL    string `json:"base_url"`
	HasAPIKey  bool   `json:"has_api_key"`
	APIKeyHint string `json:"api_key_hint"`
}

type routeView struct {
	ModelPattern string   `json:"model_pattern"`
	Backend      string   `json:"backend"`
	BackendModel string   `json:"backend_model"`
	Fallbacks    []string `json:"fallbacks"`
	Priority     int      `json:"priority"`
	Enabled      bool     `json:"enabled"`
}

// burstAndKill runs durWorkers writers against srv and SIGKILLs it a random
// 50-300 ms after the first acknowledged write, then merges what the
// workers learned into model.
func burstAndKill(t *testing.T, srv *modelbarProc, model durModel, round int, rng *rand.Rand) {
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: durWorkers}}
	defer client.CloseIdleConnections()
	b := &burst{first: make(chan struct{})}
	workers := make([]*durWorker, durWorkers)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range workers {
		w := &durWorker{t: t, b: b, srv: srv, client: client, round: round, id: i,
			rng: rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())), objs: durModel{}, routes: map[string]int64{}}
		key := "setting/" + durSettings[i]
		if o, ok := model[key]; ok {
			w.objs[key] = &durObject{acked: o.acked}
		}
		workers[i] = w
		wg.Go(w.run)
	}
	quit := make(chan struct{})
	go func() { wg.Wait(); close(quit) }()
	select {
	case <-b.first:
	case <-quit: // every worker failed: reported by the workers
	case <-time.After(startLimit):
		t.Errorf("round %d: no write acknowledged within %v", round, startLimit)
	}
	delay := time.Duration(50+rng.IntN(251)) * time.Millisecond
	time.Sleep(delay)
	atKill := time.Since(start)
	srv.kill(t)
	wg.Wait()
	cut := 0
	for _, w := range workers {
		for k, o := range w.objs {
			model[k] = o
			if o.pending != nil {
				cut++
			}
		}
	}
	t.Logf("round %d: SIGKILL %v after the first ack (%v into the burst); %d writes acknowledged, %d cut off",
		round, delay, atKill.Round(time.Millisecond), b.acked.Load(), cut)
}

// burst is what the workers of one round share.
type burst struct {
	acked atomic.Int64
	once  sync.Once
	first chan struct{} // closed at the first acknowledged write
}

// durWorker writes to objects of its own until a request fails.
type durWorker struct {
	t      *testing.T
	b      *burst
	srv    *modelbarProc
	client *http.Client
	rng    *rand.Rand
	round  int
	id     int
	seq    int
	objs   durModel         // the objects this worker writes
	routes map[string]int64 // pattern → id of its routes known to exist
}

func (w *durWorker) anchor() string { return fmt.Sprintf("r%dg%da", w.round, w.id) }

func (w *durWorker) run() {
	// The anchor provider is never deleted, so routes may use it.
	if !w.putProvider(w.anchor(), keySet) {
		return
	}
	for w.seq < durMaxSeq && w.step() {
	}
}

// step makes one random write and reports whether to go on.
func (w *durWorker) step() bool {
	switch n := w.rng.IntN(10); {
	case n < 3:
		return w.putProvider(fmt.Sprintf("r%dg%dp%d", w.round, w.id, w.rng.IntN(3)), keyMode(w.rng.IntN(3)))
	case n < 4:
		return w.deleteProvider()
	case n < 6 || len(w.routes) == 0:
		return w.createRoute()
	case n < 8:
		return w.updateRoute()
	case n < 9:
		return w.deleteRoute()
	default:
		return w.putSettings()
	}
}

type keyMode int

const (
	keySet    keyMode = iota // a new key
	keyRemove                // api_key "": remove the stored key
	keyKeep                  // no api_key: keep what there is
)

func (w *durWorker) putProvider(name string, mode keyMode) bool {
	w.seq++
	key := "provider/" + name
	next := provView{Type: "openai", BaseURL: fmt.Sprintf("http://127.0.0.1:1/w%d/v1", w.seq)}
	in := map[string]any{"type": next.Type, "base_url": next.BaseURL}
	switch mode {
	case keySet:
		k := fmt.Sprintf("sk-dur-r%dg%d-%04d", w.round, w.id, w.seq)
		in["api_key"], next.HasAPIKey, next.APIKeyHint = k, true, secrets.Hint(k)
	case keyRemove:
		in["api_key"] = ""
	case keyKeep:
		if cur := w.state(key); cur.present {
			next.HasAPIKey, next.APIKeyHint = cur.val.(provView).HasAPIKey, cur.val.(provView).APIKeyHint
		}
	}
	return w.write("PUT", "/api/providers/"+name, in, key, durState{true, next}, func(body []byte) error {
		return sameView(body, &provView{}, next)
	})
}

func (w *durWorker) deleteProvider() bool {
	name := fmt.Sprintf("r%dg%dp%d", w.round, w.id, w.rng.IntN(3))
	if !w.state("provider/" + name).present {
		return w.putProvider(name, keySet)
	}
	w.seq++
	return w.write("DELETE", "/api/providers/"+name, nil, "provider/"+name, durState{}, nil)
}

func (w *durWorker) createRoute() bool {
	w.seq++
	next := w.randomRoute(fmt.Sprintf("dur-r%d-g%d-%d", w.round, w.id, w.seq))
	return w.write("POST", "/api/routes", next, "route/"+next.ModelPattern, durState{true, next}, func(body []byte) error {
		var got struct {
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal(body, &got); err != nil || got.ID <= 0 {
			return fmt.Errorf("no route id in %s", body)
		}
		w.routes[next.ModelPattern] = got.ID
		return sameView(body, &routeView{}, next)
	})
}

func (w *durWorker) updateRoute() bool {
	pattern := w.randomRoutePattern()
	w.seq++
	next := w.randomRoute(pattern)
	return w.write("PUT", fmt.Sprintf("/api/routes/%d", w.routes[pattern]), next, "route/"+pattern, durState{true, next}, func(body []byte) error {
		return sameView(body, &routeView{}, next)
	})
}

func (w *durWorker) deleteRoute() bool {
	pattern := w.randomRoutePattern()
	w.seq++
	ok := w.write("DELETE", fmt.Sprintf("/api/routes/%d", w.routes[pattern]), nil, "route/"+pattern, durState{}, nil)
	if ok {
		delete(w.routes, pattern)
	}
	return ok
}

func (w *durWorker) putSettings() bool {
	w.seq++
	field, v := durSettings[w.id], int64(w.round*10000+w.seq)
	return w.write("PUT", "/api/settings", map[string]int64{field: v}, "setting/"+field, durState{true, v}, func(body []byte) error {
		var got map[string]json.RawMessage
		if err := json.Unmarshal(body, &got); err != nil {
			return err
		}
		if string(got[field]) != fmt.Sprint(v) {
			return fmt.Errorf("%s is %s, want %d", field, got[field], v)
		}
		return nil
	})
}

// randomRoute is a route with the given pattern and fields no earlier write
// of this worker set (backend_model carries seq).
func (w *durWorker) randomRoute(pattern string) routeView {
	r := routeView{ModelPattern: pattern, Backend: "local", BackendModel: fmt.Sprintf("m-%d", w.seq),
		Fallbacks: []string{}, Priority: w.rng.IntN(100), Enabled: w.rng.IntN(2) == 0}
	if w.rng.IntN(2) == 0 {
		r.Backend, r.Fallbacks = w.anchor(), []string{"local"}
	} else if w.rng.IntN(2) == 0 {
		r.Fallbacks = []string{w.anchor()}
	}
	return r
}

func (w *durWorker) randomRoutePattern() string {
	ps := make([]string, 0, len(w.routes))
	for p := range w.routes {
		ps = append(ps, p)
	}
	slices.Sort(ps) // map order is random; the seed should replay the run
	return ps[w.rng.IntN(len(ps))]
}

// state returns the acknowledged state of one of the worker's objects.
func (w *durWorker) state(key string) durState {
	if o, ok := w.objs[key]; ok {
		return o.acked
	}
	return durState{}
}

// write sends one change that gives key the state next. next is recorded
// as pending before the request goes out, so a write cut off by the kill
// counts as "may have happened"; a 2xx makes it the acknowledged state, and
// check (if any) compares the response with it. It reports whether to go on.
func (w *durWorker) write(method, path string, body any, key string, next durState, check func([]byte) error) bool {
	o := w.objs[key]
	if o == nil {
		o = &durObject{}
		w.objs[key] = o
	}
	o.pending = &next
	status, resp, err := w.do(method, path, body)
	if status/100 == 2 { // answered after COMMIT, even if the body was then cut off
		o.acked, o.pending = next, nil
		w.b.acked.Add(1)
		w.b.once.Do(func() { close(w.b.first) })
	}
	switch {
	case err != nil:
		return false // the kill
	case status/100 != 2:
		w.t.Errorf("%s %s: %d %s", method, path, status, resp)
		return false
	case check != nil:
		if err := check(resp); err != nil {
			w.t.Errorf("%s %s: the response does not show the write: %v", method, path, err)
		}
	}
	return true
}

// do sends one admin request; status is 0 if no response arrived.
func (w *durWorker) do(method, path string, body any) (status int, resp []byte, err error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, w.srv.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+w.srv.token)
	req.Header.Set("Content-Type", "application/json")
	r, err := w.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer r.Body.Close()
	resp, err = io.ReadAll(r.Body)
	return r.StatusCode, resp, err
}

// sameView decodes body into v and compares it with want.
func sameView[T any](body []byte, v *T, want T) error {
	if err := json.Unmarshal(body, v); err != nil {
		return err
	}
	if got, want := (durState{true, *v}).String(), (durState{true, want}).String(); got != want {
		return fmt.Errorf("shows %s, want %s", got, want)
	}
	return nil
}

// checkIntegrity checks a copy of the crashed database (file and WAL, as
// the kill left them) so that the restart still does its own recovery.
func checkIntegrity(t *testing.T, dbPath string) {
	t.Helper()
	dir := t.TempDir()
	cp := filepath.Join(dir, "modelbar.db")
	walBytes := int64(-1)
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(dbPath + suffix)
		if suffix == "-wal" && errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if suffix == "-wal" {
			walBytes = int64(len(b))
		}
		if err := os.WriteFile(cp+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite3", cp)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := pragmaRows(t, db, "integrity_check"); !slices.Equal(got, []string{"ok"}) {
		t.Errorf("PRAGMA integrity_check after SIGKILL: %q", got)
	}
	if got := pragmaRows(t, db, "foreign_key_check"); len(got) != 0 {
		t.Errorf("PRAGMA foreign_key_check after SIGKILL: %q", got)
	}
	if got := pragmaRows(t, db, "journal_mode"); !slices.Equal(got, []string{"wal"}) {
		t.Errorf("PRAGMA journal_mode after SIGKILL: %q", got)
	}
	t.Logf("integrity_check ok (WAL left by the kill: %d bytes)", walBytes)
}

// pragmaRows runs PRAGMA name and returns each row's columns joined by "|".
func pragmaRows(t *testing.T, db *sql.DB, name string) []string {
	t.Helper()
	rows, err := db.Query("PRAGMA " + name)
	if err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("PRAGMA %s: %v", name, err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = v.String
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return out
}

// verifyDurable reads everything back through the admin API of a freshly
// started server and checks it against model: each object is in its
// acknowledged state or, if its last write was cut off, in the state that
// write would have given it; no object appears that the test never wrote.
// model then takes what was read, which is now durable.
func verifyDurable(t *testing.T, srv *modelbarProc, model durModel, when string) {
	t.Helper()
	seen := observe(t, srv)
	applied, notApplied := 0, 0
	for key, o := range model {
		got := seen[key]
		switch {
		case got.equal(o.acked) && (o.pending == nil || !got.equal(*o.pending)):
			notApplied += btoi(o.pending != nil)
		case o.pending != nil && got.equal(*o.pending):
			applied++
		default:
			want := "acknowledged " + o.acked.String()
			if o.pending != nil {
				want += " or cut-off " + o.pending.String()
			}
			t.Errorf("%s: %s is %s, want the %s", when, key, got, want)
		}
	}
	for key, got := range seen {
		if _, ok := model[key]; !ok && !strings.HasPrefix(key, "setting/") {
			t.Errorf("%s: %s is %s but no write created it", when, key, got)
		}
		model[key] = &durObject{acked: got}
	}
	for key, o := range model {
		if _, ok := seen[key]; !ok {
			o.acked, o.pending = durState{}, nil
		}
	}
	t.Logf("%s: %d objects as acknowledged; of the cut-off writes %d took effect, %d did not", when, len(seen), applied, notApplied)
	checkKeys(t, srv, model, when)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// observe reads providers, routes and the test's settings through the API.
func observe(t *testing.T, srv *modelbarProc) map[string]durState {
	t.Helper()
	seen := map[string]durState{}
	var provs []struct {
		Name string `json:"name"`
		provView
	}
	getJSON(t, srv, "/api/providers", &provs)
	for _, p := range provs {
		seen["provider/"+p.Name] = durState{true, p.provView}
	}
	var routes []routeView
	getJSON(t, srv, "/api/routes", &routes)
	for _, r := range routes {
		if _, dup := seen["route/"+r.ModelPattern]; dup {
			t.Errorf("two routes with pattern %q", r.ModelPattern)
		}
		seen["route/"+r.ModelPattern] = durState{true, r}
	}
	var settings map[string]json.RawMessage
	getJSON(t, srv, "/api/settings", &settings)
	for _, k := range durSettings {
		seen["setting/"+k] = durState{true, settings[k]}
	}
	return seen
}

func getJSON(t *testing.T, srv *modelbarProc, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+srv.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

// checkKeys compares the file secret store with the database and with the
// providers the test ever wrote, as model now has them. Every provider the
// API shows with a key must have its key_account in the secret store, with
// the hint it shows; every secret must belong to a provider's key_account
// (the start-up clean-up deletes those a kill left behind); and the
// clean-up's queue, secret_gc, must be empty.
func checkKeys(t *testing.T, srv *modelbarProc, model durModel, when string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(srv.dir, "secrets.key")); err != nil {
		return // no key stored yet
	}
	stored := readSecretsFile(t, srv.dir)
	accounts, queued := readKeyAccounts(t, filepath.Join(srv.dir, "modelbar.db"))
	used := map[string]bool{}
	for name, account := range accounts {
		used[account] = true
		st := model["provider/"+name]
		if st == nil {
			continue // reported by verifyDurable
		}
		if msg := keyMismatch(name, st.acked, account, stored); msg != "" {
			t.Errorf("%s: KEY MISMATCH: provider %s %s", when, name, msg)
		}
	}
	for account := range stored {
		if !used[account] {
			t.Errorf("%s: KEY MISMATCH: the secret store holds %s, which no provider uses", when, account)
		}
	}
	if len(queued) > 0 {
		t.Errorf("%s: secret_gc still lists %v after the start-up clean-up", when, queued)
	}
}

// keyMismatch compares provider name's state as the API shows it with the
// secret under its key account ("" for none).
func keyMismatch(name string, st durState, account string, stored map[string]string) string {
	var v provView
	if st.present {
		v = st.val.(provView)
	}
	s, ok := stored[account]
	switch {
	case v.HasAPIKey && !ok:
		return fmt.Sprintf("shows a key (hint %q) but the secret store has none under %q", v.APIKeyHint, account)
	case v.HasAPIKey && secrets.Hint(s) != v.APIKeyHint:
		return fmt.Sprintf("shows key hint %q but the key under %s ends %q", v.APIKeyHint, account, secrets.Hint(s))
	case !v.HasAPIKey && account != "":
		return fmt.Sprintf("(present: %v) shows no key but uses key account %s", st.present, account)
	case ok && !strings.HasPrefix(account, name+"#"):
		return fmt.Sprintf("uses key account %s, not one of its own", account)
	}
	return ""
}

// readKeyAccounts reads each provider's key_account, "" for none, and the
// accounts in secret_gc, from the live database (read-only).
func readKeyAccounts(t *testing.T, dbPath string) (accounts map[string]string, queued []string) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+dbPath+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	accounts = map[string]string{}
	for _, r := range queryRows(t, db, `SELECT name, key_account FROM providers`) {
		accounts[r[0]] = r[1]
	}
	for _, r := range queryRows(t, db, `SELECT account FROM secret_gc`) {
		queued = append(queued, r[0])
	}
	return accounts, queued
}

// queryRows runs a query of text columns and returns its rows.
func queryRows(t *testing.T, db *sql.DB, query string) [][]string {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		row := make([]string, len(cols))
		ptrs := make([]any, len(cols))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// readSecretsFile decrypts <dir>/secrets.enc, the file secrets backend, and
// returns all its account → secret entries. secrets.File can only Get an
// account it is told; finding orphans needs them all, so this reads
// format version 1 of backend/secrets/file.go directly.
func readSecretsFile(t *testing.T, dir string) map[string]string {
	t.Helper()
	key, err := os.ReadFile(filepath.Join(dir, "secrets.key"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "secrets.enc"))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}
	}
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		V     int    `json:"v"`
		Nonce []byte `json:"nonce"`
		Data  []byte `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || env.V != 1 {
		t.Fatalf("secrets.enc: version %d, %v; this test reads version 1", env.V, err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := aead.Open(nil, env.Nonce, env.Data, []byte("modelbar secrets v1"))
	if err != nil {
		t.Fatalf("secrets.enc: %v", err)
	}
	var p struct {
		Secrets map[string]string `json:"secrets"`
	}
	if err := json.Unmarshal(plain, &p); err != nil {
		t.Fatal("secrets.enc: malformed contents")
	}
	return p.Secrets
}
