package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain lets a test run this binary's main as a subprocess: the real
// program, built the way this test was built.
func TestMain(m *testing.M) {
	if os.Getenv("MODELBAR_TEST_RUN_MAIN") == "1" {
		os.Args = append([]string{"modelbar"}, strings.Fields(os.Getenv("MODELBAR_TEST_ARGS"))...)
		main()
		return
	}
	os.Exit(m.Run())
}

// TestDesktop_NoDisplayPointsAtServe: `modelbar` with no display (or in a
// build without the desktop app) exits non-zero and names `modelbar serve`.
func TestDesktop_NoDisplayPointsAtServe(t *testing.T) {
	for _, args := range []string{"", "--hidden"} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(withoutDisplay(os.Environ()), "MODELBAR_TEST_RUN_MAIN=1", "MODELBAR_TEST_ARGS="+args,
			"MODELBAR_DATA_DIR="+t.TempDir(), "MODELBAR_ADDR=127.0.0.1:0")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 {
			t.Errorf("modelbar %s without a display: %v, want a non-zero exit", args, err)
		}
		if !strings.Contains(stderr.String(), "`modelbar serve`") {
			t.Errorf("modelbar %s: stderr %q does not name `modelbar serve`", args, stderr.String())
		}
	}
}

func withoutDisplay(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "DISPLAY=") && !strings.HasPrefix(kv, "WAYLAND_DISPLAY=") {
			out = append(out, kv)
		}
	}
	return out
}
