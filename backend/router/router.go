// Package router decides where a request for a model name goes: it holds the
// routes in evaluation order and turns a model name into a plan — the matched
// route, the backend to try first, the model name to send it and the fallback
// chain. It is pure: no I/O, no HTTP, no storage.
package router

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
)

// Local is the backend name of the in-process engine. Provider names can never
// take it.
const Local = "local"

// Route sends the models that match ModelPattern to Backend.
type Route struct {
	ID           int64    `json:"id"`
	ModelPattern string   `json:"model_pattern"`
	Backend      string   `json:"backend"`
	BackendModel string   `json:"backend_model"`
	Fallbacks    []string `json:"fallbacks"`
	Priority     int      `json:"priority"`
	Enabled      bool     `json:"enabled"`
	// Hidden leaves the route out of the model list (GET /v1/models): it
	// still routes, but neither its exact name nor the provider models its
	// wildcard takes are listed.
	Hidden bool `json:"hidden"`
	// API "responses" says the route's backend model speaks only the
	// Responses API, as a provider's api setting does for all its models;
	// "" leaves it to the provider. It applies to the route's own backend
	// (an OpenAI-API provider), not to its fallbacks.
	API string `json:"api"`
	// MaxRequestsPerMinute and MaxTokensPerDay are the route's budget
	// (nil: no limit); the gateway enforces them.
	MaxRequestsPerMinute *int64 `json:"max_requests_per_minute"`
	MaxTokensPerDay      *int64 `json:"max_tokens_per_day"`
	// Targets is the route's group: the backends that share its traffic
	// as Policy says, before the fallback chain. A single backend is a
	// group of one; Targets[0] is always Backend and BackendModel.
	Targets []Member `json:"targets"`
	// Policy picks the group member a request goes to first: PolicyFirst
	// (""), PolicyWeighted or PolicyLeastBusy.
	Policy string `json:"policy"`
	// MaxContext is the context window, in tokens, of the route's provider
	// backends whose model list gives none; nil: unknown.
	MaxContext *int64 `json:"max_context"`
}

// Member is one backend of a route's group.
type Member struct {
	Backend string `json:"backend"`
	Model   string `json:"model"`  // "" sends the requested model name
	Weight  int    `json:"weight"` // its share under PolicyWeighted
}

// Group policies: which member a request goes to first. The others follow
// in the group's order, then the fallback chain.
const (
	PolicyFirst     = "first"      // the first healthy member, in order
	PolicyWeighted  = "weighted"   // smooth weighted round-robin by Weight
	PolicyLeastBusy = "least-busy" // fewest requests in flight, ties by recent latency
)

// Target is one step of a plan: a backend and the model name it is sent.
type Target struct {
	Backend string `json:"backend"`
	Model   string `json:"model"`
	// API is the route's API setting, for its own backend; "" otherwise.
	API string `json:"api,omitempty"`
	// Weight is a group member's weight; 0 for a fallback.
	Weight int `json:"weight,omitempty"`
}

// Plan is the outcome of resolving a model name. Targets is never empty:
// Targets[0] is the primary backend, the rest the fallback chain in order.
type Plan struct {
	Model   string   // the name the client asked for
	Route   *Route   // the matched route, nil when none matched
	Targets []Target // primary first
	// Group is how many of Targets, from the first, are the route's group
	// (1 for a single backend); the rest are the fallback chain.
	Group int
	// Policy is the group's policy (PolicyFirst when no route matched).
	Policy string
}

// Table is an immutable, ordered set of routes. Build a new one on every
// change and publish it; a *Table is safe for concurrent use.
type Table struct {
	routes []compiled
}

type compiled struct {
	route   Route
	pattern Pattern
}

// NewTable compiles the routes and orders them as they are evaluated. It fails
// on a pattern that does not compile; routes are expected to be validated
// before they are stored.
func NewTable(routes []Route) (*Table, error) {
	t := &Table{routes: make([]compiled, 0, len(routes))}
	for _, r := range routes {
		p, err := CompilePattern(r.ModelPattern)
		if err != nil {
			return nil, fmt.Errorf("route %d: model_pattern: %w", r.ID, err)
		}
		r.Fallbacks = slices.Clone(r.Fallbacks)
		r.Targets = slices.Clone(r.Targets)
		t.routes = append(t.routes, compiled{route: r, pattern: p})
	}
	slices.SortStableFunc(t.routes, evaluationOrder)
	return t, nil
}

// evaluationOrder: higher priority first; at equal priority an exact pattern
// before a wildcard; then the older (lower id) route.
func evaluationOrder(a, b compiled) int {
	if c := cmp.Compare(b.route.Priority, a.route.Priority); c != 0 {
		return c
	}
	if a.pattern.IsExact() != b.pattern.IsExact() {
		if a.pattern.IsExact() {
			return -1
		}
		return 1
	}
	return cmp.Compare(a.route.ID, b.route.ID)
}

// Routes returns copies of all routes, disabled ones included, in evaluation
// order.
func (t *Table) Routes() []Route {
	out := make([]Route, len(t.routes))
	for i, c := range t.routes {
		out[i] = c.route
		out[i].Fallbacks = slices.Clone(c.route.Fallbacks)
		out[i].Targets = slices.Clone(c.route.Targets)
	}
	return out
}

// Resolve returns the plan for a model name: the first enabled route whose
// pattern matches, or the local engine when none does.
func (t *Table) Resolve(model string) Plan {
	p, _ := t.ResolveContext(context.Background(), model)
	return p
}

// ResolveContext is Resolve that gives up, with ctx's error, once ctx ends
// (the client left): matching is checked between routes, so a long table
// stops soon.
func (t *Table) ResolveContext(ctx context.Context, model string) (Plan, error) {
	for i, c := range t.routes {
		if i%64 == 63 && ctx.Err() != nil {
			return Plan{}, ctx.Err()
		}
		if c.route.Enabled && c.pattern.Match(model) {
			r := c.route
			r.Fallbacks = slices.Clone(r.Fallbacks)
			r.Targets = slices.Clone(r.Targets)
			ts, group := targets(r, model)
			return Plan{Model: model, Route: &r, Targets: ts, Group: group, Policy: cmp.Or(r.Policy, PolicyFirst)}, nil
		}
	}
	return Plan{Model: model, Targets: []Target{{Backend: Local, Model: model, Weight: 1}}, Group: 1, Policy: PolicyFirst}, nil
}

// targets is a route's plan for model: its group in route order (a route
// stored before groups is a group of its backend), then its fallbacks. A
// member or fallback without a model is sent the first member's model
// name, which is the requested one unless the route renames it. The
// route's API setting applies to every member of its group, never to its
// fallbacks.
func targets(r Route, model string) (out []Target, group int) {
	members := r.Targets
	if len(members) == 0 {
		members = []Member{{Backend: r.Backend, Model: r.BackendModel, Weight: 1}}
	}
	out = make([]Target, 0, len(members)+len(r.Fallbacks))
	for _, m := range members {
		sent := cmp.Or(m.Model, model)
		out = append(out, Target{Backend: m.Backend, Model: sent, API: r.API, Weight: max(m.Weight, 1)})
	}
	sent := out[0].Model
	for _, f := range r.Fallbacks {
		backend, fbModel := SplitFallback(f)
		if fbModel == "" {
			fbModel = sent
		}
		out = append(out, Target{Backend: backend, Model: fbModel})
	}
	return out, len(members)
}

// SplitFallback splits a fallback entry "backend" or "backend:model". The
// model part lets a chain change vendors (`anthropic:claude-sonnet-4-5` behind
// an OpenAI route); without it the fallback gets the route's model name.
func SplitFallback(entry string) (backend, model string) {
	backend, model, _ = strings.Cut(entry, ":")
	return backend, model
}
