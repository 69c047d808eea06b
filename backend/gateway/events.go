package gateway

import (
	"encoding/json"
	"fmt"
	"github.com/modelbar/modelbar/backend/protocol"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/modelbar/modelbar/backend/config"
	"github.com/modelbar/modelbar/backend/engine"
	"github.com/modelbar/modelbar/backend/events"
	"github.com/modelbar/modelbar/backend/reqlog"
)

// eventsHeartbeat is how often an idle event stream gets a comment line,
// so proxies and the browser keep it open and a dead client is noticed.
const eventsHeartbeat = 15 * time.Second

// eventsRecheck is how often an open event stream checks that the
// credentials it was opened with still hold: a session revoked, signed out
// or expired, or an admin token rotated, ends the stream, and the client's
// next try hears 401 — the feed must not outlive the access it needs.
const eventsRecheck = 2 * time.Second

// Events is the server's change feed (Options.Events, or its own).
func (s *Server) Events() *events.Hub { return s.events }

// EndStreams ends every open GET /api/events stream, now and from now on.
// Call it when shutdown begins (http.Server.RegisterOnShutdown): a stream
// never finishes on its own, and a graceful shutdown would wait for it
// until its deadline. A browser reconnects to the next server.
func (s *Server) EndStreams() {
	s.endStreamsOnce.Do(func() { close(s.endStreams) })
}

// watchConfig publishes the configuration service's changes.
func (s *Server) watchConfig() {
	s.cfg.OnChange(func() {
		s.events.Publish(events.Routes, nil)
		s.events.Publish(events.Providers, nil)
	})
	s.cfg.OnSettings(func(_ config.Settings) { s.events.Publish(events.Settings, nil) })
}

// stillAllowed returns a check of the credentials r was let in with (see
// authenticate): the admin token, a browser session, or an in-process call.
// A session's check counts as its use, as the polls it replaces did.
func (s *Server) stillAllowed(r *http.Request) func() bool {
	if r.Context().Value(adminCallKey{}) != nil {
		return func() bool { return true }
	}
	if tok := bearerToken(r.Header); s.auth.CheckToken(tok) {
		return func() bool { return s.auth.CheckToken(tok) }
	}
	c, err := r.Cookie(s.cookieName)
	if err != nil {
		return func() bool { return false }
	}
	return func() bool {
		_, err := s.auth.Check(c.Value)
		return err == nil
	}
}

// watchCooldowns publishes every change of the breakers (a failure
// counted, a cooldown begun or ended — by a success, by hand or by time)
// with the list GET /api/cooldowns would answer.
func (s *Server) watchCooldowns() {
	s.breakers.OnChange(func() { s.events.Publish(events.Cooldowns, s.breakers.Status()) })
}

// modelWatcher is a Local that tells of changes of its models (the engine
// does; a test's fake need not).
type modelWatcher interface {
	OnChange(func(engine.Change))
}

var _ modelWatcher = (*engine.Engine)(nil)

// watchLocal publishes the local models' changes — found, removed,
// loading, loaded, unloaded, evicted, pinned — as {"model","change"},
// whoever made them (the API, the tray, a request, the idle timer).
func (s *Server) watchLocal() {
	if w, ok := s.opts.Local.(modelWatcher); ok {
		w.OnChange(func(c engine.Change) { s.events.Publish(events.Models, c) })
	}
}

// publishRequest publishes a request just logged, its entry as the data
// (without its id, which the log assigns when it writes). Call it after
// reqlog.Log.Add: GET /api/requests writes what was added before it
// reads, so a view that refreshes on the event finds the entry.
func (s *Server) publishRequest(e reqlog.Entry) { s.events.Publish(events.Requests, e) }

// wantedTopics parses ?topics=a,b: the set asked for (empty: all), or a
// 400 naming an unknown topic and the known ones — a misspelt topic would
// otherwise give a stream that never says anything.
func wantedTopics(list string) (map[events.Topic]bool, error) {
	want := map[events.Topic]bool{}
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if !slices.Contains(events.Topics, events.Topic(t)) {
			known := make([]string, len(events.Topics))
			for i, k := range events.Topics {
				known[i] = string(k)
			}
			return nil, &protocol.RequestError{Param: "topics", Message: fmt.Sprintf("unknown topic %q: the topics are %s", truncate(t, 64), strings.Join(known, ", "))}
		}
		want[events.Topic(t)] = true
	}
	return want, nil
}

// streamEvents serves GET /api/events: the change feed as server-sent
// events (`event: <topic>`, `id: <seq>`, `data: <event JSON>`), starting
// with a "hello" event, until the client leaves or the server shuts down.
// ?topics=routes,models limits it to those topics (resync always comes).
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) {
	want, err := wantedTopics(r.URL.Query().Get("topics"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ch := s.events.Subscribe(r.Context())
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(ev events.Event) error {
		b, _ := json.Marshal(ev)
		if _, err := fmt.Fprintf(w, "event: %s\nid: %d\ndata: %s\n\n", ev.Topic, ev.Seq, b); err != nil {
			return err
		}
		return rc.Flush()
	}
	if send(events.Event{Topic: "hello", Time: time.Now().UTC()}) != nil {
		return
	}
	beat := time.NewTicker(eventsHeartbeat)
	defer beat.Stop()
	allowed := s.stillAllowed(r)
	recheck := time.NewTicker(eventsRecheck)
	defer recheck.Stop()
	for {
		select {
		case <-recheck.C:
			if !allowed() {
				return
			}
		case <-s.endStreams:
			return
		case ev, ok := <-ch:
			if !ok {
				return
			}
			if len(want) > 0 && !want[ev.Topic] && ev.Topic != events.Resync {
				continue
			}
			if send(ev) != nil {
				return
			}
		case <-beat.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}
