package tray

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/modelbar/modelbar/backend/events"
)

// Shell is what the tray asks of the app around it (package main, over
// the Wails runtime). Its methods may be called from any goroutine and
// return promptly.
type Shell interface {
	ShowWindow()
	ShowScreen(screen string) // show the window at a screen of the UI ("chat": #/chat); screen is one of the tray's own constants
	CopyText(text string) error
	OpenURL(url string) error // in the default browser
	Quit()
}

// LoginItem is the launch-at-login setting (desktop.LoginItem).
type LoginItem interface {
	Enabled() bool
	SetEnabled(on bool) error
}

// Feed is the change feed the tray follows (events.Hub, or the desktop
// gateway's, which waits for the server to start). Subscribe may block
// until the feed exists; its channel delivers the events published from
// then on and is closed when ctx ends (at once, when there is no feed).
type Feed interface {
	Subscribe(ctx context.Context) <-chan events.Event
}

var _ Feed = (*events.Hub)(nil)

// Timing is how the controller paces its refreshes.
type Timing struct {
	// Debounce is how long after a relevant event the controller waits
	// for more before it re-reads the admin API: a burst (a route saved
	// publishes routes and providers; many requests end at once) costs
	// one refresh.
	Debounce time.Duration
	// Slow bounds the wait between refreshes when no event comes: the
	// activity line's times change with time alone (when they change
	// sooner, the controller wakes then), and it is the backstop for a
	// change nothing published.
	Slow time.Duration
}

// DefaultTiming shows a change within about a quarter of a second.
var DefaultTiming = Timing{Debounce: 150 * time.Millisecond, Slow: 30 * time.Second}

// Controller keeps the tray's view of the gateway current and carries out
// the menu's actions. Its methods are safe for concurrent use.
type Controller struct {
	admin Admin
	shell Shell
	login LoginItem // nil: launch at login is unavailable
	now   func() time.Time
	kick  chan struct{} // asks Run for an early refresh

	mu        sync.Mutex // guards the fields below
	tracker   Tracker
	snap      Snapshot
	lastErr   string
	lastErrAt time.Time
	view      View
	drawn     bool      // view has been returned as changed at least once
	next      time.Time // when the view changes with time alone; zero: no such time
}

// NewController is a tray over admin; login may be nil.
func NewController(admin Admin, shell Shell, login LoginItem) *Controller {
	return &Controller{admin: admin, shell: shell, login: login, now: time.Now, kick: make(chan struct{}, 1)}
}

// Refresh reads the admin API and computes the view; changed says whether
// it differs from the one the previous Refresh returned. A failing admin
// API shows as the error state, its message in the status line.
func (c *Controller) Refresh(ctx context.Context) (v View, changed bool) {
	c.mu.Lock()
	after := c.tracker.After
	c.mu.Unlock()
	snap, reqs, err := Fetch(ctx, c.admin, after)
	login := c.login != nil && c.login.Enabled()

	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if err == nil {
		c.snap = snap
		c.tracker.Observe(reqs)
	}
	st := c.tracker.State(now, c.snap)
	tooltip := Describe(st, c.snap, &c.tracker, now)
	lines := Lines{Activity: c.tracker.Activity(now), Serving: Serving(c.snap), Alert: alert(st, c.snap)}
	if err != nil {
		st, tooltip = Error, "Gateway not answering: "+err.Error()
		lines = Lines{Activity: tooltip}
	}
	if c.lastErr != "" && now.Sub(c.lastErrAt) >= Recent {
		c.lastErr = ""
	}
	c.next = c.nextChange(now)
	v = BuildView(c.snap, st, tooltip, lines, Extras{LastError: c.lastErr, LaunchAtLogin: login, NoLoginItem: c.login == nil})
	changed = !c.drawn || !reflect.DeepEqual(v, c.view)
	c.view, c.drawn = v, true
	return v, changed
}

// nextChange is when the view changes with time alone: the tracker's next
// change, or the action error's going. Called with mu held.
func (c *Controller) nextChange(now time.Time) time.Time {
	next := c.tracker.Next(now, c.snap)
	if at := c.lastErrAt.Add(Recent); c.lastErr != "" && (next.IsZero() || at.Before(next)) {
		return at
	}
	return next
}

// alert is the menu's line for a recent error or failover; cooldowns have
// lines of their own.
func alert(st State, s Snapshot) string {
	switch {
	case st == Error && len(s.Cooldowns) == 0:
		return "Errors in the last minute"
	case st == Failover:
		return "Failed over in the last minute"
	}
	return ""
}

// wait is how long Run may sleep before the view changes with time alone.
func (c *Controller) wait(slow time.Duration) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.next.IsZero() {
		return slow
	}
	return min(slow, max(c.next.Sub(c.now())+10*time.Millisecond, 10*time.Millisecond))
}

// Run follows feed until ctx ends: it refreshes at once, then after each
// relevant event (debounced), soon after each action, and when the view
// changes with time alone, calling draw with the view whenever it
// changed. Subscribing may wait for the server to start.
func (c *Controller) Run(ctx context.Context, feed Feed, tm Timing, draw func(View)) {
	ch := feed.Subscribe(ctx) // before the first refresh, so no change falls between
	for {
		if v, changed := c.Refresh(ctx); changed && ctx.Err() == nil {
			draw(v)
		}
		timer := time.NewTimer(c.wait(tm.Slow))
		ch = c.sleep(ctx, ch, timer, tm.Debounce)
		timer.Stop()
		if ctx.Err() != nil {
			return
		}
	}
}

// sleep returns when a refresh is due: timer fired, an action asked, or a
// relevant event came and Debounce passed. A closed feed (no server) is
// dropped and the timer alone paces the refreshes.
func (c *Controller) sleep(ctx context.Context, ch <-chan events.Event, timer *time.Timer, debounce time.Duration) <-chan events.Event {
	for {
		select {
		case <-ctx.Done():
			return ch
		case <-timer.C:
			return ch
		case <-c.kick:
			return ch
		case ev, ok := <-ch:
			if !ok {
				ch = nil
				continue
			}
			if !Relevant(ev.Topic) {
				continue
			}
			timer.Reset(debounce)
			return drain(ctx, ch, timer)
		}
	}
}

// drain reads the events that come until timer fires.
func drain(ctx context.Context, ch <-chan events.Event, timer *time.Timer) <-chan events.Event {
	for {
		select {
		case <-ctx.Done():
			return ch
		case <-timer.C:
			return ch
		case _, ok := <-ch:
			if !ok {
				ch = nil
			}
		}
	}
}

// Relevant reports whether an event on topic may change what the tray
// shows: its routes, local models, cooldowns, requests, backends serving,
// downloads; resync when events were lost.
func Relevant(topic events.Topic) bool {
	switch topic {
	case events.Routes, events.Providers, events.Models, events.Cooldowns, events.Requests,
		events.InFlight, events.Downloads, events.Resync:
		return true
	}
	return false
}

// Do carries out a menu action. It blocks until done (loading a model can
// take a while): call it from its own goroutine. A failure shows in the
// menu for a minute.
func (c *Controller) Do(ctx context.Context, a Action) {
	err := c.do(ctx, a)
	c.mu.Lock()
	if err != nil {
		c.lastErr, c.lastErrAt = err.Error(), c.now()
	}
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *Controller) do(ctx context.Context, a Action) error {
	switch a.Kind {
	case API:
		code, body := c.admin(ctx, a.Method, a.Path, []byte(a.Body))
		if code >= 300 {
			return fmt.Errorf("%s %s: %s", a.Method, a.Path, apiMessage(body))
		}
	case OpenWindow:
		c.shell.ShowWindow()
	case OpenScreen:
		c.shell.ShowScreen(a.Screen)
	case OpenBrowser:
		link, err := loginLink(ctx, c.admin)
		if err != nil {
			return err
		}
		return c.shell.OpenURL(link)
	case CopyBaseURL:
		c.mu.Lock()
		snap := c.snap
		c.mu.Unlock()
		return c.shell.CopyText(OpenAIBaseURL(snap))
	case CopyClaudeCode:
		text, err := claudeCodeSetup(ctx, c.admin)
		if err != nil {
			return err
		}
		return c.shell.CopyText(text)
	case ToggleLogin:
		if c.login == nil {
			return errors.New("launch at login is not available here")
		}
		return c.login.SetEnabled(!c.login.Enabled())
	case Quit:
		c.shell.Quit()
	}
	return nil
}
