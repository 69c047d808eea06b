package engine

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
)

// The pool drops idle caches from its goroutine, which must not wait for
// the backend. With the backend held by a step (a Run that waits on a
// channel, standing in for a long prefill chunk), a budget that leaves no
// room for caches drops them at once: SetLimits, Fit and Status return
// and the caches are no longer counted. Their memory is freed once the
// step ends, and closing the model's caches waits for that.
func TestPrefix_DropIdleDoesNotWaitForTheBackend(t *testing.T) {
	b := cpu.New()
	t.Cleanup(func() { b.Close() }) // after the engine's Close, registered later
	e := newEngineOn(t, b, 1<<30, map[string]testmodel.Spec{"a": {Seed: 1}})
	for _, text := range []string{"Idle cache one", "Idle cache two"} {
		if _, err := chat(t, e, userSays("test/a", text, 2)); err != nil {
			t.Fatal(err)
		}
	}
	l := acquire(t, e, "test/a")
	l.prefix.mu.Lock()
	dropped := slices.Clone(l.prefix.idle)
	l.prefix.mu.Unlock()
	if len(dropped) != 2 {
		t.Fatalf("%d idle caches, want 2", len(dropped))
	}
	weights := models(e)["test/a"].SizeOnDisk

	held, release := make(chan struct{}), make(chan struct{})
	var step sync.WaitGroup
	step.Go(func() {
		b.Run(func() error {
			close(held)
			<-release
			return nil
		})
	})
	<-held
	answered := make(chan Model)
	go func() {
		e.SetLimits(weights, 0) // room for the weights alone: every idle cache goes
		e.pool.Fit()
		answered <- models(e)["test/a"] // Status, after the Fit
	}()
	var m Model
	select {
	case m = <-answered:
	case <-time.After(time.Minute): // not a latency bound: without the fix it waits for release, forever
		close(release)
		t.Fatal("the pool waited for the backend's step to drop idle caches")
	}
	if m.KVBytes != 0 || m.MemoryBytes != weights {
		t.Errorf("while the step runs: KV %d bytes, memory %d; want 0 and the weights' %d", m.KVBytes, m.MemoryBytes, weights)
	}

	closed := make(chan error, 1)
	go func() { closed <- l.prefix.close() }()
	close(release)
	step.Wait()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	for i, s := range dropped { // close returned: the frees are done
		if s.cache.Bytes() != 0 || s.cache.Len() != 0 {
			t.Errorf("dropped cache %d: %d bytes, %d positions after close", i, s.cache.Bytes(), s.cache.Len())
		}
	}
}
