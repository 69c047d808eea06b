package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/events"
)

// eventStream reads GET /api/events: each call of next returns the next
// event's topic and decoded body.
type eventStream struct {
	t    *testing.T
	resp *http.Response
	sc   *bufio.Scanner
}

func (h *harness) openEvents(t *testing.T, query string) *eventStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req := h.request(http.MethodGet, "/api/events"+query, nil, "Authorization", "Bearer "+adminToken).WithContext(ctx)
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatalf("GET /api/events: %v", err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET /api/events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	es := &eventStream{t: t, resp: resp, sc: bufio.NewScanner(resp.Body)}
	if ev := es.next(); ev.Topic != "hello" {
		t.Fatalf("first event %q, want hello", ev.Topic)
	}
	return es
}

// next returns the next event, failing the test after 5 s without one.
func (es *eventStream) next() events.Event {
	es.t.Helper()
	got := make(chan events.Event, 1)
	go func() {
		var name string
		for es.sc.Scan() {
			line := es.sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				var ev events.Event
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev); err != nil || string(ev.Topic) != name {
					es.t.Errorf("event %q: data %s (%v)", name, line, err)
				}
				got <- ev
				return
			}
		}
		close(got)
	}()
	select {
	case ev, ok := <-got:
		if !ok {
			es.t.Fatal("event stream ended")
		}
		return ev
	case <-time.After(5 * time.Second):
		es.t.Fatal("no event within 5 s")
	}
	return events.Event{}
}

func TestEvents_ChangesMadeThroughTheAPIArePublished(t *testing.T) {
	h := newHarness(t)
	es := h.openEvents(t, "")
	h.route("gpt-*", "local")
	if ev := es.next(); ev.Topic != events.Routes {
		t.Fatalf("after POST /api/routes: %s, want routes", ev.Topic)
	}
	if ev := es.next(); ev.Topic != events.Providers {
		t.Fatalf("after POST /api/routes: %s, want providers", ev.Topic)
	}
	h.mustAdmin(http.MethodPut, "/api/settings", map[string]any{"retry_backoff_ms": 5}, http.StatusOK)
	if ev := es.next(); ev.Topic != events.Settings {
		t.Fatalf("after PUT /api/settings: %s, want settings", ev.Topic)
	}
}

func TestEvents_TopicsFilter(t *testing.T) {
	h := newHarness(t)
	es := h.openEvents(t, "?topics=settings")
	h.route("gpt-*", "local") // routes and providers: filtered out
	h.mustAdmin(http.MethodPut, "/api/settings", map[string]any{"retry_backoff_ms": 5}, http.StatusOK)
	if ev := es.next(); ev.Topic != events.Settings {
		t.Fatalf("with ?topics=settings: %s, want settings", ev.Topic)
	}
}

func TestEvents_NeedTheAdminToken(t *testing.T) {
	h := newHarness(t)
	resp, _ := h.do(h.request(http.MethodGet, "/api/events", nil))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a token: %d, want 401", resp.StatusCode)
	}
}

func TestAdminErrors_SayWhatIsWrongInTheClientsTerms(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name, method, path string
		body               any
		status             int
		param, message     string
	}{
		{"unknown event topic", "GET", "/api/events?topics=routes,bogus", nil, 400, "topics", `unknown topic "bogus": the topics are routes, providers`},
		{"GET on the try endpoint", "GET", "/api/routes/try", nil, 405, "", "GET is not allowed on /api/routes/try; allowed: POST"},
		{"PUT on resolve", "PUT", "/api/routes/resolve", map[string]any{}, 405, "", "allowed: GET, HEAD"},
		{"missing conversation", "GET", "/api/conversations/nope", nil, 404, "", `no conversation with id "nope"`},
		{"missing conversation, deleted", "DELETE", "/api/conversations/nope", nil, 404, "", `no conversation with id "nope"`},
		{"a JSON array for an object", "POST", "/api/conversations", []any{}, 400, "", "request body is JSON array: send a JSON object"},
		{"a string for a number", "PUT", "/api/settings", map[string]any{"retry_backoff_ms": "5"}, 400, "retry_backoff_ms", "expected an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := h.admin(tt.method, tt.path, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("%s %s: %d %s, want %d", tt.method, tt.path, resp.StatusCode, b, tt.status)
			}
			e := mustOpenAIError(t, b)
			if deref(e.Param) != tt.param || !strings.Contains(e.Message, tt.message) {
				t.Errorf("error = param %q message %q; want param %q and a message containing %q", deref(e.Param), e.Message, tt.param, tt.message)
			}
			if strings.Contains(e.Message, "store:") || strings.Contains(e.Message, "conversations.") {
				t.Errorf("message names internals: %q", e.Message)
			}
		})
	}
}
