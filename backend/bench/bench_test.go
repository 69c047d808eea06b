package bench

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
)

// The benchmark runs end to end on a tiny model and reports every figure.
func TestEngine_Reports(t *testing.T) {
	var out bytes.Buffer
	if err := Engine(&out, Options{Dir: t.TempDir() + "/m", Spec: testmodel.Spec{Seed: 1}, Prefill: 8, Decode: 4}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"model: llama", "memory bandwidth (same run):", "cpu (", "prefill 8 tokens", "decode 4 tokens", "% of the bandwidth",
		"portable kernels, float32 activations): prefill", "× the portable kernels' decode rate"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// Every backend available is measured; MLX either reports its overhead or
// says why it was not measured.
func TestEngine_EveryBackend(t *testing.T) {
	var out bytes.Buffer
	if err := Engine(&out, Options{Dir: t.TempDir() + "/m", Spec: testmodel.Spec{Seed: 2}, Prefill: 4, Decode: 2}); err != nil {
		t.Fatal(err)
	}
	report := out.String()
	if !strings.Contains(report, "mlx: not measured:") && !(strings.Contains(report, "mlx cpu: prefill") && strings.Contains(report, "outside MLX's evaluation") && strings.Contains(report, "× the decode rate of cpu")) {
		t.Errorf("report neither measures MLX nor says why not:\n%s", report)
	}
	t.Log(report)
}

func TestEngine_UnknownBackend(t *testing.T) {
	err := Engine(&bytes.Buffer{}, Options{Dir: t.TempDir() + "/m", Spec: testmodel.Spec{Seed: 1}, Prefill: 2, Decode: 1, Backends: []string{"tpu"}})
	if err == nil || !strings.Contains(err.Error(), "tpu") {
		t.Errorf("Engine with backend tpu = %v, want an error naming it", err)
	}
}

// The gateway benchmark runs end to end (the real binary as modelbar and as
// the null proxy) on a short schedule and reports every figure.
func TestGateway_Reports(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary: skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "modelbar")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/modelbar/modelbar").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var out bytes.Buffer
	err := Gateway(&out, GatewayOptions{Binary: bin, Sequential: 20, Rates: []int{200}, Duration: 200 * time.Millisecond, Streams: 4})
	if err != nil {
		t.Fatalf("Gateway: %v\n%s", err, out.String())
	}
	report := out.String()
	for _, want := range []string{"start-up:", "memory (RSS) at idle", "direct", "null proxy", "modelbar → anthropic",
		"the null proxy's", "open loop, 200 requests/s", "memory (RSS) under load", "TTFB p50", "added gap p99",
		"group, weighted", "group, least-busy", "balancer (weighted): p50 ", "balancer (least-busy): p50 ", "balancer adds TTFB"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	// modelbar's own rows: no failed request, no stream cut.
	for _, line := range strings.Split(report, "\n") {
		f := modelbarRow(line)
		if len(f) < 5 || !strings.HasSuffix(f[0], "ms") {
			continue
		}
		last := f[len(f)-1]
		if strings.Contains(line, "added TTFB") {
			last = f[5] // the "cut" column comes before the added figures
		}
		if last != "0" {
			t.Errorf("modelbar row reports failures: %q", line)
		}
	}
	// The weighted group spreads the requests 3:2:1 over its members.
	for _, line := range strings.Split(report, "\n") {
		if !strings.Contains(line, "balancer (weighted)") {
			continue
		}
		var n1, n2, n3 int
		_, after, _ := strings.Cut(line, "answered by ")
		if _, err := fmt.Sscanf(after, "fake %d, fake-2 %d, fake-3 %d", &n1, &n2, &n3); err != nil || n1 <= n2 || n2 <= n3 || n3 == 0 {
			t.Errorf("weighted group: %q does not show a 3:2:1 split over fake, fake-2, fake-3 (%v)", line, err)
		}
	}
	t.Log(report)
}

// modelbarRow returns the figures of a row of one of modelbar's paths (nil
// for any other line).
func modelbarRow(line string) []string {
	for _, name := range []string{"modelbar → anthropic", "modelbar", "group, weighted", "group, least-busy"} {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			return strings.Fields(rest)
		}
	}
	return nil
}

// The agent-turn benchmark runs both turns through the engine on the small
// shape and reports them: the second reuses the first.
func TestAgent_Reports(t *testing.T) {
	var out bytes.Buffer
	if err := Agent(&out, AgentOptions{Shape: "small", Prefix: 300, Answer: 4, New: 20, Backends: []string{"cpu"}}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	report := out.String()
	t.Log(report)
	var p1, p2, cached int
	var ttft1, ttft2, ratio string
	line := report[strings.Index(report, "cpu ("):]
	line = line[strings.Index(line, ": turn 1:"):]
	if _, err := fmt.Sscanf(line, ": turn 1: %d prompt tokens, first token after %s turn 2: %d prompt tokens (%d reused), first token after %s %s",
		&p1, &ttft1, &p2, &cached, &ttft2, &ratio); err != nil {
		t.Fatalf("report %q: %v", line, err)
	}
	if p1 != 300 || p2 < 300+4+20 || cached < 300 || !strings.HasSuffix(ratio, "×") || !strings.Contains(report, "small generated shape") {
		t.Errorf("turn 1 %d tokens, turn 2 %d (%d reused), ratio %q:\n%s", p1, p2, cached, ratio, report)
	}
}

func TestAgent_UnknownShape(t *testing.T) {
	if err := Agent(&bytes.Buffer{}, AgentOptions{Shape: "huge"}); err == nil || !strings.Contains(err.Error(), "huge") {
		t.Errorf("Agent with shape huge = %v, want an error naming it", err)
	}
}
