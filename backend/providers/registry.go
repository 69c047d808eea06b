package providers

import "sync"

// Registry keeps one Client per provider, the way the seed design cached one
// client per cloud backend. Safe for concurrent use.
type Registry struct {
	mu      sync.RWMutex
	clients map[string]*Client // guarded by mu; replaced wholesale by Sync
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{clients: map[string]*Client{}} }

// Sync makes the registry hold exactly the given providers: an unchanged
// provider keeps its client (and its warm connections), a changed one gets a
// new client, a removed one is closed.
func (r *Registry) Sync(cfgs []Config) {
	next := make(map[string]*Client, len(cfgs))
	r.mu.Lock()
	old := r.clients
	for _, cfg := range cfgs {
		if c, ok := old[cfg.Name]; ok && c.cfg.equal(cfg) {
			next[cfg.Name] = c
			continue
		}
		next[cfg.Name] = NewClient(cfg)
	}
	r.clients = next
	r.mu.Unlock()
	for name, c := range old {
		if next[name] != c {
			c.Close()
		}
	}
}

// Get returns the provider's client.
func (r *Registry) Get(name string) (*Client, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.clients[name]
	return c, ok
}

// Close closes every client and empties the registry.
func (r *Registry) Close() {
	r.mu.Lock()
	old := r.clients
	r.clients = map[string]*Client{}
	r.mu.Unlock()
	for _, c := range old {
		c.Close()
	}
}

// Clients returns the registry's clients, in no particular order: a
// snapshot, which a later Sync does not change.
func (r *Registry) Clients() []*Client {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Client, 0, len(r.clients))
	for _, c := range r.clients {
		out = append(out, c)
	}
	return out
}
