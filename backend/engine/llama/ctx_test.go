package llama_test

import (
	"context"
	"errors"
	"testing"

	"github.com/modelbar/modelbar/backend/engine/llama"
	"github.com/modelbar/modelbar/backend/engine/llama/llamatest"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
)

// A cancelled context stops a prefill before it computes and leaves the
// cache as it was.
func TestForwardContext_Cancelled(t *testing.T) {
	cfg, w := llamatest.Build(llamatest.Spec{Name: "ctx", Arch: "llama", DType: "F32", KVHeads: 2, Seed: 1})
	b := cpu.New()
	defer b.Close()
	m, err := llama.Load(cfg, w, b)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c, err := m.NewCache(64)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.ForwardContext(ctx, []int{1, 2, 3}, c); !errors.Is(err, context.Canceled) || c.Len() != 0 {
		t.Errorf("err %v, cache length %d", err, c.Len())
	}
}
