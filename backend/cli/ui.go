package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/modelbar/modelbar/backend/auth"
	"github.com/modelbar/modelbar/backend/gateway"
	"github.com/modelbar/modelbar/backend/server"
)

// `modelbar ui` and `modelbar rotate-token` are clients of a running
// modelbar's admin API, with the token from its data dir.

// uiCmd prints a one-time login link from the running server and opens it
// in the default browser.
func uiCmd(ctx context.Context, args []string, env Env) int {
	flags, addr, dataDir := clientFlags("ui", env)
	noOpen := flags.Bool("no-open", false, "print the link without opening a browser")
	if code, ok := parseClientFlags(flags, args, env, "ui", dataDir); !ok {
		return code
	}
	var link struct {
		URL string `json:"url"`
	}
	if err := adminCall(ctx, *addr, *dataDir, http.MethodPost, "/api/login-link", &link); err != nil {
		fmt.Fprintln(env.Stderr, "modelbar ui:", err)
		return 1
	}
	fmt.Fprintln(env.Stdout, link.URL)
	if *noOpen {
		return 0
	}
	open := env.OpenURL
	if open == nil {
		open = func(url string) error { return openBrowser(url, env.Stderr) }
	}
	if err := open(link.URL); err != nil {
		fmt.Fprintf(env.Stderr, "modelbar ui: could not open a browser (%v): open the link above yourself; it works once, within 60 s\n", err)
	}
	return 0
}

// rotateTokenCmd replaces the admin token: through the running server when
// one answers (its sessions end and it takes the new token at once), else
// in the file.
func rotateTokenCmd(ctx context.Context, args []string, env Env) int {
	flags, addr, dataDir := clientFlags("rotate-token", env)
	if code, ok := parseClientFlags(flags, args, env, "rotate-token", dataDir); !ok {
		return code
	}
	file := auth.TokenPath(*dataDir)
	var out struct {
		SessionsRevoked int `json:"sessions_revoked"`
	}
	err := adminCall(ctx, *addr, *dataDir, http.MethodPost, "/api/admin-token/rotate", &out)
	var down *noServerError
	switch {
	case err == nil:
		fmt.Fprintf(env.Stdout, "rotated the admin token of the modelbar at %s: it takes only the new token in %s now; %s signed out\n",
			*addr, file, plural(out.SessionsRevoked, "browser session"))
		return 0
	case errors.Is(err, fs.ErrNotExist), errors.As(err, &down):
		if err := auth.RotateFile(*dataDir); err != nil {
			fmt.Fprintln(env.Stderr, "modelbar rotate-token:", err)
			return 1
		}
		fmt.Fprintf(env.Stdout, "no modelbar answered at %s: wrote a new admin token to %s; a modelbar started with this data dir uses it "+
			"(one running at another address keeps its old token until it restarts)\n", *addr, file)
		return 0
	}
	fmt.Fprintln(env.Stderr, "modelbar rotate-token:", err)
	return 1
}

// clientFlags are the flags of a command that talks to a running server:
// the same address and data dir defaults as `modelbar serve`.
func clientFlags(name string, env Env) (*flag.FlagSet, *string, *string) {
	flags := flag.NewFlagSet(name, flag.ContinueOnError)
	flags.SetOutput(env.Stderr)
	addr := flags.String("addr", envOr(env, "MODELBAR_ADDR", server.DefaultAddr), "the running modelbar's address (env MODELBAR_ADDR)")
	dataDir := flags.String("data-dir", envOr(env, "MODELBAR_DATA_DIR", ""), "its data directory, holding admin-token (env MODELBAR_DATA_DIR; default <user config dir>/modelbar)")
	return flags, addr, dataDir
}

// parseClientFlags parses args and fills in the default data dir; ok false
// means exit with code.
func parseClientFlags(flags *flag.FlagSet, args []string, env Env, name string, dataDir *string) (code int, ok bool) {
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "modelbar %s: unexpected argument %q\n", name, flags.Arg(0))
		return 2, false
	}
	if *dataDir == "" {
		dir, err := defaultDataDir()
		if err != nil {
			fmt.Fprintf(env.Stderr, "modelbar %s: %v\n", name, err)
			return 1, false
		}
		*dataDir = dir
	}
	return 0, true
}

// noServerError: nothing accepted a connection at the address.
type noServerError struct {
	addr string
	err  error
}

func (e *noServerError) Error() string {
	return fmt.Sprintf("no modelbar answers at %s (%v): start it with `modelbar serve` (or the desktop app), or pass the --addr it listens on", e.addr, e.err)
}

func (e *noServerError) Unwrap() error { return e.err }

// adminCall sends one admin API request to the modelbar at addr with the
// token in dataDir and decodes its JSON answer into out.
func adminCall(ctx context.Context, addr, dataDir, method, path string, out any) error {
	token, err := auth.ReadToken(dataDir)
	if err != nil {
		return fmt.Errorf("%w: has a modelbar run with --data-dir %s? start one with `modelbar serve`", err, dataDir)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, gateway.ClientBaseURL(addr)+path, nil)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return &noServerError{addr: addr, err: op.Err}
	}
	if err != nil {
		return fmt.Errorf("the modelbar at %s did not answer: %w", addr, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("the modelbar at %s refused the admin token in %s: it runs with another data dir (pass its --data-dir)",
			addr, auth.TokenPath(dataDir))
	case resp.StatusCode >= 300:
		return fmt.Errorf("%s %s at %s: HTTP %d: %s (is it a modelbar of this version?)", method, path, addr, resp.StatusCode, apiMessage(body))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s at %s: the answer is not the JSON expected: %w", method, path, addr, err)
	}
	return nil
}

// apiMessage is the message of an admin API error body, or the start of the body.
func apiMessage(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	return strings.TrimSpace(string(body[:min(len(body), 200)]))
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// openBrowser opens url in the default browser: `open` on macOS,
// `xdg-open` elsewhere. An opener that is still running after a few
// seconds has started a browser in the foreground: that counts as success.
func openBrowser(url string, stderr io.Writer) error {
	name := "xdg-open"
	if runtime.GOOS == "darwin" {
		name = "open"
	}
	cmd := exec.Command(name, url)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	case <-time.After(5 * time.Second):
		return nil
	}
}
