package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/events"
	"github.com/modelbar/modelbar/backend/failover"
	"github.com/modelbar/modelbar/backend/reqlog"
)

// nextOf returns the next event of topic, skipping the others, failing
// the test after 10 s.
func (es *eventStream) nextOf(topic events.Topic) events.Event {
	es.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if ev := es.next(); ev.Topic == topic {
			return ev
		}
	}
	es.t.Fatalf("no %s event within 10 s", topic)
	return events.Event{}
}

// modelChange is the data of a models event.
type modelChange struct {
	Model  string `json:"model"`
	Change string `json:"change"`
}

// Loading, pinning and unloading a local model through the admin API are
// published as they happen, whoever asks.
func TestEvents_LocalModelChangesArePublished(t *testing.T) {
	_, opt := withLocal(t)
	h := newHarness(t, opt)
	es := h.openEvents(t, "?topics=models")
	steps := []struct {
		path string
		body map[string]any
		want []string
	}{
		{"/api/models/load", map[string]any{"model": localModel}, []string{"loading", "loaded"}},
		{"/api/models/pin", map[string]any{"model": localModel, "pin": true}, []string{"pinned"}},
		{"/api/models/pin", map[string]any{"model": localModel, "pin": false}, []string{"unpinned"}},
		{"/api/models/unload", map[string]any{"model": localModel}, []string{"unloaded"}},
	}
	for _, st := range steps {
		h.mustAdmin(http.MethodPost, st.path, st.body, http.StatusOK)
		for _, want := range st.want {
			ev := es.next()
			var c modelChange
			if err := json.Unmarshal(ev.Data, &c); err != nil || ev.Topic != events.Models || c != (modelChange{localModel, want}) {
				t.Fatalf("after POST %s %v: %s %s (%v), want models %s %s", st.path, st.body, ev.Topic, ev.Data, err, localModel, want)
			}
		}
	}
}

// A cooldown is published when it begins, when it ends by time (so a view
// clears it without polling) and when it is ended through the API, each
// with the list GET /api/cooldowns answers.
func TestEvents_CooldownsArePublished(t *testing.T) {
	h := newHarness(t)
	h.settings(map[string]any{"cooldown_failures": 1, "cooldown_seconds": 1})
	up := newFake(t, reply(http.StatusServiceUnavailable, upstreamError))
	h.putProvider("p", up.baseURL(), "")
	h.route("*", "p")
	es := h.openEvents(t, "?topics=cooldowns")
	cooldowns := func(when string) []failover.Cooldown {
		t.Helper()
		ev := es.nextOf(events.Cooldowns)
		var list []failover.Cooldown
		if err := json.Unmarshal(ev.Data, &list); err != nil {
			t.Fatalf("%s: data %s: %v", when, ev.Data, err)
		}
		return list
	}

	h.post("/v1/chat/completions", chatFor("m"))
	if list := cooldowns("after a failure"); len(list) != 1 || list[0].Provider != "p" || list[0].State != "cooldown" {
		t.Fatalf("after a failure: %+v, want p cooling down", list)
	}
	start := time.Now()
	if list := cooldowns("at the end of the cooldown"); len(list) != 1 || list[0].State != "probing" {
		t.Fatalf("at the end of the cooldown: %+v, want p open to a probe", list)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("the end of a 1 s cooldown was published after %s", waited)
	}

	h.post("/v1/chat/completions", chatFor("m")) // the probe fails: cooling down again
	if list := cooldowns("after a failed probe"); len(list) != 1 || list[0].State != "cooldown" {
		t.Fatalf("after a failed probe: %+v, want p cooling down", list)
	}
	h.mustAdmin(http.MethodDelete, "/api/cooldowns/p", nil, http.StatusNoContent)
	if list := cooldowns("after DELETE /api/cooldowns/p"); len(list) != 0 {
		t.Fatalf("after DELETE /api/cooldowns/p: %+v, want none", list)
	}
}

// Every logged request is published with its log entry, and GET
// /api/requests already lists it when the event arrives.
func TestEvents_RequestsArePublished(t *testing.T) {
	h := newHarness(t)
	up := newFake(t, okChat("hello"))
	h.putProvider("p", up.baseURL(), "")
	h.route("*", "p")
	es := h.openEvents(t, "?topics=requests")
	if resp, body := h.post("/v1/chat/completions", chatFor("gpt-x")); resp.StatusCode != http.StatusOK {
		t.Fatalf("chat: %d %s", resp.StatusCode, body)
	}
	ev := es.next()
	var e reqlog.Entry
	if err := json.Unmarshal(ev.Data, &e); err != nil || ev.Topic != events.Requests || e.Model != "gpt-x" || e.Backend != "p" || e.Status != http.StatusOK {
		t.Fatalf("after a chat: %s %s (%v), want requests for gpt-x via p, 200", ev.Topic, ev.Data, err)
	}
	var listed []reqlog.Entry
	decode(t, h.mustAdmin(http.MethodGet, "/api/requests", nil, http.StatusOK), &listed)
	if len(listed) != 1 || listed[0].Model != "gpt-x" {
		t.Errorf("GET /api/requests after the event: %+v, want the request", listed)
	}
}

// ended reports whether resp's body ends (the server closed the stream)
// within d, reading and dropping what comes before.
func ended(resp *http.Response, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, resp.Body)
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// An open feed does not outlive the access it was opened with: revoking a
// browser's session or rotating the admin token ends the stream, and the
// next try is refused.
func TestEvents_StreamEndsWithItsCredentials(t *testing.T) {
	h, _ := newAuthHarness(t)
	self := "http://" + h.srv.Listener.Addr().String()
	open := func(req *http.Request) *http.Response {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		resp, err := h.client.Do(req.WithContext(ctx))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/events: %v %v", resp, err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	kept, revoked := h.signIn("Kept"), h.signIn("Revoked")
	keptStream := open(h.withCookie(kept, http.MethodGet, "/api/events", nil))
	revokedStream := open(h.withCookie(revoked, http.MethodGet, "/api/events", nil))
	var id string
	for _, s := range h.sessions(revoked) {
		if s.Current {
			id = s.ID
		}
	}
	h.mustAdmin(http.MethodDelete, "/api/sessions/"+id, nil, http.StatusNoContent)
	if !ended(revokedStream, 5*time.Second) {
		t.Fatal("a revoked session's stream stays open")
	}
	if ended(keptStream, 3*time.Second) {
		t.Fatal("another session's stream ended with it")
	}
	if resp, _ := h.do(h.withCookie(revoked, http.MethodGet, "/api/events", nil, "Origin", self)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("reopened with the revoked session: %d, want 401", resp.StatusCode)
	}

	tokenStream := open(h.request(http.MethodGet, "/api/events", nil, "Authorization", "Bearer "+adminToken))
	h.mustAdmin(http.MethodPost, "/api/admin-token/rotate", nil, http.StatusOK)
	if !ended(tokenStream, 5*time.Second) || !ended(keptStream, 5*time.Second) {
		t.Fatal("streams opened with the old token or a session stay open after a rotation")
	}
}
