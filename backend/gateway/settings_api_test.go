package gateway_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/engine"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
	"github.com/modelbar/modelbar/backend/gateway"
)

type settingsView struct {
	MemoryBudgetMB int64            `json:"memory_budget_mb"`
	MaxRetries     int64            `json:"max_retries"`
	Defaults       map[string]int64 `json:"defaults"`
	Effective      map[string]int64 `json:"effective"`
	PinnedMB       int64            `json:"pinned_mb"`
	LoadedMB       int64            `json:"loaded_mb"`
	Warnings       []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"warnings"`
}

// GET /api/settings shows, beside each stored value (0: the default), the
// default and the value in force: never a bare 0 for a setting that has
// one.
func TestSettings_ShowDefaultsAndEffective(t *testing.T) {
	h := newHarness(t)
	h.cfg.SetDefault("memory_budget_mb", 8192) // as modelbar serve does from the machine's memory
	var st settingsView
	decode(t, h.mustAdmin(http.MethodPut, "/api/settings", map[string]any{"max_retries": 0, "cooldown_seconds": 45, "stream_idle_timeout_seconds": -1}, http.StatusOK), &st)
	for key, want := range map[string][2]int64{ // default, effective
		"memory_budget_mb":            {8192, 8192},
		"max_retries":                 {2, 2},
		"cooldown_seconds":            {30, 45},
		"stream_idle_timeout_seconds": {120, -1},
		"request_timeout_seconds":     {600, 600},
		"max_inflight_requests":       {512, 512},
		"translation_budget_mb":       {32, 32},
		"responses_retention_days":    {30, 30},
		"idle_ttl_minutes":            {30, 30},
	} {
		if st.Defaults[key] != want[0] || st.Effective[key] != want[1] {
			t.Errorf("%s: default %d, in force %d; want %d and %d", key, st.Defaults[key], st.Effective[key], want[0], want[1])
		}
	}
	if st.MemoryBudgetMB != 0 || st.MaxRetries != 0 {
		t.Errorf("stored values changed meaning: %+v", st)
	}
	if st.Defaults["max_connections"] <= 0 || st.Warnings == nil || len(st.Warnings) != 0 {
		t.Errorf("max_connections default %d, warnings %v", st.Defaults["max_connections"], st.Warnings)
	}
}

// A memory budget below what pinned models hold is saved, with a warning
// in the answer (and in GET's) that names the sizes in MiB.
func TestSettings_BudgetBelowPinnedWarns(t *testing.T) {
	// A model of a few MiB: its embeddings and output head, 8192 x 128 in
	// bfloat16, are 2 MiB each.
	dir := t.TempDir()
	if err := testmodel.Write(filepath.Join(dir, "models", "test", "small"), testmodel.Spec{Architecture: "qwen2", HiddenSize: 128, VocabSize: 8192, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	b := cpu.New()
	e := engine.New(engine.Options{Roots: []modelfile.Root{modelfile.ModelsRoot(dir)}, Budget: 1 << 30, Backend: b})
	t.Cleanup(func() { e.Close(); b.Close() })
	h := newHarness(t, func(o *gateway.Options) { o.Local = e })
	h.mustAdmin(http.MethodPost, "/api/models/load", map[string]any{"model": "test/small", "pin": true}, http.StatusOK)
	var st settingsView
	decode(t, h.mustAdmin(http.MethodPut, "/api/settings", map[string]any{"memory_budget_mb": 1}, http.StatusOK), &st)
	if st.MemoryBudgetMB != 1 || st.Effective["memory_budget_mb"] != 1 || st.PinnedMB < 1 || st.LoadedMB < st.PinnedMB {
		t.Fatalf("after put: %+v", st)
	}
	if len(st.Warnings) != 1 || st.Warnings[0].Field != "memory_budget_mb" || !strings.Contains(st.Warnings[0].Message, "1 MiB") {
		t.Errorf("warnings %+v", st.Warnings)
	}
	decode(t, h.mustAdmin(http.MethodGet, "/api/settings", nil, http.StatusOK), &st)
	if len(st.Warnings) != 1 {
		t.Errorf("GET warnings %+v", st.Warnings)
	}
	decode(t, h.mustAdmin(http.MethodPut, "/api/settings", map[string]any{"memory_budget_mb": 1 << 20}, http.StatusOK), &st)
	if len(st.Warnings) != 0 {
		t.Errorf("a large budget still warns: %+v", st.Warnings)
	}
}
