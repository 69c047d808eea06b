package cli

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func runMain(args []string, env map[string]string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), args, Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return env[k] }})
	return code, stdout.String(), stderr.String()
}

func TestMain_Commands(t *testing.T) {
	tests := []struct {
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{nil, 2, "", "modelbar serve"},
		{[]string{"version"}, 0, "modelbar dev", ""},
		{[]string{"help"}, 0, "modelbar serve [--addr", ""},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"serve", "--nope"}, 2, "", "flag provided but not defined"},
		{[]string{"serve", "extra"}, 2, "", `unexpected argument "extra"`},
		{[]string{"serve", "--log-level", "loud"}, 2, "", "--log-level"},
		{[]string{"help"}, 0, "modelbar ui [--addr", ""},
		{[]string{"help"}, 0, "modelbar rotate-token", ""},
		{[]string{"help"}, 0, "modelbar pull org/name[@revision]", ""},
		{[]string{"ls", "extra"}, 2, "", `unexpected argument "extra"`},
		{[]string{"pull", "a/b", "c/d"}, 2, "", `unexpected argument "c/d"`},
		{[]string{"ui", "extra"}, 2, "", `unexpected argument "extra"`},
		{[]string{"ui", "--nope"}, 2, "", "flag provided but not defined"},
		{[]string{"rotate-token", "extra"}, 2, "", `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		code, out, errOut := runMain(tt.args, nil)
		if code != tt.wantCode || !strings.Contains(out, tt.wantStdout) || !strings.Contains(errOut, tt.wantStderr) {
			t.Errorf("%v: code %d stdout %q stderr %q", tt.args, code, out, errOut)
		}
	}
}

func TestServe_FailsClearlyWhenTheAddressIsTaken(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	code, _, errOut := runMain([]string{"serve", "--data-dir", t.TempDir()}, map[string]string{"MODELBAR_ADDR": busy.Addr().String()})
	if code != 1 || !strings.Contains(errOut, "in use") {
		t.Errorf("code %d, stderr %q", code, errOut)
	}
}

// TestServe_ProcessLifecycle runs the real binary: flags win over the
// environment, the data dir gets its files with the right modes, requests are
// served, a login link is logged at start and `modelbar ui` prints another,
// and SIGTERM ends it cleanly. (In-flight requests surviving shutdown are
// tested in package server.)
func TestServe_ProcessLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildModelbar(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "MODELBAR_ADDR=256.0.0.1:1", "MODELBAR_DATA_DIR="+dataDir, "MODELBAR_SECRETS=file")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stderr)
	addr := waitForListening(t, lines)
	logged := waitForLine(t, lines, loginLinkLine)
	logRest := make(chan string, 1)
	go func() {
		var rest strings.Builder
		for lines.Scan() {
			rest.WriteString(lines.Text() + "\n")
		}
		logRest <- rest.String()
	}()

	for name, mode := range map[string]os.FileMode{"admin-token": 0o600, ".": 0o700} {
		fi, err := os.Stat(filepath.Join(dataDir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
	token, _ := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/status", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"secrets_backend":"file"`) {
		t.Fatalf("status: %d %s", resp.StatusCode, body)
	}

	// The login link logged at start, and one from `modelbar ui`, each
	// sign a browser in once.
	ui := exec.Command(bin, "ui", "--no-open", "--data-dir", dataDir)
	ui.Env = append(os.Environ(), "MODELBAR_ADDR="+addr)
	printed, err := ui.Output()
	if err != nil {
		t.Fatalf("modelbar ui: %v", err)
	}
	for _, link := range []string{logged[1], strings.TrimSuffix(string(printed), "\n")} {
		if !strings.HasPrefix(link, "http://"+addr+"/ui/login?code=") || strings.Contains(link, "\n") {
			t.Errorf("login link %q", link)
			continue
		}
		if status, ck := follow(t, link); status != http.StatusSeeOther || ck == nil {
			t.Errorf("login link %s: %d, cookie %v", link, status, ck)
		}
		if status, _ := follow(t, link); status != http.StatusUnauthorized {
			t.Errorf("login link %s used twice: %d", link, status)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The log is read to its end (the process closing stderr) before Wait,
	// which closes the pipe and could cut off the last lines.
	var rest string
	select {
	case rest = <-logRest:
	case <-time.After(20 * time.Second):
		t.Fatal("no exit 20s after SIGTERM")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if !strings.Contains(rest, "msg=stopped") {
		t.Errorf("no clean stop in the log:\n%s", rest)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "modelbar.db")); err != nil {
		t.Errorf("database missing: %v", err)
	}
}

var (
	listeningAddr = regexp.MustCompile(`msg="modelbar listening" addr=http://(\S+)`)
	loginLinkLine = regexp.MustCompile(`level=INFO msg="open the UI in a browser" url="?([^"\s]+)"? note=".*modelbar ui`)
)

// waitForLine reads log lines until one matches re and returns its submatches.
func waitForLine(t *testing.T, lines *bufio.Scanner, re *regexp.Regexp) []string {
	t.Helper()
	for lines.Scan() {
		if m := re.FindStringSubmatch(lines.Text()); m != nil {
			return m
		}
	}
	t.Fatalf("the server never logged a line matching %s", re)
	return nil
}

func waitForListening(t *testing.T, lines *bufio.Scanner) string {
	t.Helper()
	for lines.Scan() {
		if m := listeningAddr.FindStringSubmatch(lines.Text()); m != nil {
			return m[1]
		}
	}
	t.Fatal("the server never logged its address")
	return ""
}
