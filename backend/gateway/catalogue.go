package gateway

import (
	"cmp"
	"slices"

	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/router"
)

// The model list (GET /v1/models) names what a client can ask for, each
// name once, owned by the backend that would answer it, in this order:
//
//   - the exact pattern of every enabled route (aliases included);
//   - the usable local models;
//   - for every enabled wildcard route, the models of its backend that
//     match it: the provider's own list (fetched in the background by a
//     providers.Catalog), or the local models.
//
// A name is listed only when the route that would actually take it (the
// router's resolution) offers it: that route is exact, or its backend has
// a model of that name, or no route takes it and a local model does. A
// hidden route takes its names out of the list; it still routes them.

// listed is one model of the list.
type listed struct {
	id      string
	owner   string // the backend that answers it
	served  string // the model name the backend is sent
	name    string // display name
	created int64  // Unix seconds
	facts   providers.ModelInfo
}

// description says where a model goes: "openai", or "openai as
// gpt-4o-mini" for an alias.
func (m listed) description() string {
	if m.served != m.id {
		return m.owner + " as " + m.served
	}
	return m.owner
}

// offers holds what each backend is known to serve: the local models and
// the last good list of each provider that listed routes send to.
type offers struct {
	local     map[string]localModel
	localIDs  []string                                  // the local models' ids, in the engine's order
	providers map[string]map[string]providers.ModelInfo // by model key (providers.Client.ModelKey)
	order     map[string][]string                       // each provider's model ids in its own order
	keys      map[string]func(string) string            // each listed provider's model key
}

// key is the name under which backend's list is searched for model: for
// Ollama "llama3.2" is "llama3.2:latest".
func (o offers) key(backend, model string) string {
	if k := o.keys[backend]; k != nil {
		return k(model)
	}
	return model
}

// WarmModelList starts fetching the provider model lists that /v1/models
// will need, so that an editor's first look at the list finds them, and
// those that give the routes' context windows (warmWindows). It returns at
// once; the application calls it when it starts serving.
func (s *Server) WarmModelList() {
	s.offers(s.cfg.Table().Routes())
	s.warmWindows()
}

// catalogue builds the model list, and returns what the backends offer
// with it. It never waits for a provider: a list not fetched yet is asked
// for and left out until it comes.
func (s *Server) catalogue() ([]listed, offers) {
	table := s.cfg.Table()
	routes := table.Routes()
	o := s.offers(routes)
	var out []listed
	seen := map[string]bool{}
	add := func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		plan := table.Resolve(name)
		if o.listable(plan) {
			out = append(out, s.entry(plan, o))
		}
	}
	for _, r := range routes {
		if r.Enabled && !r.Hidden && isExact(r.ModelPattern) {
			add(r.ModelPattern)
		}
	}
	for _, id := range o.names(router.Local) {
		add(id)
	}
	for _, r := range routes {
		if !r.Enabled || r.Hidden || isExact(r.ModelPattern) {
			continue
		}
		p, err := router.CompilePattern(r.ModelPattern)
		if err != nil {
			continue
		}
		for _, id := range o.names(r.Backend) {
			if p.Match(id) {
				add(id)
			}
		}
	}
	return out, o
}

// listable reports whether the name a plan resolves is listed: the route
// that takes it is listed and offers it, or no route takes it and a local
// model does.
func (o offers) listable(plan router.Plan) bool {
	switch r := plan.Route; {
	case r == nil:
		return o.local[plan.Model].Usable
	case r.Hidden:
		return false
	case !isExact(r.ModelPattern):
		return o.has(r.Backend, plan.Model)
	}
	return true
}

// entry describes the model a plan resolves, with what is known of the
// model its first backend is sent.
func (s *Server) entry(plan router.Plan, o offers) listed {
	t := plan.Targets[0]
	m := listed{id: plan.Model, owner: t.Backend, served: t.Model, name: plan.Model, created: s.started.Unix()}
	m.facts, _ = o.lookup(t.Backend, t.Model)
	if plan.Route != nil && !isExact(plan.Route.ModelPattern) && t.Backend != router.Local && t.Model == plan.Model {
		// A provider's own model: its own name and date, when it gives them.
		m.name = cmp.Or(m.facts.DisplayName, m.name)
		if m.facts.Created > 0 {
			m.created = m.facts.Created
		}
	}
	return m
}

// offers gathers the local models and the provider lists that the routes
// need. Asking the catalog never blocks.
func (s *Server) offers(routes []router.Route) offers {
	o := offers{local: map[string]localModel{}, providers: map[string]map[string]providers.ModelInfo{}, order: map[string][]string{},
		keys: map[string]func(string) string{}}
	for _, m := range s.localModels() {
		o.local[m.ID] = m
		o.localIDs = append(o.localIDs, m.ID)
	}
	for _, name := range listedBackends(routes) {
		list, ok := s.catalog.Models(name)
		if !ok {
			continue
		}
		if cl, ok := s.cfg.Clients().Get(name); ok {
			o.keys[name] = cl.ModelKey
		}
		byID := make(map[string]providers.ModelInfo, len(list))
		ids := make([]string, 0, len(list))
		for _, m := range list {
			k := o.key(name, m.ID)
			if _, dup := byID[k]; !dup {
				ids = append(ids, m.ID)
			}
			byID[k] = m
		}
		o.providers[name], o.order[name] = byID, ids
	}
	return o
}

// listedBackends names the providers that enabled, listed routes send to:
// the lists the model list may need.
func listedBackends(routes []router.Route) []string {
	var out []string
	for _, r := range routes {
		if r.Enabled && !r.Hidden && r.Backend != router.Local && !slices.Contains(out, r.Backend) {
			out = append(out, r.Backend)
		}
	}
	return out
}

// names lists the models a backend offers, in its own order.
func (o offers) names(backend string) []string {
	if backend == router.Local {
		var ids []string
		for _, id := range o.localIDs {
			if o.local[id].Usable {
				ids = append(ids, id)
			}
		}
		return ids
	}
	return o.order[backend]
}

func (o offers) has(backend, model string) bool {
	if backend == router.Local {
		return o.local[model].Usable
	}
	_, ok := o.providers[backend][o.key(backend, model)]
	return ok
}

// lookup returns what is known of a backend's model: a provider's list
// entry, or a local model's context length and tool use (local models
// take no images).
func (o offers) lookup(backend, model string) (providers.ModelInfo, bool) {
	if backend != router.Local {
		m, ok := o.providers[backend][o.key(backend, model)]
		return m, ok
	}
	lm, ok := o.local[model]
	if !ok {
		return providers.ModelInfo{}, false
	}
	tools, vision := lm.ToolUse, false
	return providers.ModelInfo{ID: lm.ID, ContextLength: lm.ContextLength, ToolUse: &tools, Vision: &vision}, true
}

func isExact(pattern string) bool {
	p, err := router.CompilePattern(pattern)
	return err == nil && p.IsExact()
}
