package clients

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The network guard: every client runs under strace, which logs each
// connect, sendto and sendmsg that names an address; any IPv4 or IPv6
// address outside loopback, and any DNS lookup (port 53, whatever the
// address: every URL the suite gives is an IP literal), is a violation and
// fails the case. The suite also runs in a network namespace with only
// loopback (suite_test.go), so such an attempt fails at once instead of
// leaving the machine; the guard is what notices it.

// guardSyscalls are the calls that can name a peer address.
const guardSyscalls = "trace=connect,sendto,sendmsg,sendmmsg"

// guardedCommand runs name args under strace, logging to logPath.
func guardedCommand(ctx context.Context, logPath, name string, args ...string) *exec.Cmd {
	full := append([]string{"-f", "-qq", "--seccomp-bpf", "-e", guardSyscalls, "-o", logPath, "--", name}, args...)
	return exec.CommandContext(ctx, "strace", full...)
}

var (
	inet4RE = regexp.MustCompile(`sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)`)
	inet6RE = regexp.MustCompile(`sa_family=AF_INET6, sin6_port=htons\((\d+)\),.*?inet_pton\(AF_INET6, "([^"]+)"`)
)

// violations reads a strace log and returns each attempt to reach
// something other than loopback: what it was, the call, the log line.
func violations(logPath string) ([]string, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return nil, fmt.Errorf("read the network guard's log: %w", err)
	}
	defer f.Close()
	seen := map[string]bool{}
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, re := range []*regexp.Regexp{inet4RE, inet6RE} {
			for _, m := range re.FindAllStringSubmatch(line, -1) {
				if v := judge(m[2], m[1]); v != "" && !seen[v+syscallOf(line)] {
					seen[v+syscallOf(line)] = true
					out = append(out, v+", by "+syscallOf(line)+": "+cut(line, 300))
				}
			}
		}
	}
	return out, sc.Err()
}

// judge returns why a peer is not allowed, or "".
func judge(addr, port string) string {
	ip := net.ParseIP(addr)
	switch {
	case port == "53":
		return "a DNS lookup (" + net.JoinHostPort(addr, port) + ")"
	case ip == nil:
		return "a connection to an address the guard cannot read, " + addr
	case !ip.IsLoopback():
		return "a connection to " + net.JoinHostPort(addr, port) + ", outside loopback"
	}
	return ""
}

var syscallRE = regexp.MustCompile(`^\d+\s+(?:<\.\.\.\s+)?([a-z_]+)\(`)

func syscallOf(line string) string {
	if m := syscallRE.FindStringSubmatch(line); m != nil {
		return m[1]
	}
	return "?"
}

// TestNetworkGuard_FlagsOutsideAddresses proves the guard: a Node script
// that fetches a public host name (a DNS lookup) and one that connects to
// a public address must both be flagged, and a loopback connection must
// not.
func TestNetworkGuard_FlagsOutsideAddresses(t *testing.T) {
	requireSuite(t)
	t.Parallel()
	for _, tc := range []struct {
		name, script string
		flagged      bool
	}{
		{"dns", `fetch("https://example.com/").catch(e => console.log("failed:", e.cause?.code ?? e.message))`, true},
		{"public-ip", `require("net").connect(443, "1.1.1.1").on("error", e => console.log("failed:", e.code))`, true},
		{"public-ipv6", `require("net").connect(443, "2606:4700:4700::1111").on("error", e => console.log("failed:", e.code))`, true},
		{"loopback", `fetch("` + suite.openai.url + `/models").then(r => console.log("status", r.status))`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log := filepath.Join(t.TempDir(), "strace.log") // the log only
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			start := time.Now()
			cmd := guardedCommand(ctx, log, suite.node, "-e", tc.script)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("node: %v\n%s", err, out)
			}
			v, err := violations(log)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(v) > 0; got != tc.flagged {
				t.Errorf("flagged = %v, want %v; violations: %q; output: %s", got, tc.flagged, v, strings.TrimSpace(string(out)))
			}
			if tc.name == "dns" && !slices.Contains(suite.dns.between(start, time.Now()), "example.com") {
				t.Errorf("the DNS stub did not see example.com looked up (it saw %q)", suite.dns.between(start, time.Now()))
			}
		})
	}
}
