package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/modelbar/modelbar/backend/protocol"
	"github.com/modelbar/modelbar/backend/reqlog"
)

// listRequests serves GET /api/requests: up to ?limit= (1..1000, default
// 100) entries with ids above ?after=, newest first, narrowed by
// ?errors=1 (failed requests), ?failovers=1 (answered after a failover)
// and ?backend=NAME (answered by or failed over from it).
func (s *Server) listRequests(w http.ResponseWriter, r *http.Request) {
	q, err := requestQuery(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	entries, err := s.requests.Query(r.Context(), q)
	if err != nil {
		s.fail(w, r, fmt.Errorf("read the request log: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, entries)
}

// requestQuery reads the request-log query of a URL. limit and after keep
// their old leniency (a bad value is the default); a filter that cannot
// be read is the client's error.
func requestQuery(r *http.Request) (reqlog.Query, error) {
	v := r.URL.Query()
	q := reqlog.Query{Limit: 100, Backend: v.Get("backend")}
	if n, err := strconv.Atoi(v.Get("limit")); err == nil && n > 0 && n <= 1000 {
		q.Limit = n
	}
	q.AfterID, _ = strconv.ParseInt(v.Get("after"), 10, 64)
	for _, f := range []struct {
		name string
		to   *bool
	}{{"errors", &q.Errors}, {"failovers", &q.Failovers}} {
		if s := v.Get(f.name); s != "" {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return q, &protocol.RequestError{Param: f.name, Message: "must be 1 or 0 (true or false)"}
			}
			*f.to = b
		}
	}
	if len(q.Backend) > 200 {
		return q, &protocol.RequestError{Param: "backend", Message: "is longer than a backend name can be"}
	}
	return q, nil
}

// getRequest serves GET /api/requests/{id}: one entry, with its failover
// chain.
func (s *Server) getRequest(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.fail(w, r, &protocol.RequestError{Param: "id", Message: "must be a request id (a positive number)"})
		return
	}
	e, err := s.requests.Get(r.Context(), id)
	switch {
	case errors.Is(err, reqlog.ErrNotFound):
		s.fail(w, r, &apiError{Status: http.StatusNotFound, Type: "not_found_error", Code: "not_found",
			Message: fmt.Sprintf("request %d is not in the request log (never logged, or pruned)", id)})
	case err != nil:
		s.fail(w, r, fmt.Errorf("read the request log: %w", err))
	default:
		writeJSON(w, http.StatusOK, e)
	}
}

// requestTotals serves GET /api/requests/totals: per backend, the
// requests, errors, cancellations, failovers, tokens and median latencies
// of the last hour and of the last day.
func (s *Server) requestTotals(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	out := map[string]any{"time": now.UTC().Format(time.RFC3339)}
	for _, p := range []struct {
		name string
		d    time.Duration
	}{{"hour", time.Hour}, {"day", 24 * time.Hour}} {
		ts, err := s.requests.Totals(r.Context(), now.Add(-p.d))
		if err != nil {
			s.fail(w, r, fmt.Errorf("read the request log: %w", err))
			return
		}
		out[p.name] = ts
	}
	writeJSON(w, http.StatusOK, out)
}
