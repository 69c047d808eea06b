//go:build desktop || dev

package tray

import (
	"context"
	"strings"
	"sync"

	"fyne.io/systray"
)

// Start shows the menu-bar icon and keeps it current, following feed (see
// Controller.Run). Call it on the main goroutine before the GUI loop
// starts (wails.Run), never from inside it (macOS creates the status item
// on the main thread); call the returned stop from the app's shutdown
// (Wails OnShutdown).
func Start(ctx context.Context, c *Controller, feed Feed, tm Timing) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	r := &renderer{ctx: ctx, c: c}
	start, end := systray.RunWithExternalLoop(func() {
		go c.Run(ctx, feed, tm, r.draw)
	}, nil)
	systray.SetTemplateIcon(Icons[Idle].Template, Icons[Idle].Color)
	systray.SetTooltip("modelbar: starting")
	start()
	return func() { cancel(); end() }
}

// renderer draws views with systray: in place when only titles, checks or
// enabled states changed, from scratch when the menu's shape changed.
type renderer struct {
	ctx context.Context
	c   *Controller

	mu    sync.Mutex // guards the fields below (draw vs. click goroutines)
	shape string
	items map[string]*systray.MenuItem
	shown map[string]Item
	state State
	drawn bool
}

func (r *renderer) draw(v View) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.drawn || v.State != r.state {
		systray.SetTemplateIcon(Icons[v.State].Template, Icons[v.State].Color)
	}
	systray.SetTooltip(v.Tooltip)
	r.state, r.drawn = v.State, true
	if s := shape(v.Menu); s != r.shape {
		systray.ResetMenu()
		r.shape, r.items, r.shown = s, map[string]*systray.MenuItem{}, map[string]Item{}
		r.add(nil, v.Menu)
		return
	}
	r.update(v.Menu)
}

// shape is the menu's structure: the items' ids, kinds and nesting.
func shape(items []Item) string {
	var b strings.Builder
	for _, it := range items {
		b.WriteString(it.ID)
		if it.Checkbox {
			b.WriteString("☑")
		}
		if it.Children != nil {
			b.WriteString("[" + shape(it.Children) + "]")
		}
		b.WriteString("\x00")
	}
	return b.String()
}

func (r *renderer) add(parent *systray.MenuItem, items []Item) {
	for _, it := range items {
		if it.Separator {
			if parent == nil {
				systray.AddSeparator()
			} else {
				parent.AddSeparator()
			}
			continue
		}
		var mi *systray.MenuItem
		switch {
		case parent == nil && it.Checkbox:
			mi = systray.AddMenuItemCheckbox(it.Title, it.Tooltip, it.Checked)
		case parent == nil:
			mi = systray.AddMenuItem(it.Title, it.Tooltip)
		case it.Checkbox:
			mi = parent.AddSubMenuItemCheckbox(it.Title, it.Tooltip, it.Checked)
		default:
			mi = parent.AddSubMenuItem(it.Title, it.Tooltip)
		}
		if it.Disabled {
			mi.Disable()
		}
		r.items[it.ID], r.shown[it.ID] = mi, it
		go r.clicks(it.ID, mi.ClickedCh)
		r.add(mi, it.Children)
	}
}

func (r *renderer) update(items []Item) {
	for _, it := range items {
		mi, old := r.items[it.ID], r.shown[it.ID]
		if mi != nil {
			if it.Title != old.Title {
				mi.SetTitle(it.Title)
			}
			if it.Tooltip != old.Tooltip {
				mi.SetTooltip(it.Tooltip)
			}
			if it.Checked != old.Checked && it.Checked {
				mi.Check()
			} else if it.Checked != old.Checked {
				mi.Uncheck()
			}
			if it.Disabled != old.Disabled && it.Disabled {
				mi.Disable()
			} else if it.Disabled != old.Disabled {
				mi.Enable()
			}
			r.shown[it.ID] = it
		}
		r.update(it.Children)
	}
}

// clicks carries out the item's current action on each click, until
// ResetMenu removes the item (which closes ch).
func (r *renderer) clicks(id string, ch <-chan struct{}) {
	for range ch {
		r.mu.Lock()
		a := r.shown[id].Action
		r.mu.Unlock()
		if a.Kind != None {
			go r.c.Do(r.ctx, a)
		}
	}
}
