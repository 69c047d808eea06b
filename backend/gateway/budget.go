package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/modelbar/modelbar/backend/budget"
	"github.com/modelbar/modelbar/backend/router"
)

// admitBudget counts a request against its route's budget, or returns the
// 429 that refuses it: the client's own rate-limit error with Retry-After.
func (s *Server) admitBudget(rt *router.Route) error {
	// A route without limits is counted too: the routes list shows its use.
	ex := s.budget.Admit(rt.ID, budget.Limits{RequestsPerMinute: rt.MaxRequestsPerMinute, TokensPerDay: rt.MaxTokensPerDay})
	if ex == nil {
		return nil
	}
	return budgetError(rt, ex)
}

func budgetError(rt *router.Route, ex *budget.Exceeded) *apiError {
	secs := budget.RetryAfterSeconds(ex.RetryAfter)
	what := fmt.Sprintf("%d requests per minute", ex.Max)
	if ex.Max == 1 {
		what = "1 request per minute"
	}
	if ex.Limit == "max_tokens_per_day" {
		what = fmt.Sprintf("%d tokens per day (%d used since midnight)", ex.Max, ex.Used)
	}
	return &apiError{
		Status: http.StatusTooManyRequests, Type: "rate_limit_error", Code: "route_budget_exceeded", Param: ex.Limit,
		Message: fmt.Sprintf("route %d (%s) is over its budget of %s (%s); retry in %ds",
			rt.ID, quoteName(rt.ModelPattern), what, ex.Limit, secs),
		Header: http.Header{"Retry-After": {strconv.FormatInt(secs, 10)}},
	}
}

// seedBudget gives each route the tokens the request log holds for it
// since local midnight, so a restart does not reset a daily budget. The
// log records a route by its pattern: tokens a route spent under another
// pattern earlier today are not found. Requests per minute start afresh.
func (s *Server) seedBudget() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	byPattern, err := s.requests.RouteTokens(ctx, budget.DayStart(time.Now()))
	if err != nil {
		s.log.Warn("cannot read today's tokens per route from the request log; daily budgets start from zero", "err", err)
		return
	}
	for _, rt := range s.cfg.Routes() {
		s.budget.AddTokens(rt.ID, byPattern[rt.ModelPattern])
	}
}

// routeWithUsage is a route as GET /api/routes shows it: with its current
// use of its budget.
type routeWithUsage struct {
	router.Route
	Usage budget.Usage `json:"usage"`
}

func (s *Server) routesWithUsage(routes []router.Route) []routeWithUsage {
	out := make([]routeWithUsage, len(routes))
	for i, rt := range routes {
		out[i] = routeWithUsage{Route: rt, Usage: s.budget.Usage(rt.ID)}
	}
	return out
}
