package config

import (
	"context"
	"encoding/json"
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

func (in RouteInput) applyTo(r *router.Route) {
	set(&r.ModelPattern, in.ModelPattern)
	set(&r.Backend, in.Backend)
	set(&r.BackendModel, in.BackendModel)
	set(&r.Priority, in.Priority)
	set(&r.Enabled, in.Enabled)
	set(&r.Hidden, in.Hidden)
	set(&r.API, in.API)
	in.MaxRequestsPerMinute.apply(&r.MaxRequestsPerMinute)
	in.MaxTokensPerDay.apply(&r.MaxTokensPerDay)
	if in.Fallbacks != nil {
		r.Fallbacks = slices.Clone(*in.Fallbacks)
	}
	if r.Fallbacks == nil {
		r.Fallbacks = []string{}
	}
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
	in.applyTo(&r)
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
	in.applyTo(&r)
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

// Resolution answers "which route does this model hit".
type Resolution struct {
	Model        string          `json:"model"`
	Route        *router.Route   `json:"route"`
	Backend      string          `json:"backend"`
	BackendModel string          `json:"backend_model"`
	Fallbacks    []string        `json:"fallbacks"` // backend names after the first, in order
	Chain        []router.Target `json:"chain"`     // every backend with the model it is sent, primary first
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
		Fallbacks: []string{},
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
	return router.Route{
		ID: r.ID, ModelPattern: r.ModelPattern, Backend: r.Backend, BackendModel: r.BackendModel,
		Fallbacks: fb, Priority: r.Priority, Enabled: r.Enabled, Hidden: r.Hidden, API: r.API,
		MaxRequestsPerMinute: r.MaxRequestsPerMinute, MaxTokensPerDay: r.MaxTokensPerDay,
	}
}

func toStoreRoute(r router.Route) store.Route {
	return store.Route{
		ID: r.ID, ModelPattern: r.ModelPattern, Backend: r.Backend, BackendModel: r.BackendModel,
		Fallbacks: r.Fallbacks, Priority: r.Priority, Enabled: r.Enabled, Hidden: r.Hidden, API: r.API,
		MaxRequestsPerMinute: r.MaxRequestsPerMinute, MaxTokensPerDay: r.MaxTokensPerDay,
	}
}
