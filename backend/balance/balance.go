// Package balance orders the members of a route's group for one request:
// smooth weighted round-robin (nginx's algorithm), least-busy (fewest
// requests in flight, ties by a moving average of the time to first byte,
// then group order) and conversation affinity (a bounded LRU of
// conversation key -> member, with an idle expiry). Health is the
// caller's: it passes which members may take a request now, and the
// healthy ones come first. It is pure — no HTTP, no I/O — and sits on
// every request's path, so ordering takes no allocation and holds a lock
// only for a few arithmetic steps.
package balance

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelbar/modelbar/backend/router"
)

// Member is one backend of a group, as the route configures it.
type Member = router.Member

// MaxMembers is the largest group Order handles: health is a bit mask.
const MaxMembers = 32

// Defaults of the affinity table: a route remembers this many
// conversations, each until it has been idle this long.
const (
	DefaultAffinityKeys = 10_000
	DefaultAffinityIdle = time.Hour
)

// Options configure a Balancer; the zero value takes the defaults and the
// wall clock.
type Options struct {
	AffinityKeys int              // per route; 0: DefaultAffinityKeys
	AffinityIdle time.Duration    // 0: DefaultAffinityIdle
	Now          func() time.Time // nil: time.Now
}

// Balancer holds the state of every route's group — its round-robin
// position and its affinity table — and the load of every member. Safe
// for concurrent use.
type Balancer struct {
	opts Options

	mu     sync.RWMutex // guards groups and loads
	groups map[int64]*Group
	loads  map[memberKey]*Load // by configured member: shared by the routes that name it
}

type memberKey struct{ backend, model string }

// New returns an empty Balancer.
func New(o Options) *Balancer {
	if o.AffinityKeys <= 0 {
		o.AffinityKeys = DefaultAffinityKeys
	}
	if o.AffinityIdle <= 0 {
		o.AffinityIdle = DefaultAffinityIdle
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Balancer{opts: o, groups: map[int64]*Group{}, loads: map[memberKey]*Load{}}
}

// Group returns the state of route id's group. A route whose policy or
// members changed since the last call gets fresh state (its affinity and
// round-robin position start over); the members' loads carry on.
func (b *Balancer) Group(id int64, policy string, members []Member) *Group {
	b.mu.RLock()
	g := b.groups[id]
	b.mu.RUnlock()
	if g != nil && g.is(policy, members) {
		return g
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if g = b.groups[id]; g != nil && g.is(policy, members) {
		return g // another request rebuilt it first
	}
	g = b.newGroup(policy, members)
	b.groups[id] = g
	return g
}

// Peek returns route id's group state as it is, or nil: for tests and
// status, never on a request's path.
func (b *Balancer) Peek(id int64) *Group {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.groups[id]
}

// Forget drops route id's state (the route is gone).
func (b *Balancer) Forget(id int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.groups, id)
}

// newGroup builds a group's state; called with mu held.
func (b *Balancer) newGroup(policy string, members []Member) *Group {
	members = slices.Clone(members[:min(len(members), MaxMembers)])
	g := &Group{policy: policy, members: members, current: make([]int, len(members)), load: make([]*Load, len(members))}
	for i, m := range members {
		k := memberKey{m.Backend, m.Model}
		l := b.loads[k]
		if l == nil {
			l = &Load{}
			b.loads[k] = l
		}
		g.load[i] = l
	}
	if policy == router.PolicyWeighted || policy == router.PolicyLeastBusy {
		g.aff = newAffinity(b.opts.AffinityKeys, b.opts.AffinityIdle, b.opts.Now)
	}
	return g
}

// Group is one route's group: its members, policy, round-robin state and
// affinity table. Safe for concurrent use.
type Group struct {
	policy  string
	members []Member
	load    []*Load   // per member
	aff     *affinity // nil under PolicyFirst: it needs none

	mu      sync.Mutex // guards current
	current []int      // smooth weighted round-robin: each member's current weight
}

func (g *Group) is(policy string, members []Member) bool {
	return g.policy == policy && slices.Equal(g.members, members[:min(len(members), MaxMembers)])
}

// Affinity reports whether the group keeps conversations on a member
// (weighted and least-busy do; first needs none): a caller without it
// need not compute a key.
func (g *Group) Affinity() bool { return g.aff != nil }

// Order appends to dst[:0] the indices of the members in the order a
// request tries them, and returns it. healthy has bit i set when member i
// may take a request now. The first is the member key is bound to, if it
// is healthy; else the policy's pick among the healthy ones. The other
// healthy members follow (least-busy: by load; else in group order), then
// the unhealthy ones in group order. A zero key has no binding.
func (g *Group) Order(dst []int, key Key, healthy uint32) []int {
	n := len(g.members)
	first := -1
	if g.aff != nil && key != (Key{}) {
		if i, ok := g.aff.get(key); ok && i < n && healthy&(1<<i) != 0 {
			first = i
		}
	}
	if first < 0 {
		switch g.policy {
		case router.PolicyWeighted:
			first = g.pickWeighted(healthy)
		case router.PolicyLeastBusy:
			first = g.pickLeastBusy(healthy)
		}
	}
	dst = dst[:0]
	if first >= 0 {
		dst = append(dst, first)
	}
	for i := range n {
		if i != first && healthy&(1<<i) != 0 {
			dst = append(dst, i)
		}
	}
	if g.policy == router.PolicyLeastBusy && len(dst) > 2 {
		g.sortByLoad(dst[1:])
	}
	for i := range n {
		if i != first && healthy&(1<<i) == 0 {
			dst = append(dst, i)
		}
	}
	return dst
}

// pickWeighted is nginx's smooth weighted round-robin over the healthy
// members: each gains its weight, the largest is picked and loses the
// total. Over any window a member's share is its weight's, and picks of
// one member are spread out rather than bunched. -1 when none is healthy.
func (g *Group) pickWeighted(healthy uint32) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	best, total := -1, 0
	for i, m := range g.members {
		if healthy&(1<<i) == 0 {
			continue
		}
		w := max(m.Weight, 1)
		g.current[i] += w
		total += w
		if best < 0 || g.current[i] > g.current[best] {
			best = i
		}
	}
	if best >= 0 {
		g.current[best] -= total
	}
	return best
}

// pickLeastBusy is the healthy member with the fewest requests in flight,
// ties by the lower time to first byte, then group order. -1 when none is
// healthy.
func (g *Group) pickLeastBusy(healthy uint32) int {
	best := -1
	var bestIn, bestLat int64
	for i := range g.members {
		if healthy&(1<<i) == 0 {
			continue
		}
		in, lat := g.load[i].inflight.Load(), g.load[i].ewma.Load()
		if best < 0 || in < bestIn || (in == bestIn && lat < bestLat) {
			best, bestIn, bestLat = i, in, lat
		}
	}
	return best
}

// sortByLoad orders members by in-flight, then latency, then index: an
// insertion sort, as a group is small.
func (g *Group) sortByLoad(idx []int) {
	less := func(a, b int) bool {
		ia, ib := g.load[a].inflight.Load(), g.load[b].inflight.Load()
		if ia != ib {
			return ia < ib
		}
		la, lb := g.load[a].ewma.Load(), g.load[b].ewma.Load()
		if la != lb {
			return la < lb
		}
		return a < b
	}
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && less(idx[j], idx[j-1]); j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
}

// Start counts a request in flight at member i; Finish ends it.
func (g *Group) Start(i int) { g.load[i].inflight.Add(1) }

// Finish ends a request at member i that Start counted. ttfb is the time
// its answer took to begin, which feeds the member's latency average; 0
// (the request failed before any answer) leaves the average alone.
func (g *Group) Finish(i int, ttfb time.Duration) {
	l := g.load[i]
	l.inflight.Add(-1)
	if ttfb > 0 {
		l.observe(int64(ttfb))
	}
}

// Bind keeps key's conversation on member i: the member that answered.
// A zero key is not kept.
func (g *Group) Bind(key Key, i int) {
	if g.aff != nil && key != (Key{}) && i >= 0 && i < len(g.members) {
		g.aff.put(key, i)
	}
}

// Bound returns the member key is bound to, if any (for tests and the
// route tester).
func (g *Group) Bound(key Key) (int, bool) {
	if g.aff == nil {
		return 0, false
	}
	return g.aff.get(key)
}

// Load is one member's load: requests in flight and a moving average of
// the time to first byte. Shared by every group that names the member.
type Load struct {
	inflight atomic.Int64
	ewma     atomic.Int64 // nanoseconds; 0 until the first answer
}

// InFlight is the requests the member serves now.
func (l *Load) InFlight() int64 { return l.inflight.Load() }

// Latency is the member's recent time to first byte (0: none seen yet).
func (l *Load) Latency() time.Duration { return time.Duration(l.ewma.Load()) }

// ewmaShift sets the weight of a new sample: 1/4, so a member that slows
// down is seen within a handful of answers.
const ewmaShift = 2

func (l *Load) observe(ns int64) {
	for {
		old := l.ewma.Load()
		next := ns
		if old != 0 {
			next = old + (ns-old)>>ewmaShift
		}
		if l.ewma.CompareAndSwap(old, next) {
			return
		}
	}
}

// MemberLoad is member i's load; nil past the last member.
func (g *Group) MemberLoad(i int) *Load {
	if i < 0 || i >= len(g.load) {
		return nil
	}
	return g.load[i]
}
