package config

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/modelbar/modelbar/backend/router"
	"github.com/modelbar/modelbar/backend/store"
)

// RouteInput is a route create or update request. A nil field keeps the
// current value, or takes the default on create (priority 0, enabled,
// listed, no alias, no fallbacks).
type RouteInput struct {
	ModelPattern *string   `json:"model_pattern"`
	Backend      *string   `json:"backend"`
	BackendModel *string   `json:"backend_model"`
	Fallbacks    *[]string `json:"fallbacks"`
	Priority     *int      `json:"priority"`
	Enabled      *bool     `json:"enabled"`
	Hidden       *bool     `json:"hidden"`
	API          *string   `json:"api"`
	// The budget: a number sets it, null (or absent on create) is no
	// limit, absent on update keeps it.
	MaxRequestsPerMinute optional[int64] `json:"max_requests_per_minute"`
	MaxTokensPerDay      optional[int64] `json:"max_tokens_per_day"`
	// Targets replaces the route's group (null or absent keeps it; absent
	// on create: the group of backend). Without it, backend and
	// backend_model change the first member only, so a client that knows
	// nothing of groups keeps working.
	Targets *[]router.Member `json:"targets"`
	// Policy: "" or absent on create is "first"; absent on update keeps it.
	Policy *string `json:"policy"`
	// MaxContext: a number sets it, null (or absent on create) is unknown,
	// absent on update keeps it.
	MaxContext optional[int64] `json:"max_context"`
}

// optional is a JSON field that tells absent (Set false) from null (Set
// true, Value nil).
type optional[T any] struct {
	Set   bool
	Value *T
}

func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Value = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	o.Value = &v
	return nil
}

func (o optional[T]) apply(dst **T) {
	if o.Set {
		*dst = o.Value
	}
}

// applyTo applies the input to r and normalizes it (router.Normalize).
// It refuses targets that are empty, or that disagree with a backend or
// backend_model sent with them.
func (in RouteInput) applyTo(r *router.Route) error {
	set(&r.ModelPattern, in.ModelPattern)
	set(&r.Priority, in.Priority)
	set(&r.Enabled, in.Enabled)
	set(&r.Hidden, in.Hidden)
	set(&r.API, in.API)
	set(&r.Policy, in.Policy)
	in.MaxRequestsPerMinute.apply(&r.MaxRequestsPerMinute)
	in.MaxTokensPerDay.apply(&r.MaxTokensPerDay)
	in.MaxContext.apply(&r.MaxContext)
	if in.Fallbacks != nil {
		r.Fallbacks = slices.Clone(*in.Fallbacks)
	}
	if err := in.applyGroup(r); err != nil {
		return err
	}
	router.Normalize(r)
	return nil
}

// applyGroup sets the route's group: targets replace it; backend and
// backend_model alone change its first member, keeping its weight.
func (in RouteInput) applyGroup(r *router.Route) error {
	if in.Targets == nil {
		set(&r.Backend, in.Backend)
		set(&r.BackendModel, in.BackendModel)
		if len(r.Targets) > 0 {
			r.Targets = slices.Clone(r.Targets)
			r.Targets[0].Backend, r.Targets[0].Model = r.Backend, r.BackendModel
		}
		return nil
	}
	ts := *in.Targets
	if len(ts) == 0 {
		return &router.FieldError{Field: "targets", Message: fmt.Sprintf("is empty; a route's group has 1 to %d members (or leave targets out for a group of backend)", router.MaxGroupMembers)}
	}
	if in.Backend != nil && *in.Backend != ts[0].Backend {
		return &router.FieldError{Field: "backend", Message: fmt.Sprintf("is %q but targets[0].backend is %q: backend is always the group's first member; send one of them, or both alike", *in.Backend, ts[0].Backend)}
	}
	if in.BackendModel != nil && *in.BackendModel != ts[0].Model {
		return &router.FieldError{Field: "backend", Message: fmt.Sprintf("backend_model is %q but targets[0].model is %q: they are always the group's first member; send one of them, or both alike", *in.BackendModel, ts[0].Model)}
	}
	r.Targets = slices.Clone(ts)
	r.Backend, r.BackendModel = ts[0].Backend, ts[0].Model
	return nil
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// Routes returns every route in evaluation order.
func (s *Service) Routes() []router.Route { return s.Table().Routes() }

// Route returns one route.
func (s *Service) Route(ctx context.Context, id int64) (router.Route, error) {
	r, err := s.store.GetRoute(ctx, id)
	if err != nil {
		return router.Route{}, notFound(err, "route %d", id)
	}
	return fromStoreRoute(r), nil
}

// CreateRoute validates and stores a new route; it routes the next request.
func (s *Service) CreateRoute(ctx context.Context, in RouteInput) (router.Route, error) {
	r := router.Route{Enabled: true}
	if err := in.applyTo(&r); err != nil {
		return router.Route{}, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	ctx, cancel := writeContext(ctx)
	defer cancel()
	if err := s.validate(ctx, r); err != nil {
		return router.Route{}, err
	}
	saved, err := s.store.CreateRoute(ctx, toStoreRoute(r))
	if err != nil {
		return router.Route{}, err
	}
	return fromStoreRoute(saved), s.publish(ctx)
}

// UpdateRoute applies in to route id.
func (s *Service) UpdateRoute(ctx context.Context, id int64, in RouteInput) (router.Route, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	ctx, cancel := writeContext(ctx)
	defer cancel()
	cur, err := s.store.GetRoute(ctx, id)
	if err != nil {
		return router.Route{}, notFound(err, "route %d", id)
	}
	r := fromStoreRoute(cur)
	if err := in.applyTo(&r); err != nil {
		return router.Route{}, err
	}
	if err := s.validate(ctx, r); err != nil {
		return router.Route{}, err
	}
	saved, err := s.store.UpdateRoute(ctx, toStoreRoute(r))
	if err != nil {
		return router.Route{}, notFound(err, "route %d", id)
	}
	return fromStoreRoute(saved), s.publish(ctx)
}

// DeleteRoute removes route id.
func (s *Service) DeleteRoute(ctx context.Context, id int64) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	ctx, cancel := writeContext(ctx)
	defer cancel()
	if err := s.store.DeleteRoute(ctx, id); err != nil {
		return notFound(err, "route %d", id)
	}
	return s.publish(ctx)
}

func (s *Service) validate(ctx context.Context, r router.Route) error {
	rows, err := s.store.ListProviders(ctx)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, p := range rows {
		known[p.Name] = true
	}
	return router.Validate(r, func(name string) bool { return known[name] })
}

// Resolution answers "which route does this model hit". Backend and
// BackendModel are the group's first member; a request of a weighted or
// least-busy group may start at another (Policy says how it is picked).
type Resolution struct {
	Model        string          `json:"model"`
	Route        *router.Route   `json:"route"`
	Backend      string          `json:"backend"`
	BackendModel string          `json:"backend_model"`
	Fallbacks    []string        `json:"fallbacks"` // backend names after the first, in order
	Chain        []router.Target `json:"chain"`     // every backend with the model it is sent, primary first
	// Group is the route's group, in route order: the first len(Group)
	// steps of Chain (one for a route of a single backend).
	Group  []router.Target `json:"group"`
	Policy string          `json:"policy"`
}

// Resolve explains where a request for model goes now.
func (s *Service) Resolve(model string) (Resolution, error) {
	if model == "" {
		return Resolution{}, &router.FieldError{Field: "model", Message: "is required"}
	}
	plan := s.Table().Resolve(model)
	res := Resolution{
		Model: model, Route: plan.Route, Chain: plan.Targets,
		Backend: plan.Targets[0].Backend, BackendModel: plan.Targets[0].Model,
		Fallbacks: []string{}, Group: plan.Targets[:plan.Group:plan.Group], Policy: plan.Policy,
	}
	for _, t := range plan.Targets[1:] {
		res.Fallbacks = append(res.Fallbacks, t.Backend)
	}
	return res, nil
}

func fromStoreRoute(r store.Route) router.Route {
	fb := r.Fallbacks
	if fb == nil {
		fb = []string{}
	}
	out := router.Route{
		ID: r.ID, ModelPattern: r.ModelPattern, Backend: r.Backend, BackendModel: r.BackendModel,
		Fallbacks: fb, Priority: r.Priority, Enabled: r.Enabled, Hidden: r.Hidden, API: r.API,
		MaxRequestsPerMinute: r.MaxRequestsPerMinute, MaxTokensPerDay: r.MaxTokensPerDay,
		Targets: make([]router.Member, len(r.Targets)), Policy: r.Policy, MaxContext: r.MaxContext,
	}
	for i, m := range r.Targets {
		out.Targets[i] = router.Member(m)
	}
	router.Normalize(&out) // a row the store read is already whole; this keeps the invariants if not
	return out
}

func toStoreRoute(r router.Route) store.Route {
	out := store.Route{
		ID: r.ID, ModelPattern: r.ModelPattern, Backend: r.Backend, BackendModel: r.BackendModel,
		Fallbacks: r.Fallbacks, Priority: r.Priority, Enabled: r.Enabled, Hidden: r.Hidden, API: r.API,
		MaxRequestsPerMinute: r.MaxRequestsPerMinute, MaxTokensPerDay: r.MaxTokensPerDay,
		Targets: make([]store.Member, len(r.Targets)), Policy: r.Policy, MaxContext: r.MaxContext,
	}
	for i, m := range r.Targets {
		out.Targets[i] = store.Member(m)
	}
	return out
}
