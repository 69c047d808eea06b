package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/router"
)

// The group load tests put three fake inference engines of different speeds
// and quirks behind one route and drive it with open-loop traffic shaped
// like real chat clients: many multi-turn conversations, streamed and not,
// some naming their user and some known only by their first message.

// groupEngine is a fake inference engine on loopback: an OpenAI-compatible
// server of one model, with a speed and the quirks of the engine it stands
// for. Chat answers say who answered and how many user turns they saw
// ("vllm: reply 3"), so a client can check both the history and the
// X-Modelbar-Backend header.
type groupEngine struct {
	name    string        // its provider name at the gateway
	model   string        // the one model it serves, named as it names it
	latency time.Duration // before its answer starts (the prefill)
	gap     time.Duration // between stream events (the decode)
	quirks  groupEngineQuirks
	srv     *httptest.Server

	failing atomic.Bool  // answer chat requests with 503
	chats   atomic.Int64 // chat requests received
	refused atomic.Int64 // of them answered 503
}

// groupEngineQuirks are what set one engine's API apart from the others'.
type groupEngineQuirks struct {
	models         string // the body of GET /v1/models
	reasoning      string // the reasoning field of message and delta; "" none
	usageWhenAsked bool   // a stream carries usage only with stream_options.include_usage
	extra          string // fields of its own in every answer and chunk, each followed by a comma
}

// loadVLLM is fast; its model list gives max_model_len, and its streams
// carry usage only when asked.
func loadVLLM(t *testing.T, latency time.Duration) *groupEngine {
	return startGroupEngine(t, &groupEngine{name: "vllm", model: "Qwen/Qwen3-8B", latency: latency, gap: 200 * time.Microsecond, quirks: groupEngineQuirks{
		models: `{"object":"list","data":[{"id":"Qwen/Qwen3-8B","object":"model","created":1700000000,"owned_by":"vllm",` +
			`"root":"Qwen/Qwen3-8B","parent":null,"max_model_len":32768,"permission":[]}]}`,
		usageWhenAsked: true,
	}})
}

// loadLlamaCpp is medium; its list has both "models" and "data", the
// window as meta.n_ctx_train; it thinks aloud in reasoning_content and ends
// its streams with usage and timings whether asked or not.
func loadLlamaCpp(t *testing.T, latency time.Duration) *groupEngine {
	return startGroupEngine(t, &groupEngine{name: "llamacpp", model: "qwen3-8b-q4_k_m.gguf", latency: latency, gap: time.Millisecond, quirks: groupEngineQuirks{
		models: `{"models":[{"name":"qwen3-8b-q4_k_m.gguf","model":"qwen3-8b-q4_k_m.gguf","type":"model","capabilities":["completion"]}],` +
			`"object":"list","data":[{"id":"qwen3-8b-q4_k_m.gguf","object":"model","created":1700000000,"owned_by":"llamacpp",` +
			`"meta":{"vocab_type":2,"n_vocab":151936,"n_ctx_train":40960,"n_embd":4096,"n_params":8190735360,"size":5027783488}}]}`,
		reasoning: "reasoning_content",
		extra:     `"system_fingerprint":"b5000-llamacpp",`,
	}})
}

// loadOllama is slow; it names models with tags, thinks aloud in
// "reasoning" and streams usage only when asked.
func loadOllama(t *testing.T, latency time.Duration) *groupEngine {
	return startGroupEngine(t, &groupEngine{name: "ollama", model: "qwen3:8b", latency: latency, gap: 2 * time.Millisecond, quirks: groupEngineQuirks{
		models: `{"object":"list","data":[{"id":"qwen3:8b","object":"model","created":1700000000,"owned_by":"library"},` +
			`{"id":"llama3.2:latest","object":"model","created":1700000000,"owned_by":"library"}]}`,
		reasoning:      "reasoning",
		usageWhenAsked: true,
		extra:          `"system_fingerprint":"fp_ollama",`,
	}})
}

func startGroupEngine(t *testing.T, e *groupEngine) *groupEngine {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", reply(http.StatusOK, e.quirks.models))
	mux.HandleFunc("POST /v1/chat/completions", e.chat)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *groupEngine) baseURL() string { return e.srv.URL + "/v1" }

// member is the engine as a group member of the given weight.
func (e *groupEngine) member(weight int) router.Member {
	return router.Member{Backend: e.name, Model: e.model, Weight: weight}
}

// weightedRoute creates, through the admin API as a client would, a route
// whose target is a group of members (backend, model, weight) under
// policy, with no fallbacks, and checks that it comes back as sent.
func weightedRoute(h *harness, pattern, policy string, members ...router.Member) {
	h.t.Helper()
	targets := make([]map[string]any, len(members))
	for i, m := range members {
		targets[i] = map[string]any{"backend": m.Backend, "model": m.Model, "weight": m.Weight}
	}
	rt := h.addRoute(map[string]any{"model_pattern": pattern, "targets": targets, "policy": policy, "fallbacks": []string{}})
	if !slices.Equal(rt.Targets, members) || rt.Policy != policy {
		h.t.Fatalf("route %s stored as targets %+v, policy %q; want %+v, %q", pattern, rt.Targets, rt.Policy, members, policy)
	}
}

// groupEngineChat is what the engines read of a chat request.
type groupEngineChat struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	Stream        bool `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

func (e *groupEngine) chat(w http.ResponseWriter, r *http.Request) {
	e.chats.Add(1)
	var req groupEngineChat
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		reply(http.StatusBadRequest, fmt.Sprintf(`{"error":{"message":%q,"type":"BadRequestError"}}`, err.Error()))(w, r)
		return
	}
	if req.Model != e.model { // a member must be sent its own model name
		reply(http.StatusNotFound, fmt.Sprintf(`{"error":{"message":"The model %s does not exist.","type":"NotFoundError","code":404}}`, req.Model))(w, r)
		return
	}
	if e.failing.Load() {
		e.refused.Add(1)
		reply(http.StatusServiceUnavailable, `{"error":{"message":"server busy","type":"server_error"}}`)(w, r)
		return
	}
	if !engineWait(r.Context(), e.latency) {
		return
	}
	users := 0
	for _, m := range req.Messages {
		if m.Role == "user" {
			users++
		}
	}
	content := fmt.Sprintf("%s: reply %d", e.name, users)
	usage := fmt.Sprintf(`"usage":{"prompt_tokens":%d,"completion_tokens":3,"total_tokens":%d}`, 10*len(req.Messages), 10*len(req.Messages)+3)
	if !req.Stream {
		reasoning := ""
		if e.quirks.reasoning != "" {
			reasoning = fmt.Sprintf(`,%q:"The user wants turn %d."`, e.quirks.reasoning, users)
		}
		reply(http.StatusOK, fmt.Sprintf(`{"id":"chatcmpl-%s","object":"chat.completion","created":1700000000,"model":%q,%s`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":%q%s},"finish_reason":"stop"}],%s}`,
			e.name, e.model, e.quirks.extra, content, reasoning, usage))(w, r)
		return
	}
	e.stream(w, r, content, usage, req.StreamOptions != nil && req.StreamOptions.IncludeUsage)
}

// stream sends the answer as the engine streams it: the role, its thinking
// (if it has a reasoning field), the content word by word gap apart, the
// finish, then usage as the engine's quirks say.
func (e *groupEngine) stream(w http.ResponseWriter, r *http.Request, content, usage string, askedUsage bool) {
	ev := func(choices string, more string) string {
		return fmt.Sprintf(`data: {"id":"chatcmpl-%s","object":"chat.completion.chunk","created":1700000000,"model":%q,%s"choices":%s%s}`+"\n\n",
			e.name, e.model, e.quirks.extra, choices, more)
	}
	delta := func(d string) string { return ev(`[{"index":0,"delta":`+d+`,"finish_reason":null}]`, "") }
	startSSE(w)
	writeEvent(w, delta(`{"role":"assistant","content":""}`))
	if e.quirks.reasoning != "" {
		writeEvent(w, delta(fmt.Sprintf(`{%q:"Thinking."}`, e.quirks.reasoning)))
	}
	for i, word := range strings.SplitAfter(content, " ") {
		if i > 0 && !engineWait(r.Context(), e.gap) {
			return
		}
		writeEvent(w, delta(fmt.Sprintf(`{"content":%q}`, word)))
	}
	switch {
	case !e.quirks.usageWhenAsked: // llama.cpp: usage and timings on the last chunk
		writeEvent(w, ev(`[{"index":0,"delta":{},"finish_reason":"stop"}]`, ","+usage+`,"timings":{"prompt_n":10,"predicted_n":3}`))
	default:
		writeEvent(w, ev(`[{"index":0,"delta":{},"finish_reason":"stop"}]`, ""))
		if askedUsage {
			writeEvent(w, ev(`[]`, ","+usage))
		}
	}
	writeEvent(w, done)
}

// engineWait waits d unless the request ends first.
func engineWait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// groupConv is one client's multi-turn chat. Turn k is sent with the
// whole history, so it waits for turn k-1's answer (which, at the rates
// used here, has long arrived when turn k is due).
type groupConv struct {
	id     int
	key    string // "user", "prompt_cache_key", or "" (known by its first message)
	system bool   // starts with a system prompt
	turns  []groupTurn
	done   []chan struct{} // closed when the turn's answer is in
}

// groupTurn is what the client saw of one turn.
type groupTurn struct {
	member   string // X-Modelbar-Backend
	fallback bool   // X-Modelbar-Fallback-From was set
	answer   string
	err      error
}

func newGroupConvs(n, turns int) []*groupConv {
	convs := make([]*groupConv, n)
	for i := range convs {
		c := &groupConv{id: i, turns: make([]groupTurn, turns), done: make([]chan struct{}, turns)}
		switch i % 5 {
		case 0, 1:
			c.key = "user"
		case 2:
			c.key = "prompt_cache_key"
		case 3:
			c.system = true
		}
		for k := range c.done {
			c.done[k] = make(chan struct{})
		}
		convs[i] = c
	}
	return convs
}

// body is turn k's request: the history so far and a new user message.
// Every third request streams; half of the streams ask for usage.
func (c *groupConv) body(model string, k int) (body []byte, stream, usage bool) {
	var msgs []map[string]string
	if c.system {
		msgs = append(msgs, map[string]string{"role": "system", "content": "You are a travel agent. Answer briefly."})
	}
	for j := range k + 1 {
		text := fmt.Sprintf("Conversation %d: plan a trip to city %d.", c.id, c.id)
		if j > 0 {
			text = fmt.Sprintf("And then, step %d?", j)
		}
		msgs = append(msgs, map[string]string{"role": "user", "content": text})
		if j < k {
			msgs = append(msgs, map[string]string{"role": "assistant", "content": c.turns[j].answer})
		}
	}
	req := map[string]any{"model": model, "messages": msgs, "max_tokens": 64}
	switch c.key {
	case "user":
		req["user"] = fmt.Sprintf("user-%d", c.id)
	case "prompt_cache_key":
		req["prompt_cache_key"] = fmt.Sprintf("cache-%d", c.id)
	}
	stream = (c.id+k)%3 == 0
	usage = stream && c.id%2 == 0
	if stream {
		req["stream"] = true
		if usage {
			req["stream_options"] = map[string]any{"include_usage": true}
		}
	}
	b, _ := json.Marshal(req)
	return b, stream, usage
}

// groupClient sends conversation turns to the gateway and checks every
// answer against the engine that X-Modelbar-Backend names.
type groupClient struct {
	http    *http.Client
	url     string
	model   string
	engines map[string]*groupEngine
}

// turn sends turn k of c (after turn k-1 is in) and records what came back.
func (g *groupClient) turn(c *groupConv, k int) {
	defer close(c.done[k])
	if k > 0 {
		<-c.done[k-1]
	}
	res := &c.turns[k]
	body, stream, usage := c.body(g.model, k)
	req, _ := http.NewRequest(http.MethodPost, g.url, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.http.Do(req)
	if err != nil {
		res.err = err
		return
	}
	defer resp.Body.Close()
	res.member = resp.Header.Get("X-Modelbar-Backend")
	res.fallback = resp.Header.Get("X-Modelbar-Fallback-From") != ""
	raw, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		res.err = fmt.Errorf("read the answer from %s: %w", res.member, err)
		return
	case resp.StatusCode != http.StatusOK:
		res.err = fmt.Errorf("status %d from %s: %s", resp.StatusCode, res.member, raw)
		return
	}
	if stream {
		res.answer, err = streamAnswer(raw, usage)
	} else {
		res.answer, err = chatAnswer(raw)
	}
	if err == nil {
		err = g.check(res.member, k, res.answer, raw)
	}
	if err != nil {
		res.err = fmt.Errorf("conversation %d turn %d (stream %v): %w", c.id, k, stream, err)
	}
}

// check holds an answer to what the engine named by member would say to
// turn k, its reasoning field included.
func (g *groupClient) check(member string, k int, answer string, raw []byte) error {
	e, ok := g.engines[member]
	if !ok {
		return fmt.Errorf("X-Modelbar-Backend %q is not a member of the group", member)
	}
	if want := fmt.Sprintf("%s: reply %d", e.name, k+1); answer != want {
		return fmt.Errorf("answer %q, want %q", answer, want)
	}
	if f := e.quirks.reasoning; f != "" && !strings.Contains(string(raw), `"`+f+`":`) {
		return fmt.Errorf("%s's answer lost its %s field: %s", member, f, raw)
	}
	return nil
}

func chatAnswer(raw []byte) (string, error) {
	var out struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out.Choices) != 1 {
		return "", fmt.Errorf("answer %s: %v", raw, err)
	}
	return out.Choices[0].Message.Content, nil
}

// streamAnswer joins a stream's content; it must end with [DONE] and,
// when the client asked for usage, carry it.
func streamAnswer(raw []byte, askedUsage bool) (string, error) {
	var content strings.Builder
	ended, sawUsage, usageOnly := false, false, false
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		switch {
		case !ok:
			continue
		case data == "[DONE]":
			ended = true
			continue
		}
		var ch struct {
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
			Usage *struct {
				TotalTokens int `json:"total_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			return "", fmt.Errorf("event %s: %w", data, err)
		}
		for _, c := range ch.Choices {
			content.WriteString(c.Delta.Content)
		}
		sawUsage = sawUsage || (ch.Usage != nil && ch.Usage.TotalTokens > 0)
		usageOnly = usageOnly || (ch.Usage != nil && len(ch.Choices) == 0)
	}
	switch {
	case !ended:
		return "", fmt.Errorf("stream ended without [DONE]: %s", raw)
	case askedUsage && !sawUsage:
		return "", fmt.Errorf("asked for usage, the stream has none: %s", raw)
	case !askedUsage && usageOnly:
		// A chunk without choices breaks clients that read choices[0];
		// usage riding on a content chunk (llama.cpp) is harmless.
		return "", fmt.Errorf("a usage chunk the client did not ask for reached it: %s", raw)
	}
	return content.String(), nil
}

// loadPhase is a stretch of turns and what happens at its start.
type loadPhase struct {
	name   string
	turns  int    // how many turns of every conversation it spans
	action func() // run before its first request, once the earlier phases are answered
}

// runConversations sends turn k of every conversation, k = 0, 1, ...,
// interleaved at rate requests a second (open loop within a phase: each
// is sent when due, unless its own conversation's previous turn is still
// out). A phase begins once every turn of the phases before it has been
// answered — on a loaded machine the conversations fall behind the
// schedule, and a member must not die under turns counted as healthy —
// with its action, and the schedule starts again from there.
func (g *groupClient) runConversations(convs []*groupConv, rate int, phases []loadPhase) time.Duration {
	interval := time.Second / time.Duration(rate)
	var wg sync.WaitGroup
	start, k0 := time.Now(), 0
	for _, ph := range phases {
		wg.Wait()
		if ph.action != nil {
			ph.action()
		}
		phaseStart := time.Now()
		for k := k0; k < k0+ph.turns; k++ {
			for _, c := range convs {
				i := (k-k0)*len(convs) + c.id
				time.Sleep(time.Until(phaseStart.Add(time.Duration(i) * interval)))
				wg.Go(func() { g.turn(c, k) })
			}
		}
		k0 += ph.turns
	}
	wg.Wait()
	return time.Since(start)
}

// tallyMembers counts the answering member of turns [from, to) of every
// conversation.
func tallyMembers(convs []*groupConv, from, to int) (map[string]int, int) {
	counts, n := map[string]int{}, 0
	for _, c := range convs {
		for k := from; k < to; k++ {
			if c.turns[k].err == nil {
				counts[c.turns[k].member]++
				n++
			}
		}
	}
	return counts, n
}

// convStickiness is the share of turns [from, to) that went to the member that
// answered the conversation's turn ref, over the conversations keep selects.
func convStickiness(convs []*groupConv, ref, from, to int, keep func(*groupConv) bool) (float64, int) {
	same, n := 0, 0
	for _, c := range convs {
		if !keep(c) {
			continue
		}
		for k := from; k < to; k++ {
			n++
			if c.turns[k].err == nil && c.turns[k].member == c.turns[ref].member {
				same++
			}
		}
	}
	if n == 0 {
		return 0, 0
	}
	return float64(same) / float64(n), n
}

// TestGroupLoad_Weighted sends 1,800 requests at 300 a second — 180
// conversations of 10 turns, a third of them streamed — to a weighted group
// of a vLLM-like, a llama.cpp-like and an Ollama-like engine (weights
// 3/2/1, fast to slow). While all are healthy (turns 0-5) each member's
// share of the requests is within 5 points of its weight's and more than
// 95% of a conversation's turns land on the member of its first turn. Then
// the vLLM-like engine dies (its server closes; turns 6-7) and the
// Ollama-like one starts answering 503 (turns 8-9): no client sees an
// error, conversations on the member that stays healthy keep it, and those
// that moved stay where they moved.
func TestGroupLoad_Weighted(t *testing.T) {
	if testing.Short() {
		t.Skip("load test: skipped with -short")
	}
	const convCount, rate = 180, 300
	const healthy, dead, busy = 6, 2, 2 // turns of each phase
	h := newHarness(t)
	vllm, llamacpp, ollama := loadVLLM(t, time.Millisecond), loadLlamaCpp(t, 5*time.Millisecond), loadOllama(t, 20*time.Millisecond)
	engines := map[string]*groupEngine{}
	for _, e := range []*groupEngine{vllm, llamacpp, ollama} {
		// Each as its engine's preset, so its quirks are handled under
		// load: usage asked for in streams and hidden when unasked.
		h.mustAdmin(http.MethodPut, "/api/providers/"+e.name, map[string]any{"preset": e.name, "base_url": e.baseURL()}, http.StatusCreated)
		engines[e.name] = e
	}
	weights := map[string]int{"vllm": 3, "llamacpp": 2, "ollama": 1}
	weightedRoute(h, "qwen3", router.PolicyWeighted, vllm.member(3), llamacpp.member(2), ollama.member(1))
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512}}
	defer client.CloseIdleConnections()
	g := &groupClient{http: client, url: h.url("/v1/chat/completions"), model: "qwen3", engines: engines}

	convs := newGroupConvs(convCount, healthy+dead+busy)
	killed := make(chan struct{})
	took := g.runConversations(convs, rate, []loadPhase{
		{name: "healthy", turns: healthy},
		{name: "vllm dead", turns: dead, action: func() {
			go func() { vllm.srv.Close(); close(killed) }() // Close waits for the requests it is serving
		}},
		{name: "vllm dead, ollama 503", turns: busy, action: func() { ollama.failing.Store(true) }},
	})
	<-killed
	t.Logf("%d requests in %v; chat requests at the engines: vllm %d, llamacpp %d, ollama %d (%d answered 503)",
		convCount*(healthy+dead+busy), took.Round(time.Millisecond), vllm.chats.Load(), llamacpp.chats.Load(), ollama.chats.Load(), ollama.refused.Load())

	assertNoErrors(t, convs)
	assertShares(t, convs, healthy, weights, 0.05)
	onFirst, n := convStickiness(convs, 0, 1, healthy, func(*groupConv) bool { return true })
	t.Logf("healthy: %.2f%% of %d later turns on the member of the conversation's first turn", 100*onFirst, n)
	if onFirst <= 0.95 {
		t.Errorf("affinity while healthy: %.2f%% of turns on the first turn's member, want more than 95%%", 100*onFirst)
	}
	assertFailurePhases(t, convs, healthy, dead, busy)
}

// assertNoErrors fails the test for every turn a client saw fail.
func assertNoErrors(t *testing.T, convs []*groupConv) {
	t.Helper()
	failed := 0
	for _, c := range convs {
		for _, r := range c.turns {
			if r.err != nil {
				if failed++; failed <= 10 {
					t.Errorf("client-visible error: %v", r.err)
				}
			}
		}
	}
	if failed > 0 {
		t.Fatalf("%d requests failed at the client", failed)
	}
}

// assertShares checks each member's share of turns [0, turns) against its
// share of the weights, within tol.
func assertShares(t *testing.T, convs []*groupConv, turns int, weights map[string]int, tol float64) {
	t.Helper()
	counts, n := tallyMembers(convs, 0, turns)
	total := 0
	for _, w := range weights {
		total += w
	}
	for name, w := range weights {
		got, want := float64(counts[name])/float64(n), float64(w)/float64(total)
		t.Logf("healthy: %s answered %d of %d requests = %.1f%% (weight %d: %.1f%%)", name, counts[name], n, 100*got, w, 100*want)
		if got < want-tol || got > want+tol {
			t.Errorf("%s's share %.1f%%, want %.1f%% ± %.0f points", name, 100*got, 100*want, 100*tol)
		}
	}
}

// assertFailurePhases checks the turns after the vLLM-like member died
// (dead turns) and after the Ollama-like one began refusing (busy turns).
func assertFailurePhases(t *testing.T, convs []*groupConv, healthy, dead, busy int) {
	t.Helper()
	last := healthy - 1 // the last turn before the death
	counts, n := tallyMembers(convs, healthy, healthy+dead)
	t.Logf("vllm dead: %v of %d requests, %d failed over", counts, n, countFallbacks(convs, healthy, healthy+dead))
	if counts["vllm"] > 0 {
		t.Errorf("%d answers from the dead vllm", counts["vllm"])
	}
	on := func(member string) func(*groupConv) bool {
		return func(c *groupConv) bool { return c.turns[last].member == member }
	}
	// llamacpp stays healthy throughout; ollama until it begins refusing.
	keptL, nl := convStickiness(convs, last, healthy, healthy+dead+busy, on("llamacpp"))
	keptO, no := convStickiness(convs, last, healthy, healthy+dead, on("ollama"))
	moved, nm := convStickiness(convs, healthy, healthy+1, healthy+dead, on("vllm"))
	t.Logf("failures: %.2f%% of %d later turns of llamacpp's conversations and %.2f%% of %d of ollama's (until it refused) stayed; "+
		"%.2f%% of %d later turns of vllm's conversations stayed where they moved", 100*keptL, nl, 100*keptO, no, 100*moved, nm)
	for _, k := range []struct {
		what string
		got  float64
	}{{"llamacpp's conversations", keptL}, {"ollama's conversations while it answered", keptO}, {"vllm's conversations after they moved", moved}} {
		if k.got <= 0.95 {
			t.Errorf("%s: %.2f%% of turns stayed on their member, want more than 95%%", k.what, 100*k.got)
		}
	}
	counts, n = tallyMembers(convs, healthy+dead, healthy+dead+busy)
	t.Logf("vllm dead, ollama 503: %v of %d requests, %d failed over", counts, n, countFallbacks(convs, healthy+dead, healthy+dead+busy))
	if counts["llamacpp"] != n {
		t.Errorf("with vllm dead and ollama refusing, %d of %d answers came from llamacpp, want all", counts["llamacpp"], n)
	}
}

// countFallbacks counts the turns [from, to) answered after another member failed.
func countFallbacks(convs []*groupConv, from, to int) int {
	n := 0
	for _, c := range convs {
		for k := from; k < to; k++ {
			if c.turns[k].fallback {
				n++
			}
		}
	}
	return n
}

// TestGroupLoad_LeastBusy sends 300 single-turn conversations at 150 a
// second to a least-busy group of three engines of skewed speeds (5, 20 and
// 80 ms before the first byte; the slow one listed first): every request
// succeeds, and the slower a member the smaller its share — the slow one's
// below an equal third.
func TestGroupLoad_LeastBusy(t *testing.T) {
	if testing.Short() {
		t.Skip("load test: skipped with -short")
	}
	const convCount, rate = 300, 150
	h := newHarness(t)
	fast, medium, slow := loadVLLM(t, 5*time.Millisecond), loadLlamaCpp(t, 20*time.Millisecond), loadOllama(t, 80*time.Millisecond)
	engines := map[string]*groupEngine{}
	for _, e := range []*groupEngine{fast, medium, slow} {
		h.putProvider(e.name, e.baseURL(), "")
		engines[e.name] = e
	}
	weightedRoute(h, "qwen3", router.PolicyLeastBusy, slow.member(1), medium.member(1), fast.member(1))
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	g := &groupClient{http: client, url: h.url("/v1/chat/completions"), model: "qwen3", engines: engines}

	convs := newGroupConvs(convCount, 1)
	took := g.runConversations(convs, rate, []loadPhase{{name: "skewed", turns: 1}})
	assertNoErrors(t, convs)
	counts, n := tallyMembers(convs, 0, 1)
	share := func(name string) float64 { return float64(counts[name]) / float64(n) }
	t.Logf("%d requests in %v: fast (vllm) %.1f%%, medium (llamacpp) %.1f%%, slow (ollama) %.1f%%",
		n, took.Round(time.Millisecond), 100*share("vllm"), 100*share("llamacpp"), 100*share("ollama"))
	if !(share("ollama") < share("llamacpp") && share("llamacpp") < share("vllm") && share("ollama") < 1.0/3) {
		t.Errorf("least-busy: shares fast %.1f%%, medium %.1f%%, slow %.1f%%; want them falling with the latency, the slow one's below a third",
			100*share("vllm"), 100*share("llamacpp"), 100*share("ollama"))
	}
}

// BenchmarkGroup_PassThrough measures one non-streaming chat request
// through the gateway to a fake provider on loopback, routed to it alone
// and through a weighted and a least-busy group of three providers that all
// point at it. Each iteration sends one request down each route in turn
// (so the machine's drift weighs on all alike) and the routes' mean times
// are reported as single-ns/req, weighted-ns/req and least-busy-ns/req,
// with the groups' differences from the single backend — what the balancer
// adds per request: the affinity key, the member order, health and
// in-flight accounting — as weighted-added-ns/req and
// least-busy-added-ns/req. The requests name one of 256 users on every
// route, so the groups spread them.
func BenchmarkGroup_PassThrough(b *testing.B) {
	up := httptest.NewServer(okChat("hi"))
	defer up.Close()
	h := newHarness(b)
	for _, p := range []string{"p1", "p2", "p3"} {
		h.putProvider(p, up.URL+"/v1", "")
	}
	h.route("single", "p1")
	members := func(w1, w2, w3 int) []router.Member {
		return []router.Member{{Backend: "p1", Weight: w1}, {Backend: "p2", Weight: w2}, {Backend: "p3", Weight: w3}}
	}
	weightedRoute(h, "weighted", router.PolicyWeighted, members(3, 2, 1)...)
	weightedRoute(h, "least-busy", router.PolicyLeastBusy, members(1, 1, 1)...)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	routes := []string{"single", "weighted", "least-busy"}
	bodies := make([][]string, len(routes))
	for r, route := range routes {
		for u := range 256 {
			bodies[r] = append(bodies[r], fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"x"}],"user":"user-%d"}`, route, u))
		}
	}
	spent := make([]time.Duration, len(routes))
	n := 0
	for b.Loop() {
		for r := range routes {
			start := time.Now()
			resp, err := client.Post(h.url("/v1/chat/completions"), "application/json", strings.NewReader(bodies[r][n%256]))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("%s: status %d", routes[r], resp.StatusCode)
			}
			spent[r] += time.Since(start)
		}
		n++
	}
	mean := func(r int) float64 { return float64(spent[r].Nanoseconds()) / float64(n) }
	for r, route := range routes {
		b.ReportMetric(mean(r), route+"-ns/req")
		if r > 0 {
			b.ReportMetric(mean(r)-mean(0), route+"-added-ns/req")
		}
	}
}
