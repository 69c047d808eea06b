// Package tray is modelbar's menu-bar icon and menu. It is a client of the
// admin API (the same in-process calls the window makes): it follows the
// change feed (backend/events) and re-reads what the gateway reports when
// something it shows changed, turns that into an icon state and a menu
// model with pure functions (tested here as values), and sends the admin
// API requests the menu items stand for. The thin systray adapter
// (systray.go, built with the desktop tags) draws that model with
// fyne.io/systray.
package tray

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Admin answers one admin API request in process: it is
// (*server.Server).CallAdmin. It blocks until the answer is complete and
// must be safe for concurrent use.
type Admin func(ctx context.Context, method, path string, body []byte) (status int, response []byte)

// Snapshot is what the tray shows, as the admin API reported it.
type Snapshot struct {
	Addr      string         // the gateway's listen address, host:port
	BaseURL   string         // the URL clients use: http://host:port, a loopback host when it listens on all interfaces
	Engine    string         // the local tensor backend ("cpu", "mlx (gpu)"); "" when unavailable
	Cooldowns []Cooldown     // providers and models being skipped now
	InFlight  map[string]int // backend -> requests it is serving now (only backends serving)
	Models    []Model
	Routes    []Route
	Downloads []Download // the active model downloads (queued, downloading, verifying); nil without a download manager
}

// Download is a model download (GET /api/downloads).
type Download struct {
	ID         string  `json:"id"`
	Repo       string  `json:"repo"`
	State      string  `json:"state"` // queued, downloading, verifying, done, failed, cancelled
	DoneBytes  int64   `json:"done_bytes"`
	TotalBytes int64   `json:"total_bytes"`
	ETASeconds float64 `json:"eta_seconds"`
}

// Active reports whether the download is still going.
func (d Download) Active() bool {
	return d.State == "queued" || d.State == "downloading" || d.State == "verifying"
}

// Cooldown is a provider, or one model at a provider, skipped after
// repeated failures until Until (GET /api/status, "cooldowns").
type Cooldown struct {
	Provider string    `json:"provider"`
	Model    string    `json:"model"` // "" when the whole provider cools down
	Scope    string    `json:"scope"` // "model" or "provider"
	State    string    `json:"state"`
	Until    time.Time `json:"until"`
	Reason   string    `json:"reason"`
}

// Name says what cools down: "groq", or "gpt-4o at groq".
func (c Cooldown) Name() string {
	if c.Model == "" {
		return c.Provider
	}
	return c.Model + " at " + c.Provider
}

// Plain is the cooldown's reason in a few plain words: "rate limited
// (429)", "server error (503)", "key refused (401)", "timed out", "not
// reachable". The gateway's reasons read "provider acme: HTTP 429"
// (providers.Error.Summary); one it does not know shows as it is.
func (c Cooldown) Plain() string {
	r := strings.TrimPrefix(c.Reason, "provider "+c.Provider+": ")
	if code, ok := strings.CutPrefix(r, "HTTP "); ok {
		n, _ := strconv.Atoi(code)
		switch {
		case n == 429:
			return "rate limited (429)"
		case n == 401 || n == 403:
			return "key refused (" + code + ")"
		case n == 408:
			return "timed out (408)"
		case n >= 500:
			return "server error (" + code + ")"
		}
	}
	switch {
	case r == "":
		return "repeated failures"
	case strings.HasPrefix(r, "connection failed"):
		return "not reachable"
	case len(r) > 80:
		return strings.ToValidUTF8(r[:80], "") + "…"
	}
	return r
}

// Path is the admin API path that ends the cooldown.
func (c Cooldown) Path() string {
	p := "/api/cooldowns/" + url.PathEscape(c.Provider)
	if c.Model != "" {
		segs := strings.Split(c.Model, "/")
		for i, s := range segs {
			segs[i] = url.PathEscape(s)
		}
		p += "/" + strings.Join(segs, "/")
	}
	return p
}

// Model is a local model (GET /api/models).
type Model struct {
	ID          string `json:"id"`
	SizeBytes   int64  `json:"size_bytes"`
	Usable      bool   `json:"usable"`
	Reason      string `json:"reason"`
	Loaded      bool   `json:"loaded"`
	Loading     bool   `json:"loading"`
	MemoryBytes int64  `json:"memory_bytes"`
}

// Route is a route (GET /api/routes).
type Route struct {
	ID           int64  `json:"id"`
	ModelPattern string `json:"model_pattern"`
	Backend      string `json:"backend"`
	Enabled      bool   `json:"enabled"`
}

// Request is a request log entry (GET /api/requests).
type Request struct {
	ID           int64     `json:"id"`
	Time         time.Time `json:"time"`
	Model        string    `json:"model"`
	Backend      string    `json:"backend"`
	FallbackFrom []string  `json:"fallback_from"`
	Status       int       `json:"status"`
	DurationMS   int64     `json:"duration_ms"`
}

// End is when the request finished: Time is when it started, and a long
// stream ends minutes later.
func (r Request) End() time.Time { return r.Time.Add(time.Duration(r.DurationMS) * time.Millisecond) }

// status is the part of GET /api/status the tray reads.
type status struct {
	Addr    string `json:"addr"`
	BaseURL string `json:"base_url"`
	Local   struct {
		Available bool   `json:"available"`
		Backend   string `json:"backend"`
	} `json:"local"`
	Cooldowns []Cooldown     `json:"cooldowns"`
	InFlight  map[string]int `json:"in_flight"`
}

// Fetch reads a snapshot and the requests logged after request id after
// (newest first) through admin.
func Fetch(ctx context.Context, admin Admin, after int64) (Snapshot, []Request, error) {
	var st status
	var s Snapshot
	var reqs []Request
	if err := get(ctx, admin, "/api/status", &st); err != nil {
		return s, nil, err
	}
	if err := get(ctx, admin, "/api/models", &s.Models); err != nil {
		return s, nil, err
	}
	if err := get(ctx, admin, "/api/routes", &s.Routes); err != nil {
		return s, nil, err
	}
	if err := get(ctx, admin, "/api/requests?limit=1000&after="+strconv.FormatInt(after, 10), &reqs); err != nil {
		return s, nil, err
	}
	dls, err := downloads(ctx, admin)
	if err != nil {
		return s, nil, err
	}
	s.Downloads = dls
	s.Addr, s.BaseURL, s.InFlight = st.Addr, st.BaseURL, st.InFlight
	if st.Local.Available {
		s.Engine = st.Local.Backend
	}
	for _, c := range st.Cooldowns {
		if c.State == "cooldown" {
			s.Cooldowns = append(s.Cooldowns, c)
		}
	}
	return s, reqs, nil
}

// downloads reads the active downloads. A gateway from before the
// download manager answers 404, one running without it 503: then the menu
// simply has no downloads section.
func downloads(ctx context.Context, admin Admin) ([]Download, error) {
	code, body := admin(ctx, "GET", "/api/downloads", nil)
	if code == 404 || code == 503 {
		return nil, nil
	}
	if code != 200 {
		return nil, fmt.Errorf("GET /api/downloads: %d %s", code, apiMessage(body))
	}
	var all []Download
	if err := json.Unmarshal(body, &all); err != nil {
		return nil, fmt.Errorf("GET /api/downloads: %w", err)
	}
	var active []Download
	for _, d := range all {
		if d.Active() {
			active = append(active, d)
		}
	}
	return active, nil
}

// loginLink asks the admin API for a one-time login link to the web UI
// (POST /api/login-link): it signs a browser in once, within a minute.
func loginLink(ctx context.Context, admin Admin) (string, error) {
	code, body := admin(ctx, "POST", "/api/login-link", nil)
	var link struct {
		URL string `json:"url"`
	}
	if code != 201 {
		return "", fmt.Errorf("POST /api/login-link: %d %s", code, apiMessage(body))
	}
	if err := json.Unmarshal(body, &link); err != nil || link.URL == "" {
		return "", fmt.Errorf("POST /api/login-link: no url in %q", body)
	}
	return link.URL, nil
}

// claudeCodeSetup is Claude Code's set-up as the admin API renders it
// (GET /api/connect, from backend/connect: the snippet README.md and the
// window's Connect screen show): its shell block, the environment
// variables and the command. model= (empty) leaves Claude Code its own
// model names, which a claude-* route takes.
func claudeCodeSetup(ctx context.Context, admin Admin) (string, error) {
	var answer struct {
		Clients []struct {
			ID     string `json:"id"`
			Blocks []struct {
				Lang string `json:"lang"`
				Text string `json:"text"`
			} `json:"blocks"`
		} `json:"clients"`
	}
	if err := get(ctx, admin, "/api/connect?model=", &answer); err != nil {
		return "", err
	}
	for _, c := range answer.Clients {
		if c.ID != "claude-code" {
			continue
		}
		for _, b := range c.Blocks {
			if b.Lang == "sh" {
				return b.Text, nil
			}
		}
	}
	return "", errors.New("GET /api/connect: no shell set-up for claude-code")
}

func get(ctx context.Context, admin Admin, path string, v any) error {
	code, body := admin(ctx, "GET", path, nil)
	if code != 200 {
		return fmt.Errorf("GET %s: %d %s", path, code, apiMessage(body))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// apiMessage is the message of an admin API error body, or the body.
func apiMessage(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	if len(body) > 200 {
		body = body[:200]
	}
	return string(body)
}
