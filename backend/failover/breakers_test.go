package failover_test

import (
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/failover"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newBreakers() (*failover.Breakers, *clock) {
	c := &clock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	return failover.NewBreakers(c.now), c
}

func admit(t *testing.T, b *failover.Breakers, provider, model string) failover.Ticket {
	t.Helper()
	tk, cd := b.Admit(provider, model, false)
	if cd != nil {
		t.Fatalf("Admit(%s, %s) refused: %+v", provider, model, cd)
	}
	return tk
}

func TestBreakers_ModelScopeSparesOtherModels(t *testing.T) {
	b, _ := newBreakers()
	tk := admit(t, b, "p", "bad")
	if !b.Failed(tk, failover.ScopeModel, "HTTP 503", 1, time.Minute) {
		t.Fatal("threshold 1: not open")
	}
	if _, cd := b.Admit("p", "bad", false); cd == nil || cd.Scope != "model" || cd.State != "cooldown" || cd.Model != "bad" {
		t.Errorf("bad: %+v, want a model cooldown", cd)
	}
	admit(t, b, "p", "good")
}

func TestBreakers_ProviderScopeCoolsEveryModel(t *testing.T) {
	b, _ := newBreakers()
	b.Failed(admit(t, b, "p", "a"), failover.ScopeProvider, "refused", 1, time.Minute)
	for _, m := range []string{"a", "b"} {
		if _, cd := b.Admit("p", m, false); cd == nil || cd.Scope != "provider" {
			t.Errorf("%s: %+v, want the provider's cooldown", m, cd)
		}
	}
	admit(t, b, "q", "a")
}

func TestBreakers_ForceAdmitsTheLastCandidate(t *testing.T) {
	b, _ := newBreakers()
	b.Failed(admit(t, b, "p", "m"), failover.ScopeProvider, "refused", 1, time.Minute)
	if _, cd := b.Admit("p", "m", true); cd != nil {
		t.Errorf("forced admission refused: %+v", cd)
	}
}

func TestBreakers_ProbeClosesOrReopens(t *testing.T) {
	b, clk := newBreakers()
	b.Failed(admit(t, b, "p", "m"), failover.ScopeModel, "503", 1, time.Minute)
	clk.advance(time.Minute)
	probe := admit(t, b, "p", "m")
	if !probe.Probe() {
		t.Fatal("the first request after the cooldown is not the probe")
	}
	if _, cd := b.Admit("p", "m", false); cd == nil || cd.State != "probing" {
		t.Errorf("second request during the probe: %+v, want refused (probing)", cd)
	}
	if !b.Failed(probe, failover.ScopeModel, "503", 3, time.Minute) {
		t.Error("a failed probe does not reopen at once")
	}
	clk.advance(time.Minute)
	b.Succeeded(admit(t, b, "p", "m"))
	if st := b.Status(); len(st) != 0 {
		t.Errorf("after a successful probe: %+v", st)
	}
}

func TestBreakers_AbandonedProbeFreesTheSlot(t *testing.T) {
	b, clk := newBreakers()
	b.Failed(admit(t, b, "p", "m"), failover.ScopeModel, "503", 1, time.Minute)
	clk.advance(time.Minute)
	b.Abandon(admit(t, b, "p", "m"))
	if tk := admit(t, b, "p", "m"); !tk.Probe() {
		t.Error("after an abandoned probe the next request does not probe")
	}
}

// A model-level failure proves the provider reachable, and a success of
// any model closes the provider's breaker.
func TestBreakers_ModelOutcomesCloseTheProvider(t *testing.T) {
	b, clk := newBreakers()
	b.Failed(admit(t, b, "p", "a"), failover.ScopeProvider, "refused", 2, time.Minute)
	b.Failed(admit(t, b, "p", "b"), failover.ScopeModel, "503", 2, time.Minute)
	for _, c := range b.Status() {
		if c.Scope == "provider" {
			t.Errorf("provider breaker kept after the provider answered: %+v", c)
		}
	}
	b.Failed(admit(t, b, "p", "a"), failover.ScopeProvider, "refused", 1, time.Minute)
	clk.advance(time.Minute)
	b.Succeeded(admit(t, b, "p", "c"))
	if st := b.Status(); len(st) != 1 || st[0].Model != "b" {
		t.Errorf("after a success of p/c: %+v, want only p/b's record", st)
	}
}

func TestBreakers_StatusAndClear(t *testing.T) {
	b, clk := newBreakers()
	b.Failed(admit(t, b, "p", "m"), failover.ScopeModel, "HTTP 503", 1, time.Minute)
	b.Failed(admit(t, b, "q", "x"), failover.ScopeModel, "HTTP 500", 2, time.Minute)
	st := b.Status()
	if len(st) != 2 {
		t.Fatalf("status %+v", st)
	}
	want := failover.Cooldown{Provider: "p", Backend: "p", Model: "m", Scope: "model", State: "cooldown", Failures: 1,
		Until: clk.t.Add(time.Minute), Reason: "HTTP 503"}
	if st[0] != want {
		t.Errorf("status[0] = %+v, want %+v", st[0], want)
	}
	if st[1].State != "failing" || st[1].Until != (time.Time{}) {
		t.Errorf("status[1] = %+v, want failing", st[1])
	}
	if !b.Clear("p", "m") || b.Clear("p", "m") {
		t.Error("Clear(p, m): want true then false")
	}
	if !b.Clear("q", "") || len(b.Status()) != 0 {
		t.Error("Clear(q) did not end q's breakers")
	}
}

// Model names come from clients: a flood of distinct failing names must
// not grow the breakers without bound.
func TestBreakers_Bounded(t *testing.T) {
	b, _ := newBreakers()
	for i := range 10_000 {
		m := "m" + string(rune('a'+i%26)) + time.Duration(i).String()
		b.Failed(admit(t, b, "p", m), failover.ScopeModel, "503", 3, time.Minute)
	}
	if n := len(b.Status()); n > 4096 {
		t.Errorf("%d breakers kept, want at most 4096", n)
	}
}

func TestPolicy_Wait(t *testing.T) {
	p := failover.Policy{Backoff: 100 * time.Millisecond, BackoffMax: time.Second}
	for n := 1; n <= 6; n++ {
		d, ok := p.Wait(n, 0)
		full := min(100*time.Millisecond<<(n-1), time.Second)
		if !ok || d < full/2 || d > full {
			t.Errorf("Wait(%d) = %v %v, want within [%v, %v]", n, d, ok, full/2, full)
		}
	}
	if d, ok := p.Wait(1, 2*time.Second); ok || d != 2*time.Second {
		t.Errorf("a Retry-After above the cap: %v %v, want not ok", d, ok)
	}
	if d, ok := p.Wait(1, 500*time.Millisecond); !ok || d != 500*time.Millisecond {
		t.Errorf("a Retry-After below the cap: %v %v", d, ok)
	}
	p.CooldownFailures, p.Cooldown = 3, 30*time.Second
	if p.Threshold(2*time.Second) != 1 || p.Threshold(0) != 3 {
		t.Error("Threshold: a Retry-After above the cap opens at once")
	}
	if p.CooldownFor(time.Hour) != failover.MaxHold || p.CooldownFor(0) != 30*time.Second {
		t.Error("CooldownFor")
	}
}

// OnChange hears of every change Status shows, and of nothing else: a
// success of a backend with no breaker is no change.
func TestBreakers_OnChangeTellsWhatStatusShows(t *testing.T) {
	b, _ := newBreakers()
	told := 0
	b.OnChange(func() {
		b.Status() // the lock is released: the observer may read
		told++
	})
	steps := []struct {
		name string
		do   func()
		want int
	}{
		{"a success with no breaker", func() { b.Succeeded(admit(t, b, "p", "m")) }, 0},
		{"a failure below the threshold", func() { b.Failed(admit(t, b, "p", "m"), failover.ScopeModel, "503", 2, time.Hour) }, 1},
		{"a failure that opens it", func() { b.Failed(admit(t, b, "p", "m"), failover.ScopeModel, "503", 2, time.Hour) }, 1},
		{"a failure of no scope", func() { b.Failed(admit(t, b, "q", "m"), failover.ScopeNone, "400", 1, time.Hour) }, 0},
		{"a success closes it", func() { b.Succeeded(failover.Ticket{Provider: "p", Model: "m"}) }, 1},
		{"clearing nothing", func() { b.Clear("p", "") }, 0},
		{"a provider failure", func() { b.Failed(admit(t, b, "p", "m"), failover.ScopeProvider, "refused", 1, time.Hour) }, 1},
		{"clearing it", func() { b.Clear("p", "") }, 1},
	}
	for _, st := range steps {
		told = 0
		st.do()
		if told != st.want {
			t.Errorf("%s: told %d times, want %d", st.name, told, st.want)
		}
	}
}

// A cooldown's end is told when it comes, with no request to prompt it, so
// a view can clear it without polling.
func TestBreakers_OnChangeTellsTheEndOfACooldown(t *testing.T) {
	b := failover.NewBreakers(nil)
	told := make(chan []failover.Cooldown, 4)
	b.OnChange(func() { told <- b.Status() })
	b.Failed(admit(t, b, "p", "m"), failover.ScopeProvider, "refused", 1, 50*time.Millisecond)
	if st := <-told; len(st) != 1 || st[0].State != "cooldown" {
		t.Fatalf("when it opened: %+v, want one cooldown", st)
	}
	select {
	case st := <-told:
		if len(st) != 1 || st[0].State != "probing" {
			t.Errorf("at its end: %+v, want it open to a probe", st)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the end of the cooldown was not told")
	}
}

// A breaker closed before its cooldown ends tells nothing more.
func TestBreakers_ClosedBreakerTellsNoEnd(t *testing.T) {
	b := failover.NewBreakers(nil)
	told := make(chan struct{}, 4)
	b.OnChange(func() { told <- struct{}{} })
	b.Failed(admit(t, b, "p", "m"), failover.ScopeProvider, "refused", 1, 50*time.Millisecond)
	b.Clear("p", "")
	<-told
	<-told
	select {
	case <-told:
		t.Error("a cleared breaker's timer still fired")
	case <-time.After(200 * time.Millisecond):
	}
}

// Cooling is true while a breaker is open or probed, false below the
// threshold and once its cooldown has passed with no probe under way.
func TestBreakers_Cooling(t *testing.T) {
	b, c := newBreakers()
	if b.Cooling("p", "m") {
		t.Error("cooling with no breaker")
	}
	b.Failed(admit(t, b, "p", "m"), failover.ScopeModel, "HTTP 503", 2, time.Minute)
	if b.Cooling("p", "m") {
		t.Error("cooling below the threshold")
	}
	b.Failed(admit(t, b, "p", "m"), failover.ScopeModel, "HTTP 503", 2, time.Minute)
	if !b.Cooling("p", "m") || b.Cooling("p", "other") || b.Cooling("q", "m") {
		t.Errorf("open pair: cooling p/m %v, p/other %v, q/m %v; want true, false, false", b.Cooling("p", "m"), b.Cooling("p", "other"), b.Cooling("q", "m"))
	}
	c.advance(time.Minute)
	if b.Cooling("p", "m") {
		t.Error("cooling after the cooldown, before any probe: the next request should probe it")
	}
	probe := admit(t, b, "p", "m")
	if !b.Cooling("p", "m") {
		t.Error("not cooling while a probe is in flight")
	}
	b.Succeeded(probe)
	if b.Cooling("p", "m") {
		t.Error("cooling after a good probe")
	}
	b.Failed(admit(t, b, "p", "x"), failover.ScopeProvider, "refused", 1, time.Minute)
	if !b.Cooling("p", "m") {
		t.Error("the provider's cooldown does not cool its models")
	}
}
