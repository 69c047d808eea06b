package bench

import (
	"bytes"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
)

// The benchmark runs end to end on a tiny model and reports every figure.
func TestEngine_Reports(t *testing.T) {
	var out bytes.Buffer
	if err := Engine(&out, Options{Dir: t.TempDir() + "/m", Spec: testmodel.Spec{Seed: 1}, Prefill: 8, Decode: 4}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"model: llama", "memory bandwidth (same run):", "prefill: 8 tokens", "decode: 4 tokens", "% of the bandwidth"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBandwidth_Positive(t *testing.T) {
	if bw := Bandwidth(8<<20, 2); bw <= 0 {
		t.Errorf("bandwidth %v", bw)
	}
}
