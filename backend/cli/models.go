package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/modelbar/modelbar/backend/auth"
	"github.com/modelbar/modelbar/backend/downloads"
	"github.com/modelbar/modelbar/backend/gateway"
	"github.com/modelbar/modelbar/backend/server"
)

// `modelbar pull`, `ls` and `rm` work through the running modelbar's admin
// API when one answers (so its UI and engine hear of the change at once),
// else directly on the data dir and the Hugging Face cache.

// localModel is a model on disk as `ls` shows it (a row of /api/models).
type localModel struct {
	ID         string `json:"id"`
	Source     string `json:"source"`
	SizeOnDisk int64  `json:"size_bytes"`
	Usable     bool   `json:"usable"`
	Reason     string `json:"reason"`
}

// modelsClient is what the three commands need.
type modelsClient interface {
	start(ctx context.Context, repo, revision string) (downloads.Download, error)
	get(ctx context.Context, id string) (downloads.Download, error)
	cancel(ctx context.Context, id string) error
	models(ctx context.Context) ([]localModel, error)
	downloads(ctx context.Context) ([]downloads.Download, error)
	remove(ctx context.Context, id string) error
	close()
	where() string
}

// connect returns a client of the modelbar at addr, or, when none answers
// there, one working in this process.
func connect(ctx context.Context, addr, dataDir string, env Env) (modelsClient, error) {
	c := &remoteClient{addr: addr, dataDir: dataDir}
	var health map[string]any
	err := c.call(ctx, http.MethodGet, "/api/status", nil, &health)
	var down *noServerError
	if err == nil {
		return c, nil
	}
	if !errors.As(err, &down) && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	l, err := server.OpenDownloads(ctx, dataDir, env.Getenv, nil)
	if err != nil {
		return nil, fmt.Errorf("no modelbar answers at %s, and working without it failed: %w", addr, err)
	}
	return &localClient{l: l}, nil
}

// remoteClient talks to a running modelbar.
type remoteClient struct{ addr, dataDir string }

func (c *remoteClient) where() string { return "the modelbar at " + c.addr }
func (c *remoteClient) close()        {}

// call sends one admin API request with the token from the data dir.
func (c *remoteClient) call(ctx context.Context, method, path string, in, out any) error {
	token, err := auth.ReadToken(c.dataDir)
	if err != nil {
		return err
	}
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, gateway.ClientBaseURL(c.addr)+path, body)
	if err != nil {
		return fmt.Errorf("address %q: %w", c.addr, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return &noServerError{addr: c.addr, err: op.Err}
	}
	if err != nil {
		return fmt.Errorf("the modelbar at %s did not answer: %w", c.addr, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	switch {
	case resp.StatusCode == http.StatusUnauthorized && path == "/api/status":
		return fmt.Errorf("the modelbar at %s refused the admin token in %s: it runs with another data dir (pass its --data-dir)",
			c.addr, auth.TokenPath(c.dataDir))
	case resp.StatusCode >= 300:
		return errors.New(apiMessage(data))
	case out == nil:
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s at %s: the answer is not the JSON expected: %w", method, path, c.addr, err)
	}
	return nil
}

func (c *remoteClient) start(ctx context.Context, repo, revision string) (downloads.Download, error) {
	var d downloads.Download
	err := c.call(ctx, http.MethodPost, "/api/downloads", map[string]string{"repo": repo, "revision": revision}, &d)
	return d, err
}

func (c *remoteClient) get(ctx context.Context, id string) (downloads.Download, error) {
	var d downloads.Download
	err := c.call(ctx, http.MethodGet, "/api/downloads/"+id, nil, &d)
	return d, err
}

func (c *remoteClient) cancel(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodDelete, "/api/downloads/"+id, nil, nil)
}

func (c *remoteClient) models(ctx context.Context) ([]localModel, error) {
	var out []localModel
	err := c.call(ctx, http.MethodGet, "/api/models", nil, &out)
	return out, err
}

func (c *remoteClient) downloads(ctx context.Context) ([]downloads.Download, error) {
	var out []downloads.Download
	err := c.call(ctx, http.MethodGet, "/api/downloads", nil, &out)
	return out, err
}

func (c *remoteClient) remove(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodDelete, "/api/models/"+id, nil, nil)
}

// localClient works on the data dir in this process.
type localClient struct{ l *server.Downloads }

func (c *localClient) where() string { return "this process (no modelbar is running)" }
func (c *localClient) close()        { c.l.Close() }
func (c *localClient) start(ctx context.Context, repo, revision string) (downloads.Download, error) {
	return c.l.Manager.Start(ctx, repo, revision)
}
func (c *localClient) get(_ context.Context, id string) (downloads.Download, error) {
	return c.l.Manager.Get(id)
}
func (c *localClient) cancel(ctx context.Context, id string) error {
	_, err := c.l.Manager.Cancel(ctx, id, false)
	return err
}
func (c *localClient) downloads(context.Context) ([]downloads.Download, error) {
	return c.l.Manager.List(), nil
}
func (c *localClient) models(context.Context) ([]localModel, error) {
	var out []localModel
	for _, e := range c.l.Discover() {
		out = append(out, localModel{ID: e.ID, Source: e.Source.String(), SizeOnDisk: e.SizeOnDisk, Usable: e.Usable(), Reason: e.Reason})
	}
	return out, nil
}
func (c *localClient) remove(ctx context.Context, id string) error { return c.l.Remove(ctx, id) }

// pullCmd downloads a model: `modelbar pull org/name[@revision]`.
func pullCmd(ctx context.Context, args []string, env Env) int {
	flags, addr, dataDir := clientFlags("pull", env)
	repo, rest := splitArg(args)
	if code, ok := parseClientFlags(flags, rest, env, "pull", dataDir); !ok {
		return code
	}
	if repo == "" {
		fmt.Fprintln(env.Stderr, "modelbar pull: which model? e.g. modelbar pull mlx-community/Qwen2.5-0.5B-Instruct-4bit[@revision]")
		return 2
	}
	repo, rev, _ := strings.Cut(repo, "@")
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := connect(ctx, *addr, *dataDir, env)
	if err != nil {
		fmt.Fprintln(env.Stderr, "modelbar pull:", err)
		return 1
	}
	defer c.close()
	d, err := c.start(ctx, repo, rev)
	if err != nil {
		fmt.Fprintln(env.Stderr, "modelbar pull:", err)
		return 1
	}
	fmt.Fprintf(env.Stderr, "pulling %s@%s (%s) through %s\n", d.Repo, d.Revision, humanSize(d.TotalBytes), c.where())
	bar := newProgress(env.Stdout)
	for !ended(d.State) {
		select {
		case <-ctx.Done():
			bar.end()
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c.cancel(cctx, d.ID)
			cancel()
			fmt.Fprintf(env.Stderr, "modelbar pull: interrupted; the partial files are kept: pull %s again to resume\n", repo)
			return 130
		case <-time.After(250 * time.Millisecond):
		}
		if d, err = c.get(ctx, d.ID); err != nil && ctx.Err() == nil {
			bar.end()
			fmt.Fprintln(env.Stderr, "modelbar pull:", err)
			return 1
		}
		bar.show(d)
	}
	bar.end()
	if d.State != downloads.Done {
		fmt.Fprintf(env.Stderr, "modelbar pull: %s %s: %s\n", repo, d.State, d.Error)
		return 1
	}
	fmt.Fprintf(env.Stdout, "%s is ready: use the model name %q\n", d.Repo, d.ModelID)
	return 0
}

func ended(s downloads.State) bool {
	return s == downloads.Done || s == downloads.Failed || s == downloads.Cancelled
}

// lsCmd lists the models on disk and the downloads not finished.
func lsCmd(ctx context.Context, args []string, env Env) int {
	flags, addr, dataDir := clientFlags("ls", env)
	if code, ok := parseClientFlags(flags, args, env, "ls", dataDir); !ok {
		return code
	}
	c, err := connect(ctx, *addr, *dataDir, env)
	if err == nil {
		defer c.close()
	}
	var models []localModel
	var dls []downloads.Download
	if err == nil {
		models, err = c.models(ctx)
	}
	if err == nil {
		dls, err = c.downloads(ctx)
	}
	if err != nil {
		fmt.Fprintln(env.Stderr, "modelbar ls:", err)
		return 1
	}
	if len(models) == 0 {
		fmt.Fprintln(env.Stdout, "no models on disk: get one with `modelbar pull mlx-community/Qwen2.5-0.5B-Instruct-4bit`")
	}
	for _, m := range models {
		note := "ready"
		if !m.Usable {
			note = "unusable: " + m.Reason
		}
		fmt.Fprintf(env.Stdout, "%-50s %9s  %-9s %s\n", m.ID, humanSize(m.SizeOnDisk), m.Source, note)
	}
	for _, d := range dls {
		if d.State == downloads.Done {
			continue
		}
		fmt.Fprintf(env.Stdout, "%-50s %9s  download %s %s\n", d.Repo+"@"+d.Revision, humanSize(d.TotalBytes), d.State, d.Error)
	}
	return 0
}

// rmCmd removes a model from the disk.
func rmCmd(ctx context.Context, args []string, env Env) int {
	flags, addr, dataDir := clientFlags("rm", env)
	id, rest := splitArg(args)
	if code, ok := parseClientFlags(flags, rest, env, "rm", dataDir); !ok {
		return code
	}
	if id == "" {
		fmt.Fprintln(env.Stderr, "modelbar rm: which model? e.g. modelbar rm mlx-community/Qwen2.5-0.5B-Instruct-4bit (modelbar ls lists them)")
		return 2
	}
	c, err := connect(ctx, *addr, *dataDir, env)
	if err != nil {
		fmt.Fprintln(env.Stderr, "modelbar rm:", err)
		return 1
	}
	defer c.close()
	if err := c.remove(ctx, id); err != nil {
		fmt.Fprintln(env.Stderr, "modelbar rm:", err)
		return 1
	}
	fmt.Fprintf(env.Stdout, "removed %s\n", id)
	return 0
}

// splitArg takes the first argument that is not a flag (flags may come
// before or after it).
func splitArg(args []string) (string, []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			if !strings.Contains(a, "=") && i+1 < len(args) {
				i++ // the flag's value
			}
			continue
		}
		return a, append(args[:i:i], args[i+1:]...)
	}
	return "", args
}

// progress shows a download: a bar redrawn in place on a terminal, else a
// plain line every few seconds.
type progress struct {
	w     io.Writer
	tty   bool
	last  time.Time
	drawn bool
}

func newProgress(w io.Writer) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		fi, err := f.Stat()
		tty = err == nil && fi.Mode()&os.ModeCharDevice != 0
	}
	return &progress{w: w, tty: tty}
}

func (p *progress) show(d downloads.Download) {
	pct := 0.0
	if d.TotalBytes > 0 {
		pct = float64(d.DoneBytes) / float64(d.TotalBytes)
	}
	if p.tty {
		const width = 30
		n := int(pct * width)
		fmt.Fprintf(p.w, "\r[%s%s] %3.0f%% %s/%s %s/s eta %ds  %s   ", strings.Repeat("=", n), strings.Repeat(" ", width-n), pct*100,
			humanSize(d.DoneBytes), humanSize(d.TotalBytes), humanSize(d.RateBPS), d.ETASeconds, d.State)
		p.drawn = true
		return
	}
	if time.Since(p.last) < 2*time.Second && !ended(d.State) {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "%s %3.0f%% %s of %s\n", d.State, pct*100, humanSize(d.DoneBytes), humanSize(d.TotalBytes))
}

func (p *progress) end() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
