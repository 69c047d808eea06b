package gateway

import (
	"errors"
	"strings"
	"time"

	"github.com/modelbar/modelbar/backend/events"
	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/router"
)

// headerClientRequest is the id a client (the chat) gives its request so
// that it can follow the request's attempts on GET /api/events (topic
// attempts) while it waits. Like every X-Modelbar-* request header it is
// never relayed to a provider.
const headerClientRequest = "X-Modelbar-Client-Request"

// What the walk does after a failed attempt.
const (
	actionRetry    = "retry"    // the same backend again, after delay_ms
	actionFailover = "failover" // the next backend of the chain
	actionGiveUp   = "give_up"  // none left: the client hears the failure
)

// attemptEvent is the payload of an attempts event: one backend failed
// before the first byte, and what comes next. It carries no prompt and no
// provider's own words.
type attemptEvent struct {
	ClientRequestID string `json:"client_request_id"` // X-Modelbar-Client-Request, "" if none
	Backend         string `json:"backend"`
	Model           string `json:"model"`  // as sent to the backend
	Status          int    `json:"status"` // the backend's HTTP status; 0: it gave none
	Reason          string `json:"reason"`
	Action          string `json:"action"`
	Next            string `json:"next"` // the backend tried next; "" for give_up
	DelayMS         int64  `json:"delay_ms"`
}

// announce publishes what the walk does after t failed with err, so a
// client waiting for its answer can say "retrying acme (429)…".
func (wk *walk) announce(t router.Target, err error, action, next string, delay time.Duration) {
	status, reason := attemptReason(err)
	wk.s.events.Publish(events.Attempts, attemptEvent{
		ClientRequestID: clientRequestID(wk.r.Header.Get(headerClientRequest)),
		Backend:         t.Backend, Model: truncate(t.Model, 256), Status: status, Reason: reason,
		Action: action, Next: next, DelayMS: delay.Milliseconds(),
	})
}

// attemptReason is a failure's HTTP status (0 when the backend gave
// none: a timeout, a refused connection, a cooldown) and its reason in the
// request log's words (stepFailure: modelbar's own, never the provider's
// message, which may quote the prompt).
func attemptReason(err error) (int, string) {
	_, reason := stepFailure(err)
	var pe *providers.Error
	if errors.As(err, &pe) && pe.Kind == providers.KindStatus {
		return pe.Status, reason
	}
	return 0, reason
}

// clientRequestID keeps an id a client may use to find its events: at most
// 64 characters of [A-Za-z0-9._:-]; anything else makes it "".
func clientRequestID(id string) string {
	if len(id) > 64 || strings.IndexFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:-", r))
	}) >= 0 {
		return ""
	}
	return id
}
