package tray

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Item is one entry of the menu model. Items compare by value: the adapter
// redraws only what changed.
type Item struct {
	ID        string // stable across refreshes: "route:3", "load:qwen", "quit"
	Title     string
	Tooltip   string
	Separator bool
	Checkbox  bool
	Checked   bool
	Disabled  bool
	Action    Action
	Children  []Item // a submenu
}

// Action is what clicking an item does: an admin API request (Method,
// Path, Body) or one of the app's own commands (Kind).
type Action struct {
	Kind   Kind
	Method string
	Path   string
	Body   string
}

// Kind is the kind of an Action.
type Kind int

const (
	None        Kind = iota // not clickable
	API                     // send Method Path Body to the admin API
	OpenWindow              // show the window
	OpenBrowser             // open the web UI in the default browser, signed in by a one-time login link
	CopyBaseURL             // put the OpenAI base URL on the clipboard
	ToggleLogin             // switch launch at login
	Quit                    // stop everything
)

// View is everything the tray draws.
type View struct {
	State   State
	Tooltip string
	Menu    []Item
}

// OpenAIBaseURL is the OpenAI base URL of the gateway in s.
func OpenAIBaseURL(s Snapshot) string {
	if s.BaseURL == "" {
		return "http://" + s.Addr + "/v1"
	}
	return s.BaseURL + "/v1"
}

// Extras is the tray's own part of the menu.
type Extras struct {
	LastError     string // the failure of the last menu action, shown for a while; "" for none
	LaunchAtLogin bool   // the login item is installed
	NoLoginItem   bool   // launch at login is not available here
}

// BuildView is the tray for a snapshot in state st (described in words
// by describe): the icon state, the tooltip and the menu.
func BuildView(s Snapshot, st State, describe string, l Extras) View {
	menu := []Item{
		{ID: "addr", Title: "modelbar on " + s.Addr, Disabled: true},
		{ID: "status", Title: describe, Disabled: true},
	}
	if l.LastError != "" {
		menu = append(menu, Item{ID: "action-error", Title: "⚠ " + l.LastError, Disabled: true})
	}
	if len(s.Cooldowns) > 0 {
		menu = append(menu, cooldownsItem(s.Cooldowns))
	}
	menu = append(menu, sep(1))
	menu = append(menu, modelItems(s.Models)...)
	menu = append(menu, sep(2), routesItem(s.Routes), sep(3),
		Item{ID: "open", Title: "Open modelbar", Action: Action{Kind: OpenWindow}},
		Item{ID: "browser", Title: "Open in browser", Tooltip: "The same UI in your browser, signed in by a one-time link",
			Action: Action{Kind: OpenBrowser}},
		Item{ID: "copy", Title: "Copy OpenAI base URL", Tooltip: OpenAIBaseURL(s), Action: Action{Kind: CopyBaseURL}},
		Item{ID: "login", Title: "Launch at login", Checkbox: true, Checked: l.LaunchAtLogin,
			Disabled: l.NoLoginItem, Action: Action{Kind: ToggleLogin}},
		sep(4),
		Item{ID: "quit", Title: "Quit modelbar", Action: Action{Kind: Quit}},
	)
	return View{State: st, Tooltip: "modelbar: " + describe, Menu: menu}
}

// cooldownsItem is the Cooling down submenu: what is skipped, until when
// and why, a click ending that cooldown now.
func cooldownsItem(cs []Cooldown) Item {
	children := make([]Item, 0, len(cs)+2)
	for _, c := range cs {
		title := c.Name() + " — until " + c.Until.Local().Format("15:04:05")
		if c.Reason != "" {
			title += " (" + c.Reason + ")"
		}
		children = append(children, Item{ID: "cooldown:" + c.Provider + "/" + c.Model, Title: title,
			Tooltip: "Click to end this cooldown now", Action: Action{Kind: API, Method: "DELETE", Path: c.Path()}})
	}
	if len(cs) > 1 {
		children = append(children, sep(5), Item{ID: "cooldowns:end", Title: "End all cooldowns",
			Action: Action{Kind: API, Method: "DELETE", Path: "/api/cooldowns"}})
	}
	return Item{ID: "cooldowns", Title: fmt.Sprintf("Cooling down (%d)", len(cs)), Children: children}
}

func sep(n int) Item { return Item{ID: "sep" + strconv.Itoa(n), Separator: true} }

// modelItems lists the loaded (and loading) local models with their memory,
// a click unloading one, then a submenu of the others, a click loading one.
func modelItems(models []Model) []Item {
	var loaded, available []Item
	for _, m := range models {
		switch {
		case m.Loading:
			loaded = append(loaded, Item{ID: "model:" + m.ID, Title: m.ID + " — loading…", Checkbox: true, Disabled: true})
		case m.Loaded:
			loaded = append(loaded, Item{ID: "model:" + m.ID, Title: m.ID + " — " + Bytes(m.MemoryBytes), Checkbox: true, Checked: true,
				Tooltip: "Click to unload", Action: modelAction("unload", m.ID)})
		case m.Usable:
			available = append(available, Item{ID: "load:" + m.ID, Title: m.ID + " (" + Bytes(m.SizeBytes) + ")",
				Tooltip: "Click to load", Action: modelAction("load", m.ID)})
		default:
			available = append(available, Item{ID: "load:" + m.ID, Title: m.ID + " (unusable)", Tooltip: m.Reason, Disabled: true})
		}
	}
	items := []Item{{ID: "loaded", Title: "No local model loaded", Disabled: true}}
	if len(loaded) > 0 {
		items = append([]Item{{ID: "loaded", Title: "Loaded local models", Disabled: true}}, loaded...)
	}
	if len(available) == 0 {
		return append(items, Item{ID: "models", Title: "No other local models found", Disabled: true})
	}
	return append(items, Item{ID: "models", Title: "Load a local model", Children: available})
}

func modelAction(verb, model string) Action {
	return Action{Kind: API, Method: "POST", Path: "/api/models/" + verb, Body: jsonObject("model", jsonString(model))}
}

// routesItem is the Routes submenu: one checkbox per route, in evaluation
// order, a click enabling or disabling it.
func routesItem(routes []Route) Item {
	if len(routes) == 0 {
		return Item{ID: "routes", Title: "No routes yet", Disabled: true}
	}
	children := make([]Item, 0, len(routes))
	for _, r := range routes {
		children = append(children, Item{
			ID: "route:" + strconv.FormatInt(r.ID, 10), Title: r.ModelPattern + " → " + r.Backend,
			Checkbox: true, Checked: r.Enabled,
			Action: Action{Kind: API, Method: "PUT", Path: "/api/routes/" + strconv.FormatInt(r.ID, 10),
				Body: jsonObject("enabled", strconv.FormatBool(!r.Enabled))},
		})
	}
	return Item{ID: "routes", Title: fmt.Sprintf("Routes (%d)", len(routes)), Children: children}
}

func jsonObject(key, value string) string { return `{"` + key + `":` + value + `}` }

func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// Bytes formats a size the way macOS does (decimal units): "512 MB", "1.5 GB".
func Bytes(n int64) string {
	const unit = 1000
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 3; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if v >= 100 {
		return fmt.Sprintf("%.0f %cB", v, "kMGT"[exp])
	}
	return fmt.Sprintf("%.1f %cB", v, "kMGT"[exp])
}
