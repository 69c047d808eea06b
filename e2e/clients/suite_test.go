package clients

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The suite runs only when asked: MODELBAR_E2E_CLIENTS=1 (.ci/run sets
// it). Then it needs, and fails without: Linux, root (for the network
// namespace), strace, ip, node, and the clients installed by `npm install
// --prefix e2e/clients`. MODELBAR_BIN names a built modelbar; without it
// the suite builds one (the frontend must be built: the binary embeds it).
const (
	envRun   = "MODELBAR_E2E_CLIENTS"
	envNetns = "MODELBAR_E2E_IN_NETNS" // set in the re-executed child
	envBin   = "MODELBAR_BIN"
	skipWhy  = "the real-client suite runs only with " + envRun + "=1 (after npm install --prefix e2e/clients; .ci/run does both)"
)

// suite is what every case shares, set up once by TestMain.
var suite struct {
	enabled   bool
	err       error  // set-up failure: every test reports it
	dir       string // e2e/clients
	tmp       string // everything the suite writes; MODELBAR_E2E_KEEP=1 keeps it
	bin       string // modelbar
	node      string
	rec       *recorder
	openai    *fake
	anthropic *fake
	registry  *fake // a 404 npm registry (opencode fetches plugins at start)
	dns       *dnsStub
	// The gateways, by the API of the provider their route goes to: a
	// client of the same API is relayed, one of the other is translated;
	// "keyed", routed to the Anthropic fake, which requires an inference
	// key; and "local", routed to the local engine's generated model.
	gws map[string]*gateway
}

func TestMain(m *testing.M) {
	if os.Getenv(envRun) != "1" {
		os.Exit(m.Run()) // every test skips
	}
	if runtime.GOOS == "linux" && os.Getenv(envNetns) == "" {
		os.Exit(reexecInNetns())
	}
	suite.enabled = true
	cleanup := setup()
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// reexecInNetns runs this test binary again in a new network namespace
// that has only loopback, so that nothing a client tries can leave the
// machine; returns its exit code.
func reexecInNetns() int {
	// The resolvers become addresses on loopback, answered by the suite's
	// DNS stub (dns_test.go).
	script := "ip link set lo up"
	for _, r := range resolvers() {
		if ip := net.ParseIP(r); ip != nil && !ip.IsLoopback() {
			if ip.To4() != nil {
				script += " && ip addr add " + r + "/32 dev lo"
			} else {
				script += " && ip -6 addr add " + r + "/128 dev lo"
			}
		}
	}
	args := append([]string{"--net", "--", "sh", "-c", script + ` && exec "$@"`, "sh"}, os.Args...)
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), envNetns+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintf(os.Stderr, "e2e/clients: cannot enter a network namespace with only loopback (unshare --net, as root; iproute2): %v\n", err)
		return 1
	}
	return 0
}

// requireSuite skips the test unless the suite runs, and fails it when
// the suite could not be set up.
func requireSuite(t *testing.T) {
	t.Helper()
	if !suite.enabled {
		t.Skip(skipWhy)
	}
	if suite.err != nil {
		t.Fatalf("e2e/clients set-up: %v", suite.err)
	}
}

// setup starts the fakes and the gateways; the returned function stops
// them.
func setup() func() {
	start := time.Now()
	var stops []func()
	cleanup := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	fail := func(err error) func() { suite.err = err; return cleanup }
	wd, err := os.Getwd()
	if err != nil {
		return fail(err)
	}
	suite.dir = wd
	for _, tool := range []string{"strace", "ip", "node"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fail(fmt.Errorf("%s is not installed (apt-get install strace iproute2; Node 20): %w", tool, err))
		}
	}
	suite.node, _ = exec.LookPath("node")
	if _, err := os.Stat(filepath.Join(wd, "node_modules", ".bin")); err != nil {
		return fail(fmt.Errorf("the clients are not installed: run npm install --prefix e2e/clients"))
	}
	tmp, err := os.MkdirTemp("", "modelbar-e2e-clients-")
	if err != nil {
		return fail(err)
	}
	suite.tmp = tmp
	stops = append(stops, func() {
		if os.Getenv("MODELBAR_E2E_KEEP") != "" {
			fmt.Println("e2e/clients: kept", tmp)
			return
		}
		os.RemoveAll(tmp)
	})
	if suite.bin, err = modelbarBinary(tmp); err != nil {
		return fail(err)
	}
	suite.rec = &recorder{}
	if suite.openai, err = startFake("openai", &openaiFake{rec: suite.rec}, true); err != nil {
		return fail(err)
	}
	stops = append(stops, suite.openai.close)
	if suite.anthropic, err = startFake("anthropic", &anthropicFake{rec: suite.rec}, false); err != nil {
		return fail(err)
	}
	stops = append(stops, suite.anthropic.close)
	if suite.registry, err = startFake("registry", http.NotFoundHandler(), false); err != nil {
		return fail(err)
	}
	stops = append(stops, suite.registry.close)
	if suite.dns, err = startDNSStub(resolvers()); err != nil {
		return fail(fmt.Errorf("the DNS stub on the resolvers' addresses: %w", err))
	}
	stops = append(stops, suite.dns.close)
	suite.gws = map[string]*gateway{}
	for _, gw := range []struct {
		name, backend string
		keyed         bool
	}{{"anthropic", "anthropic", false}, {"openai", "openai", false}, {"keyed", "anthropic", true}, {"local", "local", false}} {
		dir := filepath.Join(tmp, "modelbar-"+gw.name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fail(err)
		}
		g, err := startGateway(suite.bin, dir, gw.backend, gw.keyed)
		if err != nil {
			return fail(fmt.Errorf("modelbar %s: %w", gw.name, err))
		}
		stops = append(stops, g.close)
		suite.gws[gw.name] = g
	}
	fmt.Printf("e2e/clients: set up in %.1fs (modelbar %s; fakes: openai %s, anthropic %s)\n",
		time.Since(start).Seconds(), suite.bin, suite.openai.url, suite.anthropic.url)
	return cleanup
}

// modelbarBinary is MODELBAR_BIN, or a modelbar built from this checkout.
func modelbarBinary(tmp string) (string, error) {
	if bin := os.Getenv(envBin); bin != "" {
		return bin, nil
	}
	root, err := filepath.Abs(filepath.Join(suite.dir, "..", ".."))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(root, "frontend", "dist", "index.html")); err != nil {
		return "", fmt.Errorf("frontend/dist is missing (npm ci && npm run build in frontend/), or set %s", envBin)
	}
	bin := filepath.Join(tmp, "modelbar")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build modelbar: %v\n%s", err, strings.TrimSpace(string(out)))
	}
	return bin, nil
}
