package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/auth"
	"github.com/modelbar/modelbar/backend/server"
)

// startServer runs a real server (as `modelbar serve` does) on a free
// loopback port with its own data dir.
func startServer(t *testing.T) (*server.Server, string) {
	t.Helper()
	t.Setenv("MODELBAR_SECRETS", "file")
	dir := t.TempDir()
	srv, err := server.Start(t.Context(), server.Options{Addr: "127.0.0.1:0", DataDir: dir, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return srv, dir
}

// deadAddr is a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func runWith(env Env, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	env.Stdout, env.Stderr = &stdout, &stderr
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	code := Main(context.Background(), args, env)
	return code, stdout.String(), stderr.String()
}

// follow opens a login link as a browser would and returns the session
// cookie it set (nil if none) and the status.
func follow(t *testing.T, link string) (int, *http.Cookie) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if strings.HasPrefix(ck.Name, "modelbar_session_") {
			return resp.StatusCode, ck
		}
	}
	return resp.StatusCode, nil
}

func statusWith(t *testing.T, addr string, ck *http.Cookie, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/status", nil)
	if ck != nil {
		req.AddCookie(ck)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestUI_PrintsAWorkingLinkAndOpensIt(t *testing.T) {
	srv, dir := startServer(t)
	token, _ := auth.ReadToken(dir)
	cases := []struct {
		name     string
		args     []string
		openErr  error
		opened   bool
		inStderr string
	}{
		{"--no-open", []string{"--no-open"}, nil, false, ""},
		{"opens the browser", nil, nil, true, ""},
		{"no browser", nil, errors.New("xdg-open: not found"), true, "could not open a browser (xdg-open: not found)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var opened []string
			env := Env{OpenURL: func(u string) error { opened = append(opened, u); return c.openErr }}
			code, out, errOut := runWith(env, append([]string{"ui", "--addr", srv.Addr(), "--data-dir", dir}, c.args...)...)
			if code != 0 || !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
				t.Fatalf("code %d stdout %q stderr %q: want exit 0 and the link as the only line", code, out, errOut)
			}
			link := strings.TrimSpace(out)
			if !strings.HasPrefix(link, "http://"+srv.Addr()+"/ui/login?code=") {
				t.Errorf("link %q", link)
			}
			if (len(opened) == 1) != c.opened || (c.opened && opened[0] != link) {
				t.Errorf("opened %q, want the link opened: %v", opened, c.opened)
			}
			if c.inStderr != "" && !strings.Contains(errOut, c.inStderr) {
				t.Errorf("stderr %q lacks %q", errOut, c.inStderr)
			}
			if strings.Contains(out+errOut, token) {
				t.Error("the admin token was printed")
			}
			status, ck := follow(t, link)
			if status != http.StatusSeeOther || ck == nil {
				t.Fatalf("following the link: %d, cookie %v", status, ck)
			}
			if got := statusWith(t, srv.Addr(), ck, ""); got != http.StatusOK {
				t.Errorf("GET /api/status with the session: %d", got)
			}
		})
	}
}

func TestUI_FailsClearlyWithoutAServer(t *testing.T) {
	srv, _ := startServer(t)
	withToken := t.TempDir()
	if _, err := auth.LoadToken(withToken); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, addr, dir, want string
	}{
		{"nothing listens", deadAddr(t), withToken, "`modelbar serve`"},
		{"no token in the data dir", deadAddr(t), t.TempDir(), "`modelbar serve`"},
		{"the server uses another data dir", srv.Addr(), withToken, "refused the admin token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opened := false
			env := Env{OpenURL: func(string) error { opened = true; return nil }}
			code, out, errOut := runWith(env, "ui", "--addr", c.addr, "--data-dir", c.dir)
			if code != 1 || out != "" || !strings.Contains(errOut, c.want) || opened {
				t.Errorf("code %d stdout %q stderr %q opened %v: want exit 1 and stderr naming %s", code, out, errOut, opened, c.want)
			}
		})
	}
}

func TestUI_DefaultsFromTheEnvironment(t *testing.T) {
	srv, dir := startServer(t)
	env := Env{Getenv: func(k string) string {
		return map[string]string{"MODELBAR_ADDR": srv.Addr(), "MODELBAR_DATA_DIR": dir}[k]
	}}
	code, out, errOut := runWith(env, "ui", "--no-open")
	if code != 0 || !strings.Contains(out, srv.Addr()+"/ui/login?code=") {
		t.Errorf("code %d stdout %q stderr %q", code, out, errOut)
	}
}

func TestRotateToken_ThroughTheServer(t *testing.T) {
	srv, dir := startServer(t)
	old, _ := auth.ReadToken(dir)
	link, _ := srv.LoginLink()
	_, ck := follow(t, link)
	code, out, errOut := runWith(Env{}, "rotate-token", "--addr", srv.Addr(), "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "rotated the admin token of the modelbar at "+srv.Addr()) || !strings.Contains(out, "1 browser session signed out") {
		t.Fatalf("code %d stdout %q stderr %q", code, out, errOut)
	}
	now, _ := auth.ReadToken(dir)
	if now == old || strings.Contains(out+errOut, now) || strings.Contains(out+errOut, old) {
		t.Errorf("token not rotated, or printed: %q %q", out, errOut)
	}
	for _, c := range []struct {
		name  string
		ck    *http.Cookie
		token string
		want  int
	}{
		{"old token", nil, old, http.StatusUnauthorized},
		{"new token", nil, now, http.StatusOK},
		{"session from before", ck, "", http.StatusUnauthorized},
	} {
		if got := statusWith(t, srv.Addr(), c.ck, c.token); got != c.want {
			t.Errorf("%s after rotate-token: %d, want %d", c.name, got, c.want)
		}
	}
	// The server keeps answering in process (the desktop window).
	if status, _ := srv.CallAdmin(t.Context(), "GET", "/api/status", nil); status != http.StatusOK {
		t.Errorf("CallAdmin after rotate-token: %d", status)
	}
}

func TestRotateToken_WithoutAServer(t *testing.T) {
	cases := []struct {
		name    string
		prepare func(dir string)
	}{
		{"a token file", func(dir string) { auth.LoadToken(dir) }},
		{"no token file yet", func(string) {}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			c.prepare(dir)
			old, _ := auth.ReadToken(dir)
			code, out, errOut := runWith(Env{}, "rotate-token", "--addr", deadAddr(t), "--data-dir", dir)
			if code != 0 || !strings.Contains(out, "no modelbar answered at") || !strings.Contains(out, auth.TokenPath(dir)) {
				t.Fatalf("code %d stdout %q stderr %q", code, out, errOut)
			}
			now, err := auth.ReadToken(dir)
			if err != nil || now == old || strings.Contains(out+errOut, now) {
				t.Errorf("file not rewritten, or the token printed: %v %q", err, out)
			}
			if fi, err := os.Stat(auth.TokenPath(dir)); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("token file mode: %v %v", fi, err)
			}
		})
	}
}

func TestRotateToken_RefusedByAServerOfAnotherDataDir(t *testing.T) {
	srv, _ := startServer(t)
	dir := t.TempDir()
	old, _ := auth.LoadToken(dir)
	code, out, errOut := runWith(Env{}, "rotate-token", "--addr", srv.Addr(), "--data-dir", dir)
	if code != 1 || !strings.Contains(errOut, "refused the admin token") {
		t.Errorf("code %d stdout %q stderr %q", code, out, errOut)
	}
	if now, _ := auth.ReadToken(dir); now != old {
		t.Error("the file was rewritten although a server answered")
	}
}
