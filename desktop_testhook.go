//go:build (desktop || dev) && desktoptest && !bindings

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wailsapp/wails/v2/pkg/runtime"
)

// The desktop test's window probe, in builds with the desktoptest tag only
// (.ci/desktop-test builds its binary so; a release never has the tag).
// WebKitGTK shows no page content to accessibility tools, so the test reads
// and drives the page from inside: when MODELBAR_DESKTOPTEST_ADDR names a
// loopback address, the app listens there, and each POST /eval runs its
// body (the body of an async JavaScript function) in the window through the
// Wails runtime; the page hands the result back as a runtime event, and
// the request answers with it as JSON, or 500 with the error it threw.

const testHookEnv = "MODELBAR_DESKTOPTEST_ADDR"

// testHookResult is the runtime event the page answers an eval with.
const testHookResult = "modelbar:desktoptest"

// evalTimeout bounds one eval: a page that is not there yet (still
// loading) never answers.
const evalTimeout = 5 * time.Second

func startTestHook(wctx context.Context, log *slog.Logger) {
	addr := os.Getenv(testHookEnv)
	if addr == "" {
		return
	}
	if host, _, err := net.SplitHostPort(addr); err != nil || !net.ParseIP(host).IsLoopback() {
		log.Error("desktop test hook: want a loopback host:port", "addr", addr)
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("desktop test hook", "err", err)
		return
	}
	h := &testHook{wctx: wctx, waiting: map[string]chan string{}}
	runtime.EventsOn(wctx, testHookResult, h.answer)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with the process
	go func() {
		<-wctx.Done()
		srv.Close()
	}()
	log.Warn("desktop test hook listening: this build runs JavaScript sent to it", "addr", ln.Addr().String())
}

type testHook struct {
	wctx    context.Context
	seq     atomic.Int64
	mu      sync.Mutex
	waiting map[string]chan string // by eval id: the page's JSON answer
}

// answer takes the page's event: the eval id and its JSON answer.
func (h *testHook) answer(data ...any) {
	if len(data) != 2 {
		return
	}
	id, _ := data[0].(string)
	res, _ := data[1].(string)
	h.mu.Lock()
	ch := h.waiting[id]
	delete(h.waiting, id)
	h.mu.Unlock()
	if ch != nil {
		ch <- res
	}
}

func (h *testHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/eval" {
		http.Error(w, "POST /eval only", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := strconv.FormatInt(h.seq.Add(1), 10)
	ch := make(chan string, 1)
	h.mu.Lock()
	h.waiting[id] = ch
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.waiting, id)
		h.mu.Unlock()
	}()
	// The answer is {"value": ...} or {"error": "..."}, as JSON in a string.
	js := fmt.Sprintf(`(async () => {
  let res;
  try { res = JSON.stringify({ value: (await (async () => { %s })()) ?? null }); }
  catch (e) { res = JSON.stringify({ error: String((e && e.stack) || e) }); }
  window.runtime.EventsEmit(%q, %q, res);
})();`, body, testHookResult, id)
	runtime.WindowExecJS(h.wctx, js)
	select {
	case res := <-ch:
		var out struct {
			Value json.RawMessage `json:"value"`
			Error string          `json:"error"`
		}
		if err := json.Unmarshal([]byte(res), &out); err != nil {
			http.Error(w, "the page's answer: "+err.Error(), http.StatusInternalServerError)
			return
		}
		if out.Error != "" {
			http.Error(w, out.Error, http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(out.Value)
	case <-time.After(evalTimeout):
		http.Error(w, "no answer from the page within "+evalTimeout.String(), http.StatusGatewayTimeout)
	case <-r.Context().Done():
	}
}
