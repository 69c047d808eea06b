package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// GatewayOptions configure the gateway benchmark.
type GatewayOptions struct {
	// Binary is the modelbar executable to measure (run as `modelbar
	// serve`); "" is this process's own executable.
	Binary string
	// Sequential is the number of requests at concurrency 1; 0: 500.
	Sequential int
	// Rates are the open-loop request rates, per second; nil: 500, 1000, 2000.
	Rates []int
	// Duration of each open-loop run; 0: 5 s.
	Duration time.Duration
	// Streams is the number of streams measured; 0: 50. Each has 64 events
	// sent EventGap apart (0: 2 ms).
	Streams  int
	EventGap time.Duration
}

// streamEvents is the length of every benchmark stream.
const streamEvents = 64

// Gateway measures what modelbar adds to a request, next to a direct call
// and to Go's httputil.ReverseProxy (the null proxy: the least any proxy
// can add), all against one fake provider on loopback, in the same run;
// and what a route's group adds over a single backend (the balancer's
// cost: policy, affinity, health), with the fake behind three providers.
// It writes a report with the ratios to w.
func Gateway(w io.Writer, o GatewayOptions) error {
	o = o.withDefaults()
	fake := httptest.NewServer(fakeProvider(o.EventGap))
	defer fake.Close()
	binary := o.Binary
	if binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the modelbar executable: %w", err)
		}
		binary = exe
	}
	// The null proxy runs in a process of its own, as modelbar does, so that
	// both pay the same hops between processes.
	null, err := startProcess(binary, "bench", "null-proxy", "--target", fake.URL)
	if err != nil {
		return err
	}
	defer null.stop()
	mb, err := startModelbar(binary, fake.URL)
	if err != nil {
		return err
	}
	defer mb.stop()

	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096, IdleConnTimeout: time.Minute}}
	defer client.CloseIdleConnections()
	paths := []path{
		{name: "direct", base: fake.URL, model: "bench-openai", role: roleDirect},
		{name: "null proxy", base: null.url, model: "bench-openai", role: roleNull},
		{name: "modelbar", base: mb.url, model: "bench-openai", role: roleModelbar},
		{name: "modelbar → anthropic", base: mb.url, model: "bench-anthropic", role: roleTranslate},
		{name: "group, weighted", base: mb.url, model: "bench-group-weighted", role: roleGroup, members: &members{}},
		{name: "group, least-busy", base: mb.url, model: "bench-group-least-busy", role: roleGroup, members: &members{}},
	}

	fmt.Fprintf(w, "gateway benchmark: %s/%s, %d CPUs, Go %s, %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(w, "fake provider (in this process), null proxy (httputil.ReverseProxy) and modelbar (`modelbar serve`), each in a process of its own, on loopback\n")
	fmt.Fprintf(w, "groups: the same fake as three providers (fake ×3, fake-2 ×2, fake-3 ×1) behind one route; requests carry one of %d users\n", benchUsers)
	fmt.Fprintf(w, "start-up: %s from exec to a healthy /healthz; memory (RSS) at idle: %s\n\n", ms(mb.startup), mib(mb.rss()))

	fmt.Fprintf(w, "concurrency 1, %d requests each, the paths taking turns (latency; added = minus direct):\n", o.Sequential)
	lats, err := sequential(client, paths, o.Sequential)
	if err != nil {
		return err
	}
	var seq []stats
	for _, lat := range lats {
		seq = append(seq, summarize(lat))
	}
	table(w, paths, seq)

	if err := streamSection(w, client, paths, o); err != nil {
		return err
	}
	peakRSS := mb.rss()
	loaded := slices.DeleteFunc(slices.Clone(paths), func(p path) bool { return p.role == roleTranslate })
	for _, rate := range o.Rates {
		fmt.Fprintf(w, "\nopen loop, %d requests/s for %s (latency from the scheduled send):\n", rate, o.Duration)
		var st []stats
		for _, p := range loaded {
			lat, failed := openLoop(client, p, rate, o.Duration)
			s := summarize(lat)
			s.failed = failed
			st = append(st, s)
			peakRSS = max(peakRSS, mb.rss())
		}
		table(w, loaded, st)
	}
	fmt.Fprintf(w, "\nmemory (RSS) under load: %s at most\n", mib(peakRSS))

	return nil
}

// streamSection measures every path's streams: time to first event and
// the gaps between events.
func streamSection(w io.Writer, client *http.Client, paths []path, o GatewayOptions) error {
	fmt.Fprintf(w, "\nstreaming, %d streams of %d events sent %s apart:\n", o.Streams, streamEvents, o.EventGap)
	fmt.Fprintf(w, "  %-22s %10s %10s %10s %10s %10s %7s\n", "", "TTFB p50", "TTFB p99", "gap p50", "gap p99", "gap max", "cut")
	var direct, single streamStats
	for i, p := range paths {
		s, err := streams(client, p, o.Streams)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		switch p.role {
		case roleDirect:
			direct = s
		case roleModelbar:
			single = s
		}
		fmt.Fprintf(w, "  %-22s %10s %10s %10s %10s %10s %7d", p.name, ms(s.ttfb.p50), ms(s.ttfb.p99), ms(s.gap.p50), ms(s.gap.p99), ms(s.gap.max), s.failed)
		if i > 0 {
			fmt.Fprintf(w, "   added TTFB %s, added gap p99 %s", signed(s.ttfb.p50-direct.ttfb.p50), signed(s.gap.p99-direct.gap.p99))
		}
		if p.role == roleGroup {
			fmt.Fprintf(w, "; balancer adds TTFB %s (%s)", signed(s.ttfb.p50-single.ttfb.p50), ratio(s.ttfb.p50, single.ttfb.p50))
		}
		fmt.Fprintln(w)
		p.members.take() // streams are not part of the next section's split
	}
	fmt.Fprintf(w, "  (an event held back shows as a gap p99 or max well above %s)\n", o.EventGap)
	return nil
}

func (o GatewayOptions) withDefaults() GatewayOptions {
	if o.Sequential <= 0 {
		o.Sequential = 500
	}
	if o.Rates == nil {
		o.Rates = []int{500, 1000, 2000}
	}
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	if o.Streams <= 0 {
		o.Streams = 50
	}
	if o.EventGap <= 0 {
		o.EventGap = 2 * time.Millisecond
	}
	return o
}

// path is one way to the fake provider.
type path struct {
	name  string
	base  string // URL of the server the client calls
	model string // bench-openai, bench-anthropic (translated by modelbar), or a group's route
	role  pathRole
	// members counts who answered (X-Modelbar-Backend); nil: not counted.
	members *members
}

// pathRole is what a path stands for in the report.
type pathRole int

const (
	roleDirect    pathRole = iota // the client calls the fake
	roleNull                      // through the null proxy
	roleModelbar                  // through modelbar, a route of one backend
	roleTranslate                 // through modelbar to an Anthropic provider
	roleGroup                     // through modelbar, a route of a group of three
)

// benchUsers is how many users the requests take turns naming, so that a
// group route spreads them (one conversation would stay on one member).
const benchUsers = 256

// nextUser numbers the requests, for their user.
var nextUser atomic.Int64

const benchChat = `{"model":%q,"messages":[{"role":"user","content":"Say hi"}],"max_tokens":16,"user":"bench-user-%d"%s}`

func (p path) request(stream bool) *http.Request {
	extra := ""
	if stream {
		extra = `,"stream":true`
	}
	user := nextUser.Add(1) % benchUsers
	req, _ := http.NewRequest(http.MethodPost, p.base+"/v1/chat/completions", strings.NewReader(fmt.Sprintf(benchChat, p.model, user, extra)))
	req.Header.Set("Content-Type", "application/json")
	return req
}

// call sends one request and reads the whole answer.
func call(client *http.Client, p path) error {
	resp, err := client.Do(p.request(false))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	p.members.add(resp.Header.Get("X-Modelbar-Backend"))
	return nil
}

// members counts the answers of each backend; the nil *members counts
// nothing. Safe for concurrent use.
type members struct {
	mu     sync.Mutex
	counts map[string]int // guarded by mu
}

func (m *members) add(backend string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.counts == nil {
		m.counts = map[string]int{}
	}
	m.counts[backend]++
}

// take returns the counts so far, "fake 250, fake-2 167", and starts over.
func (m *members) take() string {
	if m == nil {
		return ""
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	names := slices.Sorted(maps.Keys(m.counts))
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, m.counts[n])
	}
	m.counts = nil
	return strings.Join(parts, ", ")
}

// sequential sends n requests down each path at concurrency 1, the paths
// taking turns request by request, so that the machine's drift during the
// run (other jobs, frequency) weighs on every path alike: the differences
// between paths, a balancer's few microseconds among them, are what is left.
func sequential(client *http.Client, paths []path, n int) ([][]time.Duration, error) {
	for _, p := range paths {
		for range 20 { // warm the connections
			if err := call(client, p); err != nil {
				return nil, fmt.Errorf("%s: %w", p.name, err)
			}
		}
		p.members.take() // count the measured requests only
	}
	lat := make([][]time.Duration, len(paths))
	for range n {
		for i, p := range paths {
			start := time.Now()
			if err := call(client, p); err != nil {
				return nil, fmt.Errorf("%s: %w", p.name, err)
			}
			lat[i] = append(lat[i], time.Since(start))
		}
	}
	return lat, nil
}

// openLoop sends rate requests a second for d, each at its scheduled time
// whatever the earlier ones are doing, and measures each from that time.
func openLoop(client *http.Client, p path, rate int, d time.Duration) ([]time.Duration, int) {
	n := int(d.Seconds() * float64(rate))
	interval := time.Second / time.Duration(rate)
	lat := make([]time.Duration, n)
	failed := make([]bool, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(at))
		wg.Go(func() {
			err := call(client, p)
			lat[i], failed[i] = time.Since(at), err != nil
		})
	}
	wg.Wait()
	var ok []time.Duration
	bad := 0
	for i, l := range lat {
		if failed[i] {
			bad++
			continue
		}
		ok = append(ok, l)
	}
	return ok, bad
}

// streamStats are the time to first event and the gaps between events of
// the streams that arrived whole, and how many did not.
type streamStats struct {
	ttfb, gap stats
	failed    int
}

func streams(client *http.Client, p path, n int) (streamStats, error) {
	var ttfb, gaps []time.Duration
	failed := 0
	for range n {
		start := time.Now()
		resp, err := client.Do(p.request(true))
		if err != nil {
			failed++
			continue
		}
		var arrivals []time.Time
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "data: ") && strings.Contains(line, `"content":"t`) {
				arrivals = append(arrivals, time.Now())
			}
		}
		resp.Body.Close()
		if len(arrivals) != streamEvents {
			failed++
			continue
		}
		p.members.add(resp.Header.Get("X-Modelbar-Backend"))
		ttfb = append(ttfb, arrivals[0].Sub(start))
		for i := 1; i < len(arrivals); i++ {
			gaps = append(gaps, arrivals[i].Sub(arrivals[i-1]))
		}
	}
	return streamStats{ttfb: summarize(ttfb), gap: summarize(gaps), failed: failed}, nil
}

// stats summarize latencies.
type stats struct {
	n             int
	p50, p99, max time.Duration
	failed        int
}

func summarize(d []time.Duration) stats {
	if len(d) == 0 {
		return stats{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return stats{n: len(s), p50: at(0.50), p99: at(0.99), max: s[len(s)-1]}
}

// table prints one row per path, with the added latency over the direct
// call; then modelbar's added latency as a multiple of the null proxy's,
// and each group's cost over the single backend: the balancer's.
func table(w io.Writer, paths []path, st []stats) {
	fmt.Fprintf(w, "  %-22s %10s %10s %12s %12s %8s\n", "", "p50", "p99", "added p50", "added p99", "errors")
	at := map[pathRole]int{}
	for i, p := range paths {
		if _, ok := at[p.role]; !ok {
			at[p.role] = i
		}
		fmt.Fprintf(w, "  %-22s %10s %10s", p.name, ms(st[i].p50), ms(st[i].p99))
		if i > 0 {
			fmt.Fprintf(w, " %12s %12s", signed(st[i].p50-st[0].p50), signed(st[i].p99-st[0].p99))
		} else {
			fmt.Fprintf(w, " %12s %12s", "", "")
		}
		fmt.Fprintf(w, " %8d\n", st[i].failed)
	}
	direct, null, single := st[at[roleDirect]], st[at[roleNull]], st[at[roleModelbar]]
	fmt.Fprintf(w, "  modelbar: %s the direct call's p50; added p50 %s the null proxy's", ratio(single.p50, direct.p50), ratio(single.p50-direct.p50, null.p50-direct.p50))
	if i, ok := at[roleTranslate]; ok {
		fmt.Fprintf(w, "; translation adds %s at p50", signed(st[i].p50-single.p50))
	}
	fmt.Fprintln(w)
	for i, p := range paths {
		if p.role != roleGroup {
			continue
		}
		g := st[i]
		fmt.Fprintf(w, "  balancer (%s): p50 %s (%s the single backend's), p99 %s (%s); answered by %s\n", strings.TrimPrefix(p.name, "group, "),
			signed(g.p50-single.p50), ratio(g.p50, single.p50), signed(g.p99-single.p99), ratio(g.p99, single.p99), p.members.take())
	}
}

func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "n/a×"
	}
	return fmt.Sprintf("%.2f×", float64(a)/float64(b))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond)) }

func signed(d time.Duration) string {
	if d >= 0 {
		return "+" + ms(d)
	}
	return "-" + ms(-d)
}

func mib(b int64) string {
	if b <= 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

// fakeProvider answers OpenAI chat completions and Anthropic messages at
// once, whole or streamed (streamEvents content events, gap apart).
func fakeProvider(gap time.Duration) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Stream bool `json:"stream"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"bench",`+
				`"choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],`+
				`"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}`)
			return
		}
		sse(w, gap, func(i int) string {
			return fmt.Sprintf(`data: {"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"bench","choices":[{"index":0,"delta":{"content":"t%d"},"finish_reason":null}]}`+"\n\n", i)
		}, "", `data: {"id":"c1","object":"chat.completion.chunk","created":1700000000,"model":"bench","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`+"\n\ndata: [DONE]\n\n")
	})
	mux.HandleFunc("POST /v1/messages", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Stream bool `json:"stream"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":"msg_1","type":"message","role":"assistant","model":"bench","content":[{"type":"text","text":"hi"}],`+
				`"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":1}}`)
			return
		}
		sse(w, gap, func(i int) string {
			return fmt.Sprintf("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"t%d\"}}\n\n", i)
		}, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"bench\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":9,\"output_tokens\":0}}}\n\n"+
			"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
			"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"+
				"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":64}}\n\n"+
				"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	})
	return mux
}

// sse writes head, then n events gap apart, each flushed, then tail.
func sse(w http.ResponseWriter, gap time.Duration, event func(int) string, head, tail string) {
	w.Header().Set("Content-Type", "text/event-stream")
	rc := http.NewResponseController(w)
	io.WriteString(w, head)
	for i := range streamEvents {
		if i > 0 {
			time.Sleep(gap)
		}
		io.WriteString(w, event(i))
		rc.Flush()
	}
	io.WriteString(w, tail)
	rc.Flush()
}

// process is a child process serving HTTP for the benchmark: modelbar or
// the null proxy.
type process struct {
	cmd     *exec.Cmd
	url     string
	dir     string // removed at stop
	startup time.Duration
}

// startProcess runs binary with args plus --addr on a free loopback port
// and waits until /healthz answers 200.
func startProcess(binary string, args ...string) (*process, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &process{url: "http://" + addr}
	p.cmd = exec.Command(binary, append(args, "--addr", addr)...)
	p.cmd.Env = append(os.Environ(), "MODELBAR_SECRETS=file", "MODELBAR_BACKEND=cpu")
	p.cmd.Stderr = os.Stderr
	start := time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s %s: %w", binary, strings.Join(args, " "), err)
	}
	for {
		resp, err := http.Get(p.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Since(start) > 30*time.Second {
			p.stop()
			return nil, fmt.Errorf("%s %s did not become healthy within 30 s", binary, strings.Join(args, " "))
		}
		time.Sleep(time.Millisecond)
	}
	p.startup = time.Since(start)
	return p, nil
}

// startModelbar starts `modelbar serve` with a fresh data dir and routes
// bench-openai and bench-anthropic to the fake provider, and
// bench-group-weighted and bench-group-least-busy to it as a group of
// three providers.
func startModelbar(binary, fakeURL string) (*process, error) {
	dir, err := os.MkdirTemp("", "modelbar-bench-gateway-")
	if err != nil {
		return nil, err
	}
	p, err := startProcess(binary, "serve", "--data-dir", dir, "--log-level", "warn")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p.dir = dir
	token, err := os.ReadFile(filepath.Join(dir, "admin-token"))
	if err != nil {
		p.stop()
		return nil, err
	}
	for _, c := range []struct{ method, path, body string }{
		{http.MethodPut, "/api/providers/fake", fmt.Sprintf(`{"type":"openai","base_url":%q}`, fakeURL+"/v1")},
		{http.MethodPut, "/api/providers/fake-anthropic", fmt.Sprintf(`{"type":"anthropic","base_url":%q}`, fakeURL)},
		{http.MethodPost, "/api/routes", `{"model_pattern":"bench-openai","backend":"fake"}`},
		{http.MethodPost, "/api/routes", `{"model_pattern":"bench-anthropic","backend":"fake-anthropic"}`},
		// The same fake as three providers, as three engines would be.
		{http.MethodPut, "/api/providers/fake-2", fmt.Sprintf(`{"type":"openai","base_url":%q}`, fakeURL+"/v1")},
		{http.MethodPut, "/api/providers/fake-3", fmt.Sprintf(`{"type":"openai","base_url":%q}`, fakeURL+"/v1")},
		{http.MethodPost, "/api/routes", `{"model_pattern":"bench-group-weighted","policy":"weighted",` +
			`"targets":[{"backend":"fake","weight":3},{"backend":"fake-2","weight":2},{"backend":"fake-3","weight":1}]}`},
		{http.MethodPost, "/api/routes", `{"model_pattern":"bench-group-least-busy","policy":"least-busy",` +
			`"targets":[{"backend":"fake"},{"backend":"fake-2"},{"backend":"fake-3"}]}`},
	} {
		req, _ := http.NewRequest(c.method, p.url+c.path, strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			p.stop()
			return nil, err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			p.stop()
			return nil, fmt.Errorf("configure modelbar: %s %s: %d %s", c.method, c.path, resp.StatusCode, b)
		}
	}
	return p, nil
}

// rss is the process's resident memory in bytes, or 0 when unknown.
func (p *process) rss() int64 {
	pid := p.cmd.Process.Pid
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				return kb << 10
			}
		}
	}
	out, err := exec.Command("ps", "-o", "rss=", "-p", strconv.Itoa(pid)).Output() // macOS
	if err != nil {
		return 0
	}
	kb, _ := strconv.ParseInt(string(bytes.TrimSpace(out)), 10, 64)
	return kb << 10
}

func (p *process) stop() {
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
}

// NullProxy serves httputil.ReverseProxy to target on addr until ctx ends,
// with a /healthz: the null proxy `modelbar bench gateway` compares with.
func NullProxy(ctx context.Context, addr, target string) error {
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("--target %q: %w", target, err)
	}
	mux := http.NewServeMux()
	proxy := httputil.NewSingleHostReverseProxy(u)
	// The same connection pool as modelbar's provider clients.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 64, 16
	proxy.Transport = tr
	mux.Handle("/", proxy)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	srv := &http.Server{Addr: addr, Handler: mux}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
