package clients

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/connect"
)

// clientCase is one run of a real client: a prompt through one gateway.
type clientCase struct {
	client  string          // its ID in backend/connect
	gateway string          // the API of the provider the route goes to
	kind    string          // "text" or "tool"
	opts    connect.Options // models and key; BaseURL is the gateway's
	// bin is the executable, relative to node_modules/.bin; args builds
	// its command line.
	bin  string
	args func(r invocation) []string
	// isolation: variables and home-relative files the suite adds to the
	// rendered configuration (telemetry and update checks off).
	env   []string
	files map[string]string
	// answer extracts the client's final answer from its output (nil: the
	// whole output is the answer).
	answer  func(stdout string) (string, error)
	timeout time.Duration
	// wantModel, if set, is a model name the provider must see.
	wantModel string
	// api is the API the client speaks to modelbar.
	api string
}

// apiPath is where each API's requests go.
var apiPath = map[string]string{"openai": "/v1/chat/completions", "anthropic": "/v1/messages", "responses": "/v1/responses"}

// invocation is what a command line may name.
type invocation struct {
	Prompt string
	Home   string // the client's fresh home
	Work   string // its working directory
}

var caseSeq atomic.Int64

// prompt is a case's instruction; the tag tells the fakes what to do.
func prompt(kind, id string) string {
	switch kind {
	case "tool":
		return "[[e2e:tool:" + id + "]] Use your shell tool to run the command you are given, then report."
	default:
		return "[[e2e:text:" + id + "]] Answer with the marker."
	}
}

var idRE = regexp.MustCompile(`[^a-z0-9-]+`)

// caseID is a unique ID for the test's case.
func caseID(t *testing.T) string {
	name := strings.ToLower(strings.TrimPrefix(t.Name(), "Test"))
	return fmt.Sprintf("%s-%d", strings.Trim(idRE.ReplaceAllString(name, "-"), "-"), caseSeq.Add(1))
}

// run runs the case and checks what the client printed, the file its tool
// wrote, what modelbar and the fakes saw, and the network guard's log.
func (c clientCase) run(t *testing.T) {
	requireSuite(t)
	t.Parallel()
	id := caseID(t)
	s := c.session(t)
	cases.Store(id, s.work)
	res := s.exec(c.timeout, filepath.Join(suite.dir, "node_modules", ".bin", c.bin),
		c.args(invocation{Prompt: prompt(c.kind, id), Home: s.home, Work: s.work})...)
	problems := res.problems()
	answer := res.stdout
	if c.answer != nil {
		a, err := c.answer(res.stdout)
		if err != nil {
			problems = append(problems, "cannot read the answer: "+err.Error())
		}
		answer = a
	}
	problems = append(problems, c.check(id, s.work, answer)...)
	t.Logf("%s in %.1fs; provider saw models %q", c.bin, res.end.Sub(res.start).Seconds(), modelsSeen(id))
	if len(problems) > 0 {
		t.Errorf("%s\n%s", strings.Join(problems, "\n"), res.debug(id))
	}
}

// session is one client process's world: a fresh home, a work dir, the
// rendered configuration and the environment.
type session struct {
	gw                    *gateway
	root, home, work, tmp string
	env                   []string
}

func (c clientCase) session(t *testing.T) *session {
	t.Helper()
	// Under the suite's temporary directory, which MODELBAR_E2E_KEEP keeps.
	root, err := os.MkdirTemp(suite.tmp, idRE.ReplaceAllString(strings.ToLower(t.Name()), "-")+"-")
	if err != nil {
		t.Fatal(err)
	}
	s := &session{gw: suite.gws[c.gateway], root: root}
	s.home, s.work, s.tmp = filepath.Join(s.root, "home"), filepath.Join(s.root, "work"), filepath.Join(s.root, "tmp")
	for _, d := range []string{s.home, s.work, s.tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := c.opts
	opts.BaseURL = s.gw.url
	if s.gw.apiKey != "" {
		opts.APIKey = s.gw.apiKey // what the snippets say to do with a key
	}
	cl, ok := connect.Find(connect.Clients(opts), c.client)
	if !ok {
		t.Fatalf("backend/connect renders no client %q", c.client)
	}
	s.env = c.environment(cl, s.home, s.tmp)
	c.writeFiles(t, cl, s.home, s.work)
	return s
}

// result is how a client process ended.
type result struct {
	s              *session
	bin            string   // the program's name
	args           []string // the whole command line
	stdout, stderr string
	err            error
	timeout        time.Duration // set when it ran out of time
	start, end     time.Time
	violations     []string
	guardErr       error
}

// exec runs the program under the network guard, in its own process
// group (killed at the end, with whatever it left running).
func (s *session) exec(timeout time.Duration, bin string, args ...string) result {
	if timeout == 0 {
		timeout = 120 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	guardLog := filepath.Join(s.root, "strace.log")
	cmd := guardedCommand(ctx, guardLog, bin, args...)
	cmd.Dir, cmd.Env = s.work, s.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	r := result{s: s, bin: filepath.Base(bin), args: cmd.Args, start: time.Now()}
	r.err = cmd.Run()
	r.end = time.Now()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if ctx.Err() == context.DeadlineExceeded {
		r.timeout = timeout
	}
	r.stdout, r.stderr = stdout.String(), stderr.String()
	r.violations, r.guardErr = violations(guardLog)
	return r
}

// problems are the process's own: a time-out, a failed exit, the guard.
func (r result) problems() []string {
	var p []string
	bin := r.bin
	switch {
	case r.timeout > 0:
		p = append(p, fmt.Sprintf("%s timed out after %s with no result", bin, r.timeout))
	case r.err != nil:
		p = append(p, fmt.Sprintf("%s exited: %v", bin, r.err))
	}
	if r.guardErr != nil {
		p = append(p, r.guardErr.Error())
	}
	dns := false
	for _, v := range r.violations {
		p = append(p, "network guard: "+bin+" tried "+v)
		dns = dns || strings.Contains(v, "DNS lookup")
	}
	if names := suite.dns.between(r.start, r.end); dns && len(names) > 0 {
		p = append(p, "network guard: names looked up meanwhile (by any client running then): "+strings.Join(names, ", "))
	}
	return p
}

// environment is the rendered configuration's variables on a bare
// environment (no variable of the machine's leaks in), plus isolation.
func (c clientCase) environment(cl connect.Client, home, tmp string) []string {
	env := []string{
		"HOME=" + home, "USER=root", "LOGNAME=root", "SHELL=/bin/bash", "LANG=C.UTF-8", "TERM=dumb", "NO_COLOR=1",
		"TMPDIR=" + tmp,
		"PATH=" + filepath.Dir(suite.node) + ":" + filepath.Join(suite.dir, "node_modules", ".bin") + ":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"), "XDG_STATE_HOME=" + filepath.Join(home, ".local", "state"),
		"npm_config_registry=" + suite.registry.url + "/", "npm_config_update_notifier=false",
	}
	for _, e := range cl.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	for _, e := range c.env {
		env = append(env, strings.ReplaceAll(e, "$HOME", home)) // the session's home, for CODEX_HOME
	}
	return env
}

// writeFiles writes the rendered files ("~/" in the home, others in the
// work dir) and the suite's isolation files.
func (c clientCase) writeFiles(t *testing.T, cl connect.Client, home, work string) {
	t.Helper()
	write := func(path, content string) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range cl.Files {
		if rest, ok := strings.CutPrefix(f.Path, "~/"); ok {
			write(filepath.Join(home, rest), f.Content)
		} else {
			write(filepath.Join(work, f.Path), f.Content)
		}
	}
	for rel, content := range c.files {
		write(filepath.Join(home, rel), content)
	}
}

// check returns what is wrong with the case's outcome, given the
// client's answer.
func (c clientCase) check(id, work, answer string) []string {
	var problems []string
	recs := suite.rec.forCase(id)
	if len(recs) == 0 {
		problems = append(problems, "no request of this case reached a fake provider")
	}
	if want := apiPath[c.api]; want != "" && !suite.gws[c.gateway].sawPath(id, want) {
		problems = append(problems, "no request of this case reached modelbar at "+want)
	}
	if c.wantModel != "" && !slices.Contains(modelsSeen(id), c.wantModel) {
		problems = append(problems, fmt.Sprintf("the provider was never asked for model %q (it saw %q)", c.wantModel, modelsSeen(id)))
	}
	switch c.kind {
	case "text":
		if !strings.Contains(answer, textMarker(id)) {
			problems = append(problems, "the answer lacks the fake's text "+textMarker(id)+": "+cut(strings.TrimSpace(answer), 500))
		}
	case "tool":
		got, err := os.ReadFile(caseFile(id, work))
		switch {
		case err != nil:
			problems = append(problems, "the tool did not write its file: "+err.Error())
		case string(got) != fileMarker(id):
			problems = append(problems, fmt.Sprintf("the file holds %q, want %q", got, fileMarker(id)))
		}
		if !decided(recs, "final") {
			problems = append(problems, "the tool result never came back to the provider")
		}
		if !strings.Contains(answer, toolMarker(id)) {
			problems = append(problems, "the answer lacks the fake's final text "+toolMarker(id)+": "+cut(strings.TrimSpace(answer), 500))
		}
	}
	return problems
}

func decided(recs []record, d string) bool {
	for _, r := range recs {
		if r.Decision == d {
			return true
		}
	}
	return false
}

func modelsSeen(id string) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range suite.rec.forCase(id) {
		if !seen[r.Model] {
			seen[r.Model] = true
			out = append(out, r.Model)
		}
	}
	return out
}

// debug is what a failing case prints: the command, the output's tails,
// modelbar's answers and what the fakes saw, during the case.
func (r result) debug(id string) string {
	var b strings.Builder
	gw := r.s.gw
	fmt.Fprintf(&b, "--- case %s through modelbar routed to the %s fake (%s); home, work dir and strace log in %s\n", id, gw.name, gw.url, r.s.root)
	args := make([]string, len(r.args))
	for i, a := range r.args {
		args[i] = cut(a, 300)
	}
	fmt.Fprintf(&b, "--- command: %s\n", strings.Join(args, " "))
	fmt.Fprintf(&b, "--- stdout (tail):\n%s\n", tail(r.stdout, 3000))
	fmt.Fprintf(&b, "--- stderr (tail):\n%s\n", tail(r.stderr, 3000))
	b.WriteString("--- modelbar's answers during the case (this case's, and untagged ones from any case running then):\n")
	for _, e := range gw.between(r.start, r.end) {
		if e.CaseID == id || e.CaseID == "" {
			b.WriteString("  " + e.String() + "\n")
		}
	}
	b.WriteString("--- requests the fakes received for this case:\n")
	for _, rec := range suite.rec.forCase(id) {
		b.WriteString("  " + rec.String() + "\n")
	}
	return b.String()
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

var errNoAnswer = errors.New("no answer found in the output")
