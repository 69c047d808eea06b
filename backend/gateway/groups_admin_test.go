package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The admin API takes and shows groups, and a client that knows nothing
// of them keeps working: every old field is there, backend is member 0.
func TestAdmin_RouteGroups(t *testing.T) {
	h := newHarness(t)
	h.putProvider("p1", "http://127.0.0.1:1/v1", "")
	h.putProvider("p2", "http://127.0.0.1:2/v1", "")
	old := h.route("old", "p1", "local")
	var raw map[string]json.RawMessage
	decode(t, h.mustAdmin(http.MethodGet, fmt.Sprintf("/api/routes/%d", old.ID), nil, http.StatusOK), &raw)
	for _, k := range []string{"id", "model_pattern", "backend", "backend_model", "fallbacks", "priority", "enabled", "targets", "policy", "max_context"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("GET route lacks %q: %s", k, raw)
		}
	}
	if got := string(raw["targets"]); got != `[{"backend":"p1","model":"","weight":1}]` {
		t.Errorf("targets of a single-backend route: %s", got)
	}
	if string(raw["policy"]) != `"first"` || string(raw["max_context"]) != "null" {
		t.Errorf("policy %s, max_context %s", raw["policy"], raw["max_context"])
	}

	grp := h.addRoute(map[string]any{"model_pattern": "grp", "policy": "weighted", "max_context": 32768,
		"targets": []map[string]any{{"backend": "p1", "model": "big", "weight": 3}, {"backend": "p2"}}, "fallbacks": []string{"local"}})
	if grp.Backend != "p1" || grp.BackendModel != "big" || len(grp.Targets) != 2 || grp.Targets[1].Weight != 1 || grp.Policy != "weighted" || *grp.MaxContext != 32768 {
		t.Errorf("created group route %+v", grp)
	}
	// An old client's update moves member 0 only.
	var updated map[string]any
	decode(t, h.mustAdmin(http.MethodPut, fmt.Sprintf("/api/routes/%d", grp.ID), map[string]any{"backend": "p2", "backend_model": "small"}, http.StatusOK), &updated)
	want := []any{map[string]any{"backend": "p2", "model": "small", "weight": 3.0}, map[string]any{"backend": "p2", "model": "", "weight": 1.0}}
	if diff := cmp.Diff(want, updated["targets"]); diff != "" {
		t.Errorf("targets after a backend-only update (-want +got):\n%s", diff)
	}
	tests := []struct {
		name  string
		body  map[string]any
		param string
	}{
		{"backend disagrees with targets", map[string]any{"backend": "p1", "targets": []map[string]any{{"backend": "p2"}}}, "backend"},
		{"bad weight", map[string]any{"targets": []map[string]any{{"backend": "p1"}, {"backend": "p2", "weight": 0}, {"backend": "local", "weight": 5000}}}, "targets[2].weight"},
		{"unknown member", map[string]any{"targets": []map[string]any{{"backend": "p1"}, {"backend": "nope"}}}, "targets[1].backend"},
		{"fallback is a later member", map[string]any{"targets": []map[string]any{{"backend": "p1"}, {"backend": "p2", "model": "x"}}, "fallbacks": []string{"p2:x"}}, "fallbacks[0]"},
		{"fallback is the first member's backend", map[string]any{"fallbacks": []string{"p2"}}, "fallbacks[0]"},
		{"policy", map[string]any{"policy": "fastest"}, "policy"},
		{"max_context", map[string]any{"max_context": -1}, "max_context"},
	}
	for _, tt := range tests {
		resp, b := h.admin(http.MethodPut, fmt.Sprintf("/api/routes/%d", grp.ID), tt.body)
		if resp.StatusCode != http.StatusBadRequest || deref(mustOpenAIError(t, b).Param) != tt.param {
			t.Errorf("%s: status %d, body %s; want 400 on %s", tt.name, resp.StatusCode, b, tt.param)
		}
	}
	var res struct {
		Group []struct {
			Backend, Model string
			Weight         int
		} `json:"group"`
		Policy string `json:"policy"`
		Chain  []any  `json:"chain"`
	}
	decode(t, h.mustAdmin(http.MethodGet, "/api/routes/resolve?model=grp", nil, http.StatusOK), &res)
	if len(res.Group) != 2 || res.Group[0].Backend != "p2" || res.Group[0].Weight != 3 || res.Policy != "weighted" || len(res.Chain) != 3 {
		t.Errorf("resolve of a group route: %+v", res)
	}
}
