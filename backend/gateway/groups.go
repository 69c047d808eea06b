package gateway

import (
	"time"

	"github.com/modelbar/modelbar/backend/balance"
	"github.com/modelbar/modelbar/backend/router"
)

// groupOrder is how one request walks its route's group: the member each
// step of the reordered plan is, the group's balancer state and the
// request's conversation key. The zero value (a route of one backend, or
// none) balances nothing.
type groupOrder struct {
	g      *balance.Group
	key    balance.Key
	member [router.MaxGroupMembers]int8 // plan step -> member index, for the first plan.Group steps
}

// orderGroup puts the plan's group in the order this request tries it:
// the member its conversation is bound to if that one is healthy, else
// the policy's pick, then the other healthy members, then those cooling
// down (which the walk skips unless one is the chain's last candidate).
// The fallbacks keep their places after the group. A member is healthy
// unless the breakers hold its provider or (provider, model) off; the
// local engine always is.
func (s *Server) orderGroup(plan *router.Plan, c *call) groupOrder {
	var o groupOrder
	if plan.Route == nil || plan.Group <= 1 || plan.Group > router.MaxGroupMembers {
		return o
	}
	o.g = s.balance.Group(plan.Route.ID, plan.Policy, plan.Route.Targets)
	group := plan.Targets[:plan.Group]
	var healthy uint32
	for i, t := range group {
		if t.Backend == router.Local || !s.breakers.Cooling(t.Backend, t.Model) {
			healthy |= 1 << i
		}
	}
	if o.g.Affinity() {
		o.key = affinityKey(c)
	}
	var buf [router.MaxGroupMembers]int
	order := o.g.Order(buf[:0], o.key, healthy)
	var was [router.MaxGroupMembers]router.Target
	copy(was[:], group)
	for step, i := range order {
		group[step] = was[i]
		o.member[step] = int8(i)
	}
	return o
}

// memberAt is the group member plan step i is, or -1 for a fallback (or
// when nothing is balanced).
func (o *groupOrder) memberAt(step, group int) int {
	if o.g == nil || step >= group {
		return -1
	}
	return int(o.member[step])
}

// answered keeps the conversation on the member that answered it.
func (o *groupOrder) answered(member int) {
	if o.g != nil && member >= 0 {
		o.g.Bind(o.key, member)
	}
}

// begin counts an attempt at a group member in flight; end ends it,
// with the time its answer began (zero: it never did) for the member's
// latency.
func (o *groupOrder) begin(member int) {
	if o.g != nil && member >= 0 {
		o.g.Start(member)
	}
}

func (o *groupOrder) end(member int, start, firstByte time.Time) {
	if o.g == nil || member < 0 {
		return
	}
	var ttfb time.Duration
	if !firstByte.IsZero() {
		ttfb = max(firstByte.Sub(start), time.Nanosecond)
	}
	o.g.Finish(member, ttfb)
}
