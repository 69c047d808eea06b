package router

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func ptr[T any](v T) *T { return &v }

// A group resolves to its members in route order, each sent its own model
// or the requested one, then the fallbacks; Group counts the members.
func TestTable_ResolveGroup(t *testing.T) {
	table, err := NewTable([]Route{{
		ID: 1, ModelPattern: "chat-*", Backend: "vllm", BackendModel: "qwen", Enabled: true, API: "responses", Policy: PolicyWeighted,
		Targets:   []Member{{Backend: "vllm", Model: "qwen", Weight: 3}, {Backend: "ollama", Weight: 1}, {Backend: "local", Model: "small", Weight: 2}},
		Fallbacks: []string{"openai", "anthropic:claude-haiku-4-5"},
	}, {
		ID: 2, ModelPattern: "old", Backend: "openai", Enabled: true, // stored before groups: no targets, no policy
	}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		model  string
		want   []Target
		group  int
		policy string
	}{
		{"chat-x", []Target{
			{Backend: "vllm", Model: "qwen", API: "responses", Weight: 3},
			{Backend: "ollama", Model: "chat-x", API: "responses", Weight: 1},
			{Backend: "local", Model: "small", API: "responses", Weight: 2},
			{Backend: "openai", Model: "qwen"}, // a fallback without a model gets the first member's
			{Backend: "anthropic", Model: "claude-haiku-4-5"},
		}, 3, PolicyWeighted},
		{"old", []Target{{Backend: "openai", Model: "old", Weight: 1}}, 1, PolicyFirst},
		{"unrouted", []Target{{Backend: "local", Model: "unrouted", Weight: 1}}, 1, PolicyFirst},
	}
	for _, tt := range tests {
		plan := table.Resolve(tt.model)
		if diff := cmp.Diff(tt.want, plan.Targets); diff != "" {
			t.Errorf("Resolve(%q) targets (-want +got):\n%s", tt.model, diff)
		}
		if plan.Group != tt.group || plan.Policy != tt.policy {
			t.Errorf("Resolve(%q): group %d policy %q, want %d %q", tt.model, plan.Group, plan.Policy, tt.group, tt.policy)
		}
	}
	plan := table.Resolve("chat-y")
	plan.Route.Targets[0].Backend = "mutated"
	if got := table.Resolve("chat-y").Route.Targets[0].Backend; got != "vllm" {
		t.Errorf("table changed through a plan's targets: %q", got)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name string
		in   Route
		want Route
	}{
		{"backend only is a group of one",
			Route{Backend: "openai", BackendModel: "gpt-4o"},
			Route{Backend: "openai", BackendModel: "gpt-4o", Targets: []Member{{Backend: "openai", Model: "gpt-4o", Weight: 1}}, Policy: PolicyFirst, Fallbacks: []string{}}},
		{"targets set backend and weights",
			Route{Targets: []Member{{Backend: "a", Model: "m"}, {Backend: "b", Weight: 5}}, Policy: PolicyLeastBusy, Fallbacks: []string{"local"}},
			Route{Backend: "a", BackendModel: "m", Targets: []Member{{Backend: "a", Model: "m", Weight: 1}, {Backend: "b", Weight: 5}}, Policy: PolicyLeastBusy, Fallbacks: []string{"local"}}},
		{"max_context kept",
			Route{Backend: "local", MaxContext: ptr(int64(8192))},
			Route{Backend: "local", Targets: []Member{{Backend: "local", Weight: 1}}, Policy: PolicyFirst, Fallbacks: []string{}, MaxContext: ptr(int64(8192))}},
	}
	for _, tt := range tests {
		got := tt.in
		Normalize(&got)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	in := []Member{{Backend: "a"}}
	r := Route{Targets: in}
	Normalize(&r)
	if in[0].Weight != 0 {
		t.Error("Normalize wrote through the caller's slice")
	}
}

func TestValidate_Groups(t *testing.T) {
	known := func(name string) bool { return name == "a" || name == "b" || name == "c" }
	group := func(ms ...Member) Route {
		r := Route{ModelPattern: "m", Targets: ms, Fallbacks: []string{}}
		if len(ms) > 0 {
			r.Backend, r.BackendModel = ms[0].Backend, ms[0].Model
		}
		return r
	}
	valid := []Route{
		group(Member{Backend: "a", Weight: 3}, Member{Backend: "b", Model: "x", Weight: 1000}, Member{Backend: "local"}),
		group(Member{Backend: "a", Model: "x"}, Member{Backend: "a", Model: "y"}),
		{ModelPattern: "m", Backend: "a", Policy: PolicyWeighted, MaxContext: ptr(int64(MaxContext))},
		{ModelPattern: "m", Backend: "a", Policy: PolicyLeastBusy, MaxContext: ptr(int64(1))},
		// A fallback may send another model to a member's backend.
		{ModelPattern: "m", Backend: "a", BackendModel: "x", Fallbacks: []string{"a:y", "b"}},
		// One naming the first member with its model was accepted before
		// groups existed (it tries the model once more), so routes stored
		// then stay editable.
		{ModelPattern: "m", Backend: "a", BackendModel: "x", Fallbacks: []string{"a:x", "b"}},
	}
	for i, r := range valid {
		if err := Validate(r, known); err != nil {
			t.Errorf("valid route %d refused: %v", i, err)
		}
	}
	seventeen := make([]Member, 17)
	for i := range seventeen {
		seventeen[i] = Member{Backend: "a", Model: string(rune('a' + i))}
	}
	withFallbacks := func(r Route, fb ...string) Route { r.Fallbacks = fb; return r }
	tests := []struct {
		name  string
		route Route
		field string
	}{
		{"too many", group(seventeen...), "targets"},
		{"unknown member", group(Member{Backend: "a"}, Member{Backend: "nope"}), "targets[1].backend"},
		{"missing member backend", group(Member{Backend: "a"}, Member{}), "targets[1].backend"},
		{"bad member model", group(Member{Backend: "a"}, Member{Backend: "b", Model: " x"}), "targets[1].model"},
		{"negative weight", group(Member{Backend: "a"}, Member{Backend: "b", Weight: -1}), "targets[1].weight"},
		{"weight too big", group(Member{Backend: "a", Weight: 1001}), "targets[0].weight"},
		{"duplicate member", group(Member{Backend: "a", Model: "x"}, Member{Backend: "b"}, Member{Backend: "a", Model: "x", Weight: 2}), "targets[2]"},
		{"backend disagrees", Route{ModelPattern: "m", Backend: "b", Targets: []Member{{Backend: "a"}}}, "backend"},
		{"backend_model disagrees", Route{ModelPattern: "m", Backend: "a", BackendModel: "x", Targets: []Member{{Backend: "a", Model: "y"}}}, "backend"},
		{"unknown policy", Route{ModelPattern: "m", Backend: "a", Policy: "random"}, "policy"},
		{"zero max_context", Route{ModelPattern: "m", Backend: "a", MaxContext: ptr(int64(0))}, "max_context"},
		{"huge max_context", Route{ModelPattern: "m", Backend: "a", MaxContext: ptr(int64(MaxContext + 1))}, "max_context"},
		{"fallback is a member", withFallbacks(group(Member{Backend: "a"}, Member{Backend: "b", Model: "x"}), "c", "b:x"), "fallbacks[1]"},
		{"fallback without model is member 0", withFallbacks(group(Member{Backend: "a", Model: "x"}, Member{Backend: "b"}), "a"), "fallbacks[0]"},
	}
	for _, tt := range tests {
		err := Validate(tt.route, known)
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: error %v, want a *FieldError", tt.name, err)
			continue
		}
		if fe.Field != tt.field {
			t.Errorf("%s: field %q, want %q (%v)", tt.name, fe.Field, tt.field, err)
		}
	}
}
