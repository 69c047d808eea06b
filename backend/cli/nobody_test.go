package cli

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain also serves as the helper that another Unix user runs (see
// TestUI_AnotherUserCannotGetIn), and removes the binary the package's
// tests share.
func TestMain(m *testing.M) {
	if os.Getenv("MODELBAR_TEST_FETCH_BASE") != "" {
		os.Exit(fetchAsHelper())
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// fetched is what the helper reports: who it ran as, whether it could read
// the token file, and every answer it got.
type fetched struct {
	UID          int      `json:"uid"`
	TokenFileErr string   `json:"token_file_err"`
	Answers      []answer `json:"answers"`
}

type answer struct {
	Request string `json:"request"` // "METHOD path"
	Status  int    `json:"status"`
	Body    string `json:"body"`
	Cookies int    `json:"cookies"` // Set-Cookie headers
}

// fetchAsHelper sends each request of MODELBAR_TEST_FETCH_REQUESTS (lines
// "METHOD path") to MODELBAR_TEST_FETCH_BASE without credentials, tries to
// read MODELBAR_TEST_FETCH_TOKEN_FILE, and prints a fetched as JSON.
func fetchAsHelper() int {
	base := os.Getenv("MODELBAR_TEST_FETCH_BASE")
	out := fetched{UID: os.Getuid()}
	if _, err := os.ReadFile(os.Getenv("MODELBAR_TEST_FETCH_TOKEN_FILE")); err != nil {
		out.TokenFileErr = err.Error()
	}
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, line := range strings.Split(strings.TrimSpace(os.Getenv("MODELBAR_TEST_FETCH_REQUESTS")), "\n") {
		method, path, _ := strings.Cut(line, " ")
		a := answer{Request: line}
		req, _ := http.NewRequest(method, base+path, strings.NewReader(`{"type":"openai","base_url":"http://127.0.0.1:9/v1"}`))
		req.Header.Set("Content-Type", "application/json")
		if resp, err := client.Do(req); err != nil {
			a.Body = "error: " + err.Error()
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			a.Status, a.Body, a.Cookies = resp.StatusCode, string(b), len(resp.Header.Values("Set-Cookie"))
		}
		out.Answers = append(out.Answers, a)
	}
	json.NewEncoder(os.Stdout).Encode(out)
	return 0
}

// asNobody runs name with args as uid/gid 65534 with no supplementary
// groups, as another local user would.
func asNobody(name string, args ...string) *exec.Cmd {
	return exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", name}, args...)...)
}

func needRootAndSetpriv(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run a request as another user (uid 65534) with setpriv")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (util-linux), to run a request as another user (uid 65534)")
	}
}

// worldExecutable copies the file at src into a new directory others may
// enter and returns the copy's path.
func worldExecutable(t *testing.T, src string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "modelbar-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestUI_AnotherUserCannotGetIn is the audit's finding as a test: a real
// `modelbar serve` (run by root, data dir 0700), and another Unix user on
// the same machine (uid 65534) who fetches /ui/ and every file of the built
// UI, calls the admin API, and runs `modelbar ui`. None of it may yield the
// admin token, a session or a login link.
func TestUI_AnotherUserCannotGetIn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	needRootAndSetpriv(t)
	bin := worldExecutable(t, buildModelbar(t))
	dataDir := filepath.Join(t.TempDir(), "data")
	p := startModelbar(t, bin, dataDir)

	requests := []string{"GET /ui/", "GET /ui/index.html", "GET /ui/login?code=AAAAAAAAAAAAAAAAAAAAAAAAAA"}
	assets := uiFiles(t)
	for _, f := range assets {
		requests = append(requests, "GET /ui/"+f)
	}
	apiCalls := []string{"GET /api/status", "GET /api/providers", "GET /api/sessions", "POST /api/login-link",
		"PUT /api/providers/stolen", "POST /api/keys", "POST /api/admin-token/rotate"}
	requests = append(requests, apiCalls...)

	helper := worldExecutable(t, os.Args[0])
	cmd := asNobody(helper, "-test.run=^$")
	cmd.Env = append(os.Environ(), "MODELBAR_TEST_FETCH_BASE="+p.base, "MODELBAR_TEST_FETCH_REQUESTS="+strings.Join(requests, "\n"),
		"MODELBAR_TEST_FETCH_TOKEN_FILE="+filepath.Join(dataDir, "admin-token"))
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("the helper as uid 65534: %v %s", err, raw)
	}
	var got fetched
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("helper output %q: %v", raw, err)
	}
	if got.UID != 65534 || got.TokenFileErr == "" {
		t.Fatalf("the helper ran as uid %d and could read the token file (%q): the test proves nothing", got.UID, got.TokenFileErr)
	}
	byRequest := map[string]answer{}
	for _, a := range got.Answers {
		byRequest[a.Request] = a
		if strings.Contains(a.Body, p.token) {
			t.Errorf("%s as another user: the answer contains the admin token", a.Request)
		}
		if a.Cookies != 0 {
			t.Errorf("%s as another user: %d cookies set", a.Request, a.Cookies)
		}
	}
	for _, r := range requests[:2] {
		if a := byRequest[r]; a.Status != http.StatusOK || !strings.Contains(a.Body, "<html") {
			t.Errorf("%s: %d, want the page (without a secret)", r, a.Status)
		}
	}
	for _, f := range assets {
		if a := byRequest["GET /ui/"+f]; a.Status != http.StatusOK {
			t.Errorf("GET /ui/%s: %d, want 200", f, a.Status)
		}
	}
	if a := byRequest[requests[2]]; a.Status != http.StatusUnauthorized {
		t.Errorf("a made-up login code: %d, want 401", a.Status)
	}
	for _, r := range apiCalls {
		if a := byRequest[r]; a.Status != http.StatusUnauthorized {
			t.Errorf("%s without a credential: %d %s, want 401", r, a.Status, a.Body)
		}
	}

	// `modelbar ui` as that user cannot read the token, so gets no link.
	ui := asNobody(bin, "ui", "--no-open", "--addr", strings.TrimPrefix(p.base, "http://"), "--data-dir", dataDir)
	ui.Env = os.Environ()
	var stderr strings.Builder
	ui.Stderr = &stderr
	out, err := ui.Output()
	if err == nil || strings.Contains(string(out), "/ui/login") {
		t.Errorf("modelbar ui as another user: %v, stdout %q, stderr %q: want a failure and no link", err, out, stderr.String())
	}
	if status := statusWithToken(t, p.base, p.token); status != http.StatusOK {
		t.Errorf("the owner's token after all that: %d", status)
	}
}

func statusWithToken(t *testing.T, base, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/status", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// uiFiles lists the built UI's files (frontend/dist, which the binary
// embeds), as paths under /ui/.
func uiFiles(t *testing.T) []string {
	t.Helper()
	dist := filepath.Join("..", "..", "frontend", "dist")
	var files []string
	err := filepath.WalkDir(dist, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dist, path)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("the built UI in %s: %v (%d files): build the frontend first", dist, err, len(files))
	}
	return files
}
