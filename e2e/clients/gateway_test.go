package clients

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
)

// gateway is one `modelbar serve` whose only route sends every model to one
// fake provider (or to the local engine's generated model), behind a recording proxy: clients get the proxy's
// address, so the suite can show what modelbar answered (status, and the
// body of every error).
type gateway struct {
	name    string // the provider's API: "anthropic" or "openai"; or "local"
	apiKey  string // an inference key, when the gateway requires them
	addr    string // modelbar's
	url     string // the proxy's: what clients are given
	token   string // the admin token
	cmd     *exec.Cmd
	logFile string
	proxy   *http.Server

	mu        sync.Mutex
	exchanges []exchange // guarded by mu
}

// exchange is one request through the proxy and modelbar's answer.
type exchange struct {
	Time    time.Time
	Method  string
	Path    string
	Model   string
	CaseID  string
	Status  int
	Backend string // X-Modelbar-Backend
	Body    string // error answers only
}

func (e exchange) String() string {
	s := fmt.Sprintf("%s %s %s model=%q case=%q -> %d", e.Time.Format("15:04:05.000"), e.Method, e.Path, e.Model, e.CaseID, e.Status)
	if e.Body != "" {
		s += "\n    " + e.Body
	}
	return s
}

// startGateway starts modelbar with both fake providers and a `*` route to
// the one named backend; with keyed, it requires inference keys and
// g.apiKey is one. Backend "local" is the local engine: a generated
// random-weight model (localModel) in the data directory's models/.
func startGateway(bin, dir, backend string, keyed bool) (*gateway, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	g := &gateway{name: backend, addr: "127.0.0.1:" + port, logFile: filepath.Join(dir, "modelbar.log")}
	data := filepath.Join(dir, "data")
	if backend == "local" {
		if err := writeLocalModel(filepath.Join(data, "models", filepath.FromSlash(localModel))); err != nil {
			return nil, err
		}
	}
	logf, err := os.Create(g.logFile)
	if err != nil {
		return nil, err
	}
	g.cmd = exec.Command(bin, "serve", "--addr", g.addr, "--data-dir", data)
	g.cmd.Env = []string{"HOME=" + dir, "PATH=/usr/bin:/bin", "MODELBAR_SECRETS=file", "TMPDIR=" + dir}
	g.cmd.Stdout, g.cmd.Stderr = logf, logf
	if err := g.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start modelbar: %w", err)
	}
	if err := g.waitReady(data); err != nil {
		g.close()
		return nil, err
	}
	if err := g.configure(backend); err != nil {
		g.close()
		return nil, err
	}
	if keyed {
		if err := g.requireKeys(); err != nil {
			g.close()
			return nil, err
		}
	}
	if err := g.startProxy(); err != nil {
		g.close()
		return nil, err
	}
	return g, nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port, nil
}

func (g *gateway) waitReady(data string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + g.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			tok, err := os.ReadFile(filepath.Join(data, "admin-token"))
			if err == nil && resp.StatusCode == 200 {
				g.token = strings.TrimSpace(string(tok))
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := os.ReadFile(g.logFile)
	return fmt.Errorf("modelbar at %s did not become ready in 30 s; its log:\n%s", g.addr, log)
}

func (g *gateway) configure(backend string) error {
	route := map[string]any{"model_pattern": "*", "backend": "fake-" + backend, "priority": 0, "enabled": true}
	if backend == "local" {
		route["backend"], route["backend_model"] = "local", localModel
	}
	calls := []struct {
		method, path string
		body         any
	}{
		{"PUT", "/api/providers/fake-openai", map[string]any{"type": "openai", "base_url": suite.openai.url, "api_key": "fake-openai-key"}},
		{"PUT", "/api/providers/fake-anthropic", map[string]any{"type": "anthropic", "base_url": suite.anthropic.url, "api_key": "fake-anthropic-key"}},
		{"POST", "/api/routes", route},
	}
	for _, c := range calls {
		if _, err := g.admin(c.method, c.path, c.body); err != nil {
			return err
		}
	}
	return nil
}

// requireKeys turns inference keys on and creates one.
func (g *gateway) requireKeys() error {
	out, err := g.admin("POST", "/api/keys", map[string]any{"name": "e2e"})
	if err != nil {
		return err
	}
	var k struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(out, &k); err != nil || k.Key == "" {
		return fmt.Errorf("POST /api/keys answered %s: %v", out, err)
	}
	g.apiKey = k.Key
	_, err = g.admin("PUT", "/api/settings", map[string]any{"require_api_keys": true})
	return err
}

// admin calls modelbar's admin API.
func (g *gateway) admin(method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(jsonString(body))
	}
	req, err := http.NewRequest(method, "http://"+g.addr+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+g.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, out)
	}
	return out, nil
}

func (g *gateway) startProxy() error {
	target, _ := url.Parse("http://" + g.addr)
	rp := &httputil.ReverseProxy{
		Rewrite:       func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.Out.Host = pr.In.Host },
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			ex := resp.Request.Context().Value(exchangeKey{}).(*exchange)
			ex.Status = resp.StatusCode
			ex.Backend = resp.Header.Get("X-Modelbar-Backend")
			if resp.StatusCode >= 400 {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
				resp.Body.Close()
				ex.Body = cut(string(b), 2048)
				resp.Body = io.NopCloser(bytes.NewReader(b))
			}
			// Recorded when the answer starts, not when it ends: a client
			// may exit as soon as it has read what it needs.
			g.mu.Lock()
			g.exchanges = append(g.exchanges, *ex)
			g.mu.Unlock()
			return nil
		},
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		ex := &exchange{Time: time.Now(), Method: r.Method, Path: r.URL.String()}
		var m map[string]any
		if json.Unmarshal(body, &m) == nil {
			ex.Model, _ = m["model"].(string)
		}
		if tags := tagRE.FindAllStringSubmatch(string(body), -1); len(tags) > 0 {
			ex.CaseID = tags[len(tags)-1][2]
		}
		rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, ex)))
		if ex.Status == 0 { // no answer: the proxy's 502
			ex.Status = 502
			g.mu.Lock()
			g.exchanges = append(g.exchanges, *ex)
			g.mu.Unlock()
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	g.url = "http://" + ln.Addr().String()
	g.proxy = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go g.proxy.Serve(ln)
	return nil
}

type exchangeKey struct{}

// localModel is the local gateway's model, as the engine lists it.
const localModel = "test/tiny"

// writeLocalModel writes the local gateway's model: a tiny random-weight
// qwen2 (its answers are noise; the suite checks that exchanges complete),
// with a context long enough for a coding agent's system prompt in its
// byte-level tokenizer. Its generation_config.json makes every 16th
// token of its vocabulary an end of turn, so that its answers are a few
// tokens long (or none) (a client such as Codex sets no output limit, and the noise
// of random weights rarely hits the one real end token: hundreds or
// thousands of tokens).
func writeLocalModel(dir string) error {
	if err := testmodel.Write(dir, testmodel.Spec{Architecture: "qwen2", Seed: 7, MaxPositionEmbeddings: 1 << 17}); err != nil {
		return err
	}
	var ends []int
	for id := 1; id < testmodel.TokenizerSize; id += 16 {
		ends = append(ends, id)
	}
	return os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(jsonString(map[string]any{"eos_token_id": ends})), 0o644)
}

// forCase returns the exchanges of a case.
func (g *gateway) forCase(id string) []exchange {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []exchange
	for _, e := range g.exchanges {
		if e.CaseID == id {
			out = append(out, e)
		}
	}
	return out
}

// between returns the exchanges that started in [from, to].
func (g *gateway) between(from, to time.Time) []exchange {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []exchange
	for _, e := range g.exchanges {
		if !e.Time.Before(from) && !e.Time.After(to) {
			out = append(out, e)
		}
	}
	return out
}

// sawPath says whether a request of the case went to a path that starts
// with prefix.
func (g *gateway) sawPath(id, prefix string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, e := range g.exchanges {
		if e.CaseID == id && strings.HasPrefix(e.Path, prefix) {
			return true
		}
	}
	return false
}

func (g *gateway) close() {
	if g.proxy != nil {
		g.proxy.Close()
	}
	if g.cmd != nil && g.cmd.Process != nil {
		g.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { g.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			g.cmd.Process.Kill()
		}
	}
}
