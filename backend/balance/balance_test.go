package balance

import (
	"crypto/sha256"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/router"
)

const all = ^uint32(0)

func key(s string) Key {
	sum := sha256.Sum256([]byte(s))
	return Key(sum[:16])
}

func group(policy string, weights ...int) *Group {
	ms := make([]Member, len(weights))
	for i, w := range weights {
		ms[i] = Member{Backend: fmt.Sprintf("p%d", i), Weight: w}
	}
	return New(Options{}).Group(1, policy, ms)
}

// Over 10,000 picks each member's share is its weight's, within 1%.
func TestWeighted_HonoursWeights(t *testing.T) {
	for _, weights := range [][]int{{1, 1}, {3, 1}, {5, 3, 2}, {1, 10, 100}, {7, 1, 1, 1}} {
		g := group(router.PolicyWeighted, weights...)
		counts := make([]int, len(weights))
		var buf [MaxMembers]int
		const picks = 10_000
		for range picks {
			counts[g.Order(buf[:0], Key{}, all)[0]]++
		}
		total := 0
		for _, w := range weights {
			total += w
		}
		for i, w := range weights {
			want := float64(picks) * float64(w) / float64(total)
			if math.Abs(float64(counts[i])-want) > picks*0.01 {
				t.Errorf("weights %v: member %d picked %d times, want %.0f ±1%%", weights, i, counts[i], want)
			}
		}
	}
}

// Smooth: weights 5,1,1 give nginx's a a b a c a a, never five a's in a
// row; an unhealthy member's share goes to the others.
func TestWeighted_IsSmoothAndSkipsTheUnhealthy(t *testing.T) {
	g := group(router.PolicyWeighted, 5, 1, 1)
	var buf [MaxMembers]int
	var got []int
	for range 14 {
		got = append(got, g.Order(buf[:0], Key{}, all)[0])
	}
	want := []int{0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sequence (-want +got):\n%s", diff)
	}
	counts := make([]int, 3)
	for range 600 {
		order := g.Order(buf[:0], Key{}, 0b101) // member 1 cools down
		counts[order[0]]++
		if order[len(order)-1] != 1 {
			t.Fatalf("order %v: the unhealthy member is not last", order)
		}
	}
	if counts[1] != 0 || counts[0] != 500 || counts[2] != 100 {
		t.Errorf("with member 1 unhealthy: %v, want [500 0 100]", counts)
	}
}

func TestOrder_FirstPolicyAndHealth(t *testing.T) {
	g := group(router.PolicyFirst, 1, 1, 1, 1)
	var buf [MaxMembers]int
	tests := []struct {
		healthy uint32
		want    []int
	}{
		{all, []int{0, 1, 2, 3}},
		{0b1110, []int{1, 2, 3, 0}},
		{0b0101, []int{0, 2, 1, 3}},
		{0, []int{0, 1, 2, 3}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, g.Order(buf[:0], key("c"), tt.healthy)); diff != "" {
			t.Errorf("healthy %04b (-want +got):\n%s", tt.healthy, diff)
		}
	}
	if g.Affinity() {
		t.Error("policy first keeps affinity")
	}
}

// Least-busy: fewest in flight first, ties by latency, then order.
func TestLeastBusy_Order(t *testing.T) {
	g := group(router.PolicyLeastBusy, 1, 1, 1)
	var buf [MaxMembers]int
	if got := g.Order(buf[:0], Key{}, all); !cmp.Equal(got, []int{0, 1, 2}) {
		t.Errorf("idle group: %v, want group order", got)
	}
	g.Start(0)
	g.Start(0)
	g.Start(2)
	if got := g.Order(buf[:0], Key{}, all); !cmp.Equal(got, []int{1, 2, 0}) {
		t.Errorf("busy 2,0,1: %v, want [1 2 0]", got)
	}
	g.Finish(0, 300*time.Millisecond)
	g.Finish(0, 0)
	g.Start(1)
	g.Finish(2, 100*time.Millisecond) // all idle but 1; 2 answered faster than 0
	if got := g.Order(buf[:0], Key{}, all); !cmp.Equal(got, []int{2, 0, 1}) {
		t.Errorf("latencies 300ms,-,100ms with 1 busy: %v, want [2 0 1]", got)
	}
	if got := g.Order(buf[:0], Key{}, 0b011); !cmp.Equal(got, []int{0, 1, 2}) {
		t.Errorf("2 unhealthy: %v, want [0 1 2]", got)
	}
}

// Under skewed service times least-busy sends fewer requests to the slow
// member: a discrete simulation, one request per tick, member i serving
// each request in service[i] ticks.
func TestLeastBusy_SkewedLatencies(t *testing.T) {
	service := []int{2, 2, 12} // ticks; the third member is six times slower
	g := group(router.PolicyLeastBusy, 1, 1, 1)
	type job struct{ member, done int }
	var running []job
	counts := make([]int, len(service))
	var buf [MaxMembers]int
	for tick := range 10_000 {
		kept := running[:0]
		for _, j := range running {
			if j.done <= tick {
				g.Finish(j.member, time.Duration(service[j.member])*time.Millisecond)
				continue
			}
			kept = append(kept, j)
		}
		running = kept
		for range 2 { // two arrivals a tick: more than the fast members alone serve
			m := g.Order(buf[:0], Key{}, all)[0]
			g.Start(m)
			counts[m]++
			running = append(running, job{m, tick + service[m]})
		}
	}
	t.Logf("requests per member (service 2, 2, 12 ticks): %v", counts)
	if counts[2]*3 > counts[0] || counts[2]*3 > counts[1] {
		t.Errorf("the slow member got %d, the fast %d and %d: want under a third of each", counts[2], counts[0], counts[1])
	}
	if counts[2] == 0 {
		t.Error("the slow member got nothing: least-busy should still use spare capacity")
	}
}

// Affinity: a conversation stays on its member while it is healthy, moves
// when it cools down, and stays on the member that answered after.
func TestAffinity_KeptWhileHealthyMovedOnCooldown(t *testing.T) {
	for _, policy := range []string{router.PolicyWeighted, router.PolicyLeastBusy} {
		g := group(policy, 1, 1, 1)
		var buf [MaxMembers]int
		k := key("conversation")
		m := g.Order(buf[:0], k, all)[0]
		g.Bind(k, m)
		for range 50 { // other traffic moves the round-robin and the loads
			o := g.Order(buf[:0], Key{}, all)[0]
			g.Start(o)
		}
		for range 20 {
			if got := g.Order(buf[:0], k, all)[0]; got != m {
				t.Fatalf("%s: conversation bound to %d went to %d while healthy", policy, m, got)
			}
		}
		healthy := all &^ (1 << m)
		moved := g.Order(buf[:0], k, healthy)[0]
		if moved == m {
			t.Fatalf("%s: conversation stayed on cooling member %d", policy, m)
		}
		g.Bind(k, moved) // it answered there
		if got := g.Order(buf[:0], k, all)[0]; got != moved {
			t.Errorf("%s: after the move and recovery: %d, want the member that answered (%d)", policy, got, moved)
		}
	}
}

// The table holds at most its size, dropping the least recently used, and
// forgets a conversation idle for longer than the idle time.
func TestAffinity_LRUBoundAndIdleExpiry(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	b := New(Options{AffinityKeys: 3, AffinityIdle: time.Minute, Now: func() time.Time { return now }})
	g := b.Group(7, router.PolicyWeighted, []Member{{Backend: "a", Weight: 1}, {Backend: "b", Weight: 1}})
	g.Bind(key("k1"), 0)
	g.Bind(key("k2"), 1)
	g.Bind(key("k3"), 0)
	g.Bind(key("k1"), 1) // k1 used again: k2 is now the oldest
	g.Bind(key("k4"), 1)
	if _, ok := g.Bound(key("k2")); ok {
		t.Error("k2, the least recently used, survived a full table")
	}
	for k, want := range map[string]int{"k1": 1, "k3": 0, "k4": 1} {
		if got, ok := g.Bound(key(k)); !ok || got != want {
			t.Errorf("%s bound to %d (%v), want %d", k, got, ok, want)
		}
	}
	if n := g.aff.len(); n != 3 {
		t.Errorf("table holds %d keys, want 3", n)
	}
	now = now.Add(45 * time.Second)
	g.Bind(key("k3"), 1) // k3 stays active
	now = now.Add(30 * time.Second)
	if _, ok := g.Bound(key("k1")); ok {
		t.Error("k1, idle 75s with a 60s idle time, is still bound")
	}
	if got, ok := g.Bound(key("k3")); !ok || got != 1 {
		t.Errorf("k3, idle 30s: %d %v, want bound to 1", got, ok)
	}
	g.Bind(key("k5"), 0) // reuses k1's slot
	if len(g.aff.ents) != 3 {
		t.Errorf("slots %d, want 3 (an expired slot is reused)", len(g.aff.ents))
	}
}

// A changed group starts over; an unchanged one keeps its state.
func TestBalancer_GroupRebuiltOnChange(t *testing.T) {
	b := New(Options{})
	ms := []Member{{Backend: "a", Weight: 1}, {Backend: "b", Weight: 1}}
	g := b.Group(1, router.PolicyWeighted, ms)
	g.Bind(key("k"), 1)
	if b.Group(1, router.PolicyWeighted, []Member{{Backend: "a", Weight: 1}, {Backend: "b", Weight: 1}}) != g {
		t.Error("an equal group got fresh state")
	}
	g2 := b.Group(1, router.PolicyWeighted, []Member{{Backend: "a", Weight: 2}, {Backend: "b", Weight: 1}})
	if g2 == g {
		t.Fatal("a changed group kept its state")
	}
	if _, ok := g2.Bound(key("k")); ok {
		t.Error("affinity survived a change of the group")
	}
	g.Start(0)
	if g2.MemberLoad(0).InFlight() != 1 {
		t.Error("a member's load is not shared by the group's versions")
	}
	b.Forget(1)
	if b.Group(1, router.PolicyWeighted, []Member{{Backend: "a", Weight: 2}, {Backend: "b", Weight: 1}}) == g2 {
		t.Error("Forget kept the state")
	}
}

// Concurrent ordering, binding and load keep their counts straight.
func TestGroup_Concurrent(t *testing.T) {
	g := group(router.PolicyLeastBusy, 1, 2, 3)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			var buf [MaxMembers]int
			for i := range 2000 {
				k := key(fmt.Sprint(w, i%50))
				m := g.Order(buf[:0], k, all)[0]
				g.Start(m)
				g.Bind(k, m)
				g.Finish(m, time.Millisecond)
			}
		})
	}
	wg.Wait()
	for i := range 3 {
		if n := g.MemberLoad(i).InFlight(); n != 0 {
			t.Errorf("member %d: %d in flight after all finished", i, n)
		}
	}
}

func BenchmarkOrder(b *testing.B) {
	for _, policy := range []string{router.PolicyFirst, router.PolicyWeighted, router.PolicyLeastBusy} {
		b.Run(policy, func(b *testing.B) {
			g := group(policy, 5, 3, 2)
			k := key("conversation")
			g.Bind(k, 1)
			var buf [MaxMembers]int
			b.ReportAllocs()
			for b.Loop() {
				g.Order(buf[:0], Key{}, all)
			}
		})
	}
	b.Run("affinity-hit", func(b *testing.B) {
		g := group(router.PolicyWeighted, 5, 3, 2)
		k := key("conversation")
		g.Bind(k, 1)
		var buf [MaxMembers]int
		b.ReportAllocs()
		for b.Loop() {
			g.Order(buf[:0], k, all)
		}
	})
	b.Run("pick-start-bind-finish", func(b *testing.B) {
		bal := New(Options{})
		ms := []Member{{Backend: "a", Weight: 5}, {Backend: "b", Weight: 3}, {Backend: "c", Weight: 2}}
		keys := make([]Key, 20_000)
		for i := range keys {
			keys[i] = key(fmt.Sprint(i))
		}
		var buf [MaxMembers]int
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			g := bal.Group(1, router.PolicyWeighted, ms)
			k := keys[i%len(keys)]
			i++
			m := g.Order(buf[:0], k, all)[0]
			g.Start(m)
			g.Bind(k, m)
			g.Finish(m, time.Millisecond)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		g := group(router.PolicyWeighted, 5, 3, 2)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var buf [MaxMembers]int
			for pb.Next() {
				m := g.Order(buf[:0], Key{}, all)[0]
				g.Start(m)
				g.Finish(m, time.Millisecond)
			}
		})
	})
}
