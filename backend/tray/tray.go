package tray

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"
)

// Shell is what the tray asks of the app around it (package main, over
// the Wails runtime). Its methods may be called from any goroutine and
// return promptly.
type Shell interface {
	ShowWindow()
	CopyText(text string) error
	OpenURL(url string) error // in the default browser
	Quit()
}

// LoginItem is the launch-at-login setting (desktop.LoginItem).
type LoginItem interface {
	Enabled() bool
	SetEnabled(on bool) error
}

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
	drawn     bool // view has been returned as changed at least once
}

// NewController is a tray over admin; login may be nil.
func NewController(admin Admin, shell Shell, login LoginItem) *Controller {
	return &Controller{admin: admin, shell: shell, login: login, now: time.Now, kick: make(chan struct{}, 1)}
}

// Refresh polls the admin API and computes the view; changed says whether
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
	describe := Describe(st, c.snap, &c.tracker)
	if err != nil {
		st, describe = Error, "Gateway not answering: "+err.Error()
	}
	if c.lastErr != "" && now.Sub(c.lastErrAt) >= Recent {
		c.lastErr = ""
	}
	v = BuildView(c.snap, st, describe, Extras{LastError: c.lastErr, LaunchAtLogin: login, NoLoginItem: c.login == nil})
	changed = !c.drawn || !reflect.DeepEqual(v, c.view)
	c.view, c.drawn = v, true
	return v, changed
}

// Run refreshes every interval (and soon after each action) until ctx
// ends, calling draw with the view whenever it changed.
func (c *Controller) Run(ctx context.Context, interval time.Duration, draw func(View)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if v, changed := c.Refresh(ctx); changed && ctx.Err() == nil {
			draw(v)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.kick:
		}
	}
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
