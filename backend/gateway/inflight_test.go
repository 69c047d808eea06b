package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/events"
)

// While a backend serves a request, /api/status counts it under in_flight,
// and the feed says when the backend starts and stops serving (the menu-bar
// menu's "Serving locally" follows it).
func TestInFlight_StatusCountsAndFeedEdges(t *testing.T) {
	h := newHarness(t)
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // a failing test must not leave the provider's handlers waiting
	up := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		okChat("done")(w, r)
	})
	h.putProvider("p", up.baseURL(), "")
	h.route("m", "p")
	inFlight := func() map[string]int {
		var st struct {
			InFlight map[string]int `json:"in_flight"`
		}
		if err := json.Unmarshal(h.mustAdmin(http.MethodGet, "/api/status", nil, http.StatusOK), &st); err != nil || st.InFlight == nil {
			t.Fatalf("/api/status in_flight: %v %v", st.InFlight, err)
		}
		return st.InFlight
	}
	if got := inFlight(); len(got) != 0 {
		t.Fatalf("idle: in_flight %v, want {}", got)
	}
	es := h.openEvents(t, "?topics=inflight")
	done := make(chan struct{})
	for range 2 {
		go func() {
			defer func() { done <- struct{}{} }()
			resp, err := h.client.Do(h.request(http.MethodPost, "/v1/chat/completions", []byte(chatBody)))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	edge := func(want int) {
		t.Helper()
		ev := es.next()
		var data struct {
			Backend  string `json:"backend"`
			InFlight int    `json:"in_flight"`
		}
		if err := json.Unmarshal(ev.Data, &data); err != nil || ev.Topic != events.InFlight || data.Backend != "p" || data.InFlight != want {
			t.Fatalf("event %s %s (%v), want inflight {backend p, in_flight %d}", ev.Topic, ev.Data, err, want)
		}
	}
	edge(1) // the first request: p starts serving; the second is no edge
	for deadline := time.Now().Add(5 * time.Second); inFlight()["p"] != 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("in_flight %v, want p: 2", inFlight())
		}
	}
	free()
	<-done
	<-done
	edge(0) // published once the last attempt is over (settle would wait for the event stream)
	if got := inFlight(); len(got) != 0 {
		t.Errorf("after both ended: in_flight %v, want {}", got)
	}
}
