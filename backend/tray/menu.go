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
	Screen string // OpenScreen's: the UI's screen, as its location hash names it ("chat", "routes")
}

// Kind is the kind of an Action.
type Kind int

const (
	None           Kind = iota // not clickable
	API                        // send Method Path Body to the admin API
	OpenWindow                 // show the window
	OpenScreen                 // show the window at a screen of the UI (Action.Screen)
	OpenBrowser                // open the web UI in the default browser, signed in by a one-time login link
	CopyBaseURL                // put the OpenAI base URL on the clipboard
	CopyClaudeCode             // put Claude Code's set-up (GET /api/connect) on the clipboard
	ToggleLogin                // switch launch at login
	Quit                       // stop everything
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

// Lines is the menu's head: what the tray says about the gateway now.
type Lines struct {
	Activity string // "3 requests/min · last: gpt-4o via openai", or why the gateway does not answer
	Serving  string // "Serving locally (cpu)" while the local engine serves; "" otherwise
	Alert    string // "Failed over in the last minute", "Errors in the last minute"; "" for none
}

// Extras is the tray's own part of the menu.
type Extras struct {
	LastError     string // the failure of the last menu action, shown for a while; "" for none
	LaunchAtLogin bool   // the login item is installed
	NoLoginItem   bool   // launch at login is not available here
}

// BuildView is the tray for a snapshot in state st: the icon state, the
// tooltip (tooltip, "modelbar: " in front) and the menu.
func BuildView(s Snapshot, st State, tooltip string, l Lines, x Extras) View {
	menu := []Item{
		{ID: "addr", Title: "modelbar on " + s.Addr, Disabled: true},
		{ID: "status", Title: l.Activity, Disabled: true},
	}
	if l.Serving != "" {
		menu = append(menu, Item{ID: "serving", Title: l.Serving, Disabled: true})
	}
	if l.Alert != "" {
		menu = append(menu, Item{ID: "alert", Title: l.Alert, Disabled: true})
	}
	if x.LastError != "" {
		menu = append(menu, Item{ID: "action-error", Title: "⚠ " + x.LastError, Disabled: true})
	}
	if len(s.Cooldowns) > 0 {
		menu = append(menu, sep(1))
		menu = append(menu, cooldownItems(s.Cooldowns)...)
	}
	menu = append(menu, sep(2))
	menu = append(menu, modelItems(s.Models)...)
	if len(s.Downloads) > 0 {
		menu = append(menu, sep(7))
		menu = append(menu, downloadItems(s.Downloads)...)
	}
	menu = append(menu, sep(3), routesItem(s.Routes), sep(4),
		Item{ID: "open", Title: "Open modelbar", Action: Action{Kind: OpenWindow}},
		Item{ID: "chat", Title: "Open Chat", Action: Action{Kind: OpenScreen, Screen: "chat"}},
		Item{ID: "browser", Title: "Open in browser", Tooltip: "The same UI in your browser, signed in by a one-time link",
			Action: Action{Kind: OpenBrowser}},
		Item{ID: "copy", Title: "Copy OpenAI URL", Tooltip: OpenAIBaseURL(s), Action: Action{Kind: CopyBaseURL}},
		Item{ID: "copy-claude", Title: "Copy Claude Code setup", Tooltip: "The environment variables that point Claude Code at modelbar",
			Action: Action{Kind: CopyClaudeCode}},
		Item{ID: "login", Title: "Launch at login", Checkbox: true, Checked: x.LaunchAtLogin,
			Disabled: x.NoLoginItem, Action: Action{Kind: ToggleLogin}},
		sep(5),
		Item{ID: "quit", Title: "Quit modelbar", Action: Action{Kind: Quit}},
	)
	return View{State: st, Tooltip: "modelbar: " + tooltip, Menu: menu}
}

// cooldownItems say what is skipped, why and until when ("acme: rate
// limited (429) until 14:32:05"), each followed by a "Retry … now" item
// that ends that cooldown; with several, "Retry all now" ends them all.
func cooldownItems(cs []Cooldown) []Item {
	items := make([]Item, 0, 2*len(cs)+1)
	for _, c := range cs {
		key := c.Provider + "/" + c.Model
		items = append(items,
			Item{ID: "cooldown:" + key, Title: c.Name() + ": " + c.Plain() + " until " + c.Until.Local().Format("15:04:05"),
				Tooltip: c.Reason, Disabled: true},
			Item{ID: "retry:" + key, Title: "Retry " + c.Name() + " now", Tooltip: "End this cooldown: the next request tries it again",
				Action: Action{Kind: API, Method: "DELETE", Path: c.Path()}})
	}
	if len(cs) > 1 {
		items = append(items, Item{ID: "retry:all", Title: "Retry all now",
			Action: Action{Kind: API, Method: "DELETE", Path: "/api/cooldowns"}})
	}
	return items
}

func sep(n int) Item { return Item{ID: "sep" + strconv.Itoa(n), Separator: true} }

// modelItems lists the loaded local models, each with an explicit "Unload
// <model> (<memory>)" item, the ones loading, then a submenu of the
// others, a click loading one.
func modelItems(models []Model) []Item {
	var loaded, available []Item
	for _, m := range models {
		switch {
		case m.Loading:
			loaded = append(loaded, Item{ID: "model:" + m.ID, Title: "Loading " + m.ID + "…", Disabled: true})
		case m.Loaded:
			loaded = append(loaded, Item{ID: "unload:" + m.ID, Title: "Unload " + m.ID + " (" + Bytes(m.MemoryBytes) + ")",
				Tooltip: "Free its memory; it loads again when a request needs it", Action: modelAction("unload", m.ID)})
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

// downloadItems say each active download's repo, share done and time left
// ("Downloading mlx-community/Qwen3-0.6B-4bit: 42% · 3m 10s left"); a
// click opens the Models screen, where it can be followed or cancelled.
func downloadItems(ds []Download) []Item {
	items := make([]Item, 0, len(ds))
	for _, d := range ds {
		var title string
		switch d.State {
		case "queued":
			title = "Waiting to download " + d.Repo
		case "verifying":
			title = "Checking the files of " + d.Repo + "…"
		default:
			title = "Downloading " + d.Repo
			if d.TotalBytes > 0 {
				title += fmt.Sprintf(": %d%%", min(100, d.DoneBytes*100/d.TotalBytes))
			}
			if left := timeLeft(d.ETASeconds); left != "" {
				title += " · " + left
			}
		}
		tip := "Open the Models screen"
		if d.TotalBytes > 0 {
			tip = Bytes(d.DoneBytes) + " of " + Bytes(d.TotalBytes) + " · " + tip
		}
		items = append(items, Item{ID: "download:" + d.ID, Title: title, Tooltip: tip, Action: Action{Kind: OpenScreen, Screen: "models"}})
	}
	return items
}

// timeLeft is an ETA in a few words: "40s left", "3m 10s left", "1h 5m
// left"; "" when unknown.
func timeLeft(seconds float64) string {
	s := int64(seconds + 0.5)
	switch {
	case s <= 0:
		return ""
	case s < 60:
		return fmt.Sprintf("%ds left", s)
	case s < 3600:
		return fmt.Sprintf("%dm %ds left", s/60, s%60)
	}
	return fmt.Sprintf("%dh %dm left", s/3600, s%3600/60)
}

func modelAction(verb, model string) Action {
	return Action{Kind: API, Method: "POST", Path: "/api/models/" + verb, Body: jsonObject("model", jsonString(model))}
}

// routesItem is the Routes submenu: one checkbox per route, in evaluation
// order, a click enabling or disabling it, then "Edit routes…", which
// opens the window's Routes screen.
func routesItem(routes []Route) Item {
	edit := Item{ID: "routes:edit", Title: "Edit routes…", Action: Action{Kind: OpenScreen, Screen: "routes"}}
	if len(routes) == 0 {
		return Item{ID: "routes", Title: "No routes yet", Children: []Item{edit}}
	}
	children := make([]Item, 0, len(routes)+2)
	for _, r := range routes {
		children = append(children, Item{
			ID: "route:" + strconv.FormatInt(r.ID, 10), Title: r.ModelPattern + " → " + r.Backend,
			Checkbox: true, Checked: r.Enabled,
			Action: Action{Kind: API, Method: "PUT", Path: "/api/routes/" + strconv.FormatInt(r.ID, 10),
				Body: jsonObject("enabled", strconv.FormatBool(!r.Enabled))},
		})
	}
	children = append(children, sep(6), edit)
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
