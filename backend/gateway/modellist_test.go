package gateway_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The list names each model a client can ask for once, owned by the
// backend that would answer it: exact routes, then the models of each
// wildcard route's provider that the route would actually take, as the
// router resolves them. Hidden routes list nothing, and take their names
// from the list.
func TestModels_WildcardExpansionsDedupedByResolution(t *testing.T) {
	oa, an, gq := listFake(t, false, oaModels), listFake(t, true, anModels), listFake(t, false, gqModels)
	type route = map[string]any
	tests := []struct {
		name   string
		routes []route
		want   []listedModel
	}{
		{"a wildcard lists its provider's matching models", []route{{"model_pattern": "gpt-*", "backend": "oa"}},
			[]listedModel{{"gpt-4o", "oa"}, {"gpt-4o-mini", "oa"}}},
		{"an Anthropic list is read page by page", []route{{"model_pattern": "claude-*", "backend": "an"}},
			[]listedModel{{"claude-sonnet-4-5", "an"}, {"claude-haiku-4-5", "an"}, {"claude-opus-4-1", "an"}}},
		{"an exact route takes its name from the wildcard", []route{
			{"model_pattern": "gpt-*", "backend": "oa"}, {"model_pattern": "gpt-4o-mini", "backend": "gq"}},
			[]listedModel{{"gpt-4o-mini", "gq"}, {"gpt-4o", "oa"}}},
		{"a higher wildcard lists only what its provider has", []route{
			{"model_pattern": "gpt-*", "backend": "oa"}, {"model_pattern": "gpt-4o*", "backend": "gq", "priority": 5}},
			[]listedModel{{"gpt-4o-mini", "gq"}}},
		{"a hidden exact route is not listed", []route{
			{"model_pattern": "fast", "backend": "oa", "backend_model": "gpt-4o", "hidden": true}, {"model_pattern": "visible", "backend": "oa"}},
			[]listedModel{{"visible", "oa"}}},
		{"a hidden wildcard lists nothing", []route{
			{"model_pattern": "claude-*", "backend": "an", "hidden": true}, {"model_pattern": "gpt-*", "backend": "oa"}},
			[]listedModel{{"gpt-4o", "oa"}, {"gpt-4o-mini", "oa"}}},
		{"a hidden route takes its names out of the list", []route{
			{"model_pattern": "gpt-4o", "backend": "gq", "hidden": true}, {"model_pattern": "gpt-*", "backend": "oa"}},
			[]listedModel{{"gpt-4o-mini", "oa"}}},
		{"a hidden wildcard hides its names from a catch-all", []route{
			{"model_pattern": "llama-*", "backend": "gq", "hidden": true}, {"model_pattern": "*", "backend": "gq", "priority": -1}},
			[]listedModel{{"gpt-4o-mini", "gq"}}},
		{"a disabled wildcard lists nothing", []route{{"model_pattern": "gpt-*", "backend": "oa", "enabled": false}},
			nil},
		{"a wildcard with a backend model lists the names it takes", []route{
			{"model_pattern": "claude-*", "backend": "an", "backend_model": "claude-haiku-4-5"}},
			[]listedModel{{"claude-sonnet-4-5", "an"}, {"claude-haiku-4-5", "an"}, {"claude-opus-4-1", "an"}}},
		{"an alias", []route{{"model_pattern": "fast", "backend": "oa", "backend_model": "gpt-4o"}},
			[]listedModel{{"fast", "oa"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.putProvider("oa", oa.baseURL(), "sk-oa-key-1111")
			h.putAnthropicProvider("an", an.srv.URL, "sk-an-key-2222")
			h.putProvider("gq", gq.baseURL(), "sk-gq-key-3333")
			h.sentinelRoutes("oa", "an", "gq")
			for _, r := range tt.routes {
				h.addRoute(r)
			}
			got, _ := h.settledModels("oa", "an", "gq")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("models (-want +got):\n%s", diff)
			}
		})
	}
}

// Each entry says what a picker needs where it is known: the context
// window, tool use and image input, from the provider's own list entry or
// the local model; an alias shows the facts of the model it is sent to.
// OpenAI's four fields stay as they were. GET /v1/models/{id} agrees with
// the list, in both APIs' shapes.
func TestModels_ListShowsWhatPickersRead(t *testing.T) {
	oa, an := listFake(t, false, oaModels), listFake(t, true, anModels)
	h := newHarness(t, withLocalTools(t))
	h.putProvider("oa", oa.baseURL(), "")
	h.putAnthropicProvider("an", an.srv.URL, "")
	h.sentinelRoutes("oa", "an")
	h.route("gpt-*", "oa")
	h.route("claude-*", "an")
	h.addRoute(map[string]any{"model_pattern": "fast", "backend": "oa", "backend_model": "gpt-4o"})
	_, body := h.settledModels("oa", "an")

	var list struct {
		Object string           `json:"object"`
		Data   []map[string]any `json:"data"`
	}
	decode(t, body, &list)
	byID := map[string]map[string]any{}
	for _, m := range list.Data {
		byID[m["id"].(string)] = m
	}
	start := byID["fast"]["created"]
	gpt4o := func(id, name, desc string, created any) map[string]any {
		return map[string]any{"id": id, "object": "model", "created": created, "owned_by": "oa", "name": name, "description": desc,
			"context_length": 128000.0, "capabilities": map[string]any{"function_calling": true, "vision": true},
			"architecture":         map[string]any{"input_modalities": []any{"text", "image"}, "output_modalities": []any{"text"}},
			"supported_parameters": []any{"tools", "tool_choice"},
			"top_provider":         map[string]any{"context_length": 128000.0, "max_completion_tokens": 16384.0}}
	}
	local := func(id string, tools bool) map[string]any {
		m := map[string]any{"id": id, "object": "model", "created": start, "owned_by": "local", "name": id, "description": "local",
			"context_length": 2048.0, "capabilities": map[string]any{"function_calling": tools, "vision": false},
			"architecture": map[string]any{"input_modalities": []any{"text"}, "output_modalities": []any{"text"}},
			"top_provider": map[string]any{"context_length": 2048.0}}
		if tools {
			m["supported_parameters"] = []any{"tools", "tool_choice"}
		}
		return m
	}
	want := map[string]map[string]any{
		"gpt-4o":      gpt4o("gpt-4o", "OpenAI: GPT-4o", "oa", 1715367049.0),
		"fast":        gpt4o("fast", "fast", "oa as gpt-4o", start),
		"gpt-4o-mini": {"id": "gpt-4o-mini", "object": "model", "created": start, "owned_by": "oa", "name": "gpt-4o-mini", "description": "oa"},
		"claude-sonnet-4-5": {"id": "claude-sonnet-4-5", "object": "model", "created": 1759104000.0, "owned_by": "an",
			"name": "Claude Sonnet 4.5", "description": "an", "context_length": 200000.0, "capabilities": map[string]any{"vision": true},
			"architecture": map[string]any{"input_modalities": []any{"text", "image"}, "output_modalities": []any{"text"}},
			"top_provider": map[string]any{"context_length": 200000.0, "max_completion_tokens": 64000.0}},
		"test/tiny":  local("test/tiny", false),
		"test/tools": local("test/tools", true),
	}
	for id, w := range want {
		if diff := cmp.Diff(w, byID[id]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", id, diff)
		}
	}
	if s, ok := start.(float64); !ok || s < 1.7e9 {
		t.Errorf("created of a route = %v, want the gateway's start", start)
	}

	// Anthropic's shape: the limits, and an Anthropic provider's
	// capabilities object as it sent it.
	resp, ab := h.do(h.request(http.MethodGet, "/v1/models?limit=100", nil, "anthropic-version", "2023-06-01"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Anthropic list: %d %s", resp.StatusCode, ab)
	}
	var alist struct {
		Data []map[string]any `json:"data"`
	}
	decode(t, ab, &alist)
	aByID := map[string]map[string]any{}
	for _, m := range alist.Data {
		aByID[m["id"].(string)] = m
	}
	var caps any
	json.Unmarshal([]byte(anCapabilities), &caps)
	awant := map[string]map[string]any{
		"claude-sonnet-4-5": {"type": "model", "id": "claude-sonnet-4-5", "display_name": "Claude Sonnet 4.5", "created_at": "2025-09-29T00:00:00Z",
			"max_input_tokens": 200000.0, "max_tokens": 64000.0, "capabilities": caps},
		"gpt-4o": {"type": "model", "id": "gpt-4o", "display_name": "OpenAI: GPT-4o", "created_at": "2024-05-10T18:50:49Z",
			"max_input_tokens": 128000.0, "max_tokens": 16384.0, "capabilities": map[string]any{"image_input": map[string]any{"supported": true}}},
		"gpt-4o-mini": {"type": "model", "id": "gpt-4o-mini", "display_name": "gpt-4o-mini", "created_at": aByID["gpt-4o-mini"]["created_at"]},
	}
	for id, w := range awant {
		if diff := cmp.Diff(w, aByID[id]); diff != "" {
			t.Errorf("Anthropic %s (-want +got):\n%s", id, diff)
		}
	}

	// One model at a time, as the list shows it.
	for id := range want {
		for _, shape := range []struct {
			headers []string
			list    map[string]map[string]any
		}{{nil, byID}, {[]string{"anthropic-version", "2023-06-01"}, aByID}} {
			resp, b := h.do(h.request(http.MethodGet, "/v1/models/"+id, nil, shape.headers...))
			var got map[string]any
			decode(t, b, &got)
			if diff := cmp.Diff(shape.list[id], got); resp.StatusCode != http.StatusOK || diff != "" {
				t.Errorf("GET /v1/models/%s %v: %d (-list +get):\n%s", id, shape.headers, resp.StatusCode, diff)
			}
		}
	}
}

// A provider that never answers its list delays nothing: the list is
// answered without its models while the fetch hangs, and has them once the
// provider answers.
func TestModels_HungProviderDoesNotDelayTheList(t *testing.T) {
	asked := make(chan struct{}, 10)
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	slow := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		asked <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Write([]byte(`{"data":[{"id":"slow-1"},{"id":"slow-2"}]}`))
	})
	t.Cleanup(free) // before the fake closes: it waits for its handlers
	h := newHarness(t)
	h.putProvider("slow", slow.baseURL(), "")
	h.route("slow-*", "slow")
	h.route("named", "slow")

	want := []listedModel{{"named", "slow"}}
	first := modelIDs(t, h)
	select {
	case <-asked: // the fetch has reached the provider, which holds it
	case <-time.After(10 * time.Second):
		t.Fatal("the provider's list was never asked for")
	}
	second := modelIDs(t, h) // answered while the provider still holds the fetch
	if !cmp.Equal(want, first) || !cmp.Equal(want, second) {
		t.Errorf("lists while the provider hangs: %v, %v; want %v", first, second, want)
	}
	free()
	deadline := time.Now().Add(10 * time.Second)
	for got := modelIDs(t, h); len(got) != 3; got = modelIDs(t, h) {
		if time.Now().After(deadline) {
			t.Fatalf("list %v never got the provider's models", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func modelIDs(t *testing.T, h *harness) []listedModel {
	t.Helper()
	resp, b := h.do(h.request(http.MethodGet, "/v1/models", nil))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/models: %d %s", resp.StatusCode, b)
	}
	var list struct{ Data []listedModel }
	decode(t, b, &list)
	return list.Data
}

// A provider's key goes only to that provider's host: each list request
// carries its own provider's credential and no other, and a provider that
// redirects its list to another host sends nothing there (its list fails,
// quietly, and names no key).
func TestModels_KeysStayWithTheirProviders(t *testing.T) {
	const oaKey, anKey, movedKey = "sk-oa-only-1111", "sk-an-only-2222", "sk-moved-3333"
	oa, an := listFake(t, false, oaModels), listFake(t, true, anModels)
	elsewhere := newFake(t, okChat("stolen"))
	// The same loopback server by another name: another host to the client.
	target := strings.Replace(elsewhere.srv.URL, "127.0.0.1", "localhost", 1) + "/v1/models"
	moved := newFake(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, target, http.StatusFound) })

	h := newHarness(t)
	h.putProvider("oa", oa.baseURL(), oaKey)
	h.putAnthropicProvider("an", an.srv.URL, anKey)
	h.putProvider("moved", moved.baseURL(), movedKey)
	h.sentinelRoutes("oa", "an")
	h.route("gpt-*", "oa")
	h.route("claude-*", "an")
	h.route("m-*", "moved")
	h.settledModels("oa", "an")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(h.logs.String(), `provider=moved`) { // its fetch has ended
		if time.Now().After(deadline) {
			t.Fatalf("no log line for the moved provider's list:\n%s", h.logs)
		}
		time.Sleep(5 * time.Millisecond)
	}

	check := func(name string, f *fakeProvider, header, want string) {
		reqs := f.requests()
		if len(reqs) == 0 {
			t.Errorf("%s was not asked for its list", name)
		}
		for _, r := range reqs {
			got := r.Header.Get(header)
			all := strings.Join(append(r.Header.Values("Authorization"), r.Header.Values("X-Api-Key")...), " ")
			if got != want || strings.Count(all, "sk-") != 1 {
				t.Errorf("%s got %s %s with %s %q and credentials %q", name, r.Method, r.Path, header, got, all)
			}
		}
	}
	check("oa", oa, "Authorization", "Bearer "+oaKey)
	check("an", an, "X-Api-Key", anKey)
	check("moved", moved, "Authorization", "Bearer "+movedKey)
	if reqs := elsewhere.requests(); len(reqs) != 0 {
		t.Errorf("the other host received %d requests, the first with %v", len(reqs), reqs[0].Header)
	}
	for _, r := range an.requests() {
		if r.Header.Get("Anthropic-Version") == "" {
			t.Errorf("Anthropic list request %s without anthropic-version", r.Path)
		}
	}
	for _, key := range []string{oaKey, anKey, movedKey} {
		if strings.Contains(h.logs.String(), key) {
			t.Errorf("the log holds a key: %s", h.logs)
		}
	}
}

// A provider's list is fetched again soon after the provider changes,
// without a client asking; a fetch that fails keeps the last good list.
func TestModels_RefetchedAfterTheProviderChanges(t *testing.T) {
	var mu sync.Mutex
	lists := map[string]string{
		"Bearer sk-first-0001":  `{"data":[{"id":"gpt-a"},{"id":"sentinel-oa-1"}]}`,
		"Bearer sk-second-0002": `{"data":[{"id":"gpt-a"},{"id":"gpt-b"},{"id":"sentinel-oa-1"}]}`,
	}
	seen := make(chan string, 100)
	up := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		mu.Lock()
		body, ok := lists[auth]
		mu.Unlock()
		if ok {
			w.Write([]byte(body))
		} else {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		select {
		case seen <- auth:
		default:
		}
	})
	waitFor := func(auth string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case got := <-seen:
				if got == auth {
					return
				}
			case <-timeout:
				t.Fatalf("the list was not fetched with %q", auth)
			}
		}
	}
	h := newHarness(t)
	h.putProvider("oa", up.baseURL(), "sk-first-0001")
	h.sentinelRoutes("oa")
	h.route("gpt-*", "oa")
	if got, _ := h.settledModels("oa"); !cmp.Equal([]listedModel{{"gpt-a", "oa"}}, got) {
		t.Errorf("first list %v", got)
	}

	h.putProvider("oa", up.baseURL(), "sk-second-0002")
	waitFor("Bearer sk-second-0002") // no client has asked since the change
	deadline := time.Now().Add(10 * time.Second)
	for got := modelIDs(t, h); len(got) != 3; got = modelIDs(t, h) {
		if time.Now().After(deadline) {
			t.Fatalf("list %v never got gpt-b", got)
		}
		time.Sleep(5 * time.Millisecond)
	}

	h.putProvider("oa", up.baseURL(), "sk-third-0003") // this key's list fails
	waitFor("Bearer sk-third-0003")
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(h.logs.String(), "cannot list a provider's models") {
		if time.Now().After(deadline) {
			t.Fatalf("the failure was not logged:\n%s", h.logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	want := []listedModel{{"gpt-a", "oa"}, {"gpt-b", "oa"}}
	if got, _ := h.settledModels("oa"); !cmp.Equal(want, got) {
		t.Errorf("after a failed fetch: %v, want the last good list %v", got, want)
	}
	for _, line := range strings.Split(h.logs.String(), "\n") {
		if strings.Contains(line, "cannot list") && !strings.Contains(line, "level=INFO") {
			t.Errorf("a failed list logged above INFO: %s", line)
		}
	}
}

// hidden is a route field like the others: false unless set, kept when an
// update leaves it out, shown by the resolver; a hidden route still routes.
func TestRoutes_HiddenThroughTheAdminAPI(t *testing.T) {
	h := newHarness(t)
	up := newFake(t, okChat("hi"))
	h.putProvider("p", up.baseURL(), "")
	type route struct {
		ID     int64 `json:"id"`
		Hidden bool  `json:"hidden"`
	}
	var plain, secret route
	decode(t, h.mustAdmin(http.MethodPost, "/api/routes", map[string]any{"model_pattern": "plain", "backend": "p"}, http.StatusCreated), &plain)
	decode(t, h.mustAdmin(http.MethodPost, "/api/routes", map[string]any{"model_pattern": "secret", "backend": "p", "hidden": true}, http.StatusCreated), &secret)
	if plain.Hidden || !secret.Hidden {
		t.Fatalf("created plain %+v, secret %+v", plain, secret)
	}
	var got route
	decode(t, h.mustAdmin(http.MethodPut, "/api/routes/"+strconv.FormatInt(secret.ID, 10), map[string]any{"priority": 3}, http.StatusOK), &got)
	if !got.Hidden {
		t.Error("an update without hidden unhid the route")
	}
	var res struct {
		Route   *route `json:"route"`
		Backend string `json:"backend"`
	}
	decode(t, h.mustAdmin(http.MethodGet, "/api/routes/resolve?model=secret", nil, http.StatusOK), &res)
	if res.Route == nil || !res.Route.Hidden || res.Backend != "p" {
		t.Errorf("resolve: %+v", res)
	}
	var list []route
	decode(t, h.mustAdmin(http.MethodGet, "/api/routes", nil, http.StatusOK), &list)
	if len(list) != 2 || !list[0].Hidden || list[1].Hidden {
		t.Errorf("routes %+v", list)
	}
	if got := modelIDs(t, h); !cmp.Equal([]listedModel{{"plain", "p"}}, got) {
		t.Errorf("models %v, want only plain", got)
	}
	resp, b := h.post("/v1/chat/completions", `{"model":"secret","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Modelbar-Backend") != "p" {
		t.Errorf("a hidden route's model: %d %s", resp.StatusCode, b)
	}
	if resp, _ := h.do(h.request(http.MethodGet, "/v1/models/secret", nil)); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v1/models/secret: %d, want 200: it routes", resp.StatusCode)
	}
	decode(t, h.mustAdmin(http.MethodPut, "/api/routes/"+strconv.FormatInt(secret.ID, 10), map[string]any{"hidden": false}, http.StatusOK), &got)
	if got.Hidden || len(modelIDs(t, h)) != 2 {
		t.Errorf("unhidden: %+v, models %v", got, modelIDs(t, h))
	}
}
