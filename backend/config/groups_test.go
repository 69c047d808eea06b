package config

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/router"
)

func members(ms ...router.Member) *[]router.Member { return &ms }

// How an update changes a route's group: backend alone moves the first
// member, targets replace the group, both must agree.
func TestRoutes_GroupUpdateSemantics(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	mustPut(t, f, "p1", "sk-group-test-00000001")
	mustPut(t, f, "p2", "sk-group-test-00000002")
	mustPut(t, f, "p3", "sk-group-test-00000003")
	r, err := f.svc.CreateRoute(ctx, RouteInput{ModelPattern: ptr("m"), Policy: ptr(router.PolicyWeighted),
		Targets: members(router.Member{Backend: "p1", Model: "a", Weight: 3}, router.Member{Backend: "p2"})})
	if err != nil {
		t.Fatal(err)
	}
	want := []router.Member{{Backend: "p1", Model: "a", Weight: 3}, {Backend: "p2", Weight: 1}}
	if diff := cmp.Diff(want, r.Targets); diff != "" || r.Backend != "p1" || r.BackendModel != "a" || r.Policy != router.PolicyWeighted {
		t.Fatalf("created %+v; targets (-want +got):\n%s", r, diff)
	}
	steps := []struct {
		name    string
		in      RouteInput
		want    []router.Member
		backend string
		field   string // a refusal's FieldError
	}{
		{"backend only moves member 0, keeping its weight", RouteInput{Backend: ptr("p3")},
			[]router.Member{{Backend: "p3", Model: "a", Weight: 3}, {Backend: "p2", Weight: 1}}, "p3", ""},
		{"backend_model only", RouteInput{BackendModel: ptr("")},
			[]router.Member{{Backend: "p3", Weight: 3}, {Backend: "p2", Weight: 1}}, "p3", ""},
		{"other fields keep the group", RouteInput{Priority: ptr(4)},
			[]router.Member{{Backend: "p3", Weight: 3}, {Backend: "p2", Weight: 1}}, "p3", ""},
		{"targets replace it", RouteInput{Targets: members(router.Member{Backend: "local"}, router.Member{Backend: "p1", Model: "b", Weight: 7})},
			[]router.Member{{Backend: "local", Weight: 1}, {Backend: "p1", Model: "b", Weight: 7}}, "local", ""},
		{"targets with an agreeing backend", RouteInput{Backend: ptr("p2"), BackendModel: ptr("x"), Targets: members(router.Member{Backend: "p2", Model: "x"})},
			[]router.Member{{Backend: "p2", Model: "x", Weight: 1}}, "p2", ""},
		{"backend disagrees with targets", RouteInput{Backend: ptr("p1"), Targets: members(router.Member{Backend: "p2"})}, nil, "", "backend"},
		{"backend_model disagrees with targets", RouteInput{BackendModel: ptr("y"), Targets: members(router.Member{Backend: "p2"})}, nil, "", "backend"},
		{"empty targets", RouteInput{Targets: members()}, nil, "", "targets"},
		{"backend onto another member", RouteInput{Targets: members(router.Member{Backend: "p1"}, router.Member{Backend: "p2"})},
			[]router.Member{{Backend: "p1", Weight: 1}, {Backend: "p2", Weight: 1}}, "p1", ""},
		{"then member 0 made a twin of member 1", RouteInput{Backend: ptr("p2")}, nil, "", "targets[1]"},
		{"a bad weight", RouteInput{Targets: members(router.Member{Backend: "p1", Weight: 1001})}, nil, "", "targets[0].weight"},
		{"a fallback naming a member", RouteInput{Fallbacks: &[]string{"p2"}}, nil, "", "fallbacks[0]"},
	}
	for _, st := range steps {
		got, err := f.svc.UpdateRoute(ctx, r.ID, st.in)
		if st.field != "" {
			var fe *router.FieldError
			if !errors.As(err, &fe) || fe.Field != st.field {
				t.Errorf("%s: error %v, want a FieldError on %q", st.name, err, st.field)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if diff := cmp.Diff(st.want, got.Targets); diff != "" || got.Backend != st.backend || got.BackendModel != st.want[0].Model {
			t.Errorf("%s: backend %q %q; targets (-want +got):\n%s", st.name, got.Backend, got.BackendModel, diff)
		}
		if stored, _ := f.svc.Route(ctx, r.ID); !cmp.Equal(stored, got) {
			t.Errorf("%s: stored %+v, answered %+v", st.name, stored, got)
		}
	}
	if got, _ := f.svc.Route(ctx, r.ID); got.Policy != router.PolicyWeighted {
		t.Errorf("policy lost on the way: %q", got.Policy)
	}
}

// policy and max_context follow the budget fields: absent keeps, null
// clears, "" policy is "first".
func TestRoutes_PolicyAndMaxContext(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	var in RouteInput
	if err := json.Unmarshal([]byte(`{"model_pattern":"m","backend":"local","policy":"least-busy","max_context":8192}`), &in); err != nil {
		t.Fatal(err)
	}
	r, err := f.svc.CreateRoute(ctx, in)
	if err != nil || r.Policy != router.PolicyLeastBusy || r.MaxContext == nil || *r.MaxContext != 8192 {
		t.Fatalf("created %+v, %v", r, err)
	}
	update := func(body string) router.Route {
		t.Helper()
		var in RouteInput
		if err := json.Unmarshal([]byte(body), &in); err != nil {
			t.Fatal(err)
		}
		r, err := f.svc.UpdateRoute(ctx, r.ID, in)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		return r
	}
	if r := update(`{"priority":1}`); r.Policy != router.PolicyLeastBusy || r.MaxContext == nil {
		t.Errorf("absent fields changed: %+v", r)
	}
	if r := update(`{"policy":"","max_context":null}`); r.Policy != router.PolicyFirst || r.MaxContext != nil {
		t.Errorf(`policy "" and max_context null: %+v`, r)
	}
	for body, field := range map[string]string{`{"policy":"random"}`: "policy", `{"max_context":0}`: "max_context", `{"max_context":10000001}`: "max_context"} {
		var in RouteInput
		if err := json.Unmarshal([]byte(body), &in); err != nil {
			t.Fatal(err)
		}
		var fe *router.FieldError
		if _, err := f.svc.UpdateRoute(ctx, r.ID, in); !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: %v, want a FieldError on %s", body, err, field)
		}
	}
}

// Resolve shows the group in route order and its policy.
func TestResolve_ShowsTheGroup(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	mustPut(t, f, "p1", "sk-group-test-00000001")
	if _, err := f.svc.CreateRoute(ctx, RouteInput{ModelPattern: ptr("m"), Policy: ptr(router.PolicyLeastBusy), Fallbacks: &[]string{"local"},
		Targets: members(router.Member{Backend: "p1", Weight: 2}, router.Member{Backend: "p1", Model: "other"})}); err != nil {
		t.Fatal(err)
	}
	res, err := f.svc.Resolve("m")
	if err != nil {
		t.Fatal(err)
	}
	want := []router.Target{{Backend: "p1", Model: "m", Weight: 2}, {Backend: "p1", Model: "other", Weight: 1}}
	if diff := cmp.Diff(want, res.Group); diff != "" || res.Policy != router.PolicyLeastBusy || len(res.Chain) != 3 || res.Backend != "p1" {
		t.Errorf("resolution %+v; group (-want +got):\n%s", res, diff)
	}
	if diff := cmp.Diff([]string{"p1", "local"}, res.Fallbacks); diff != "" {
		t.Errorf("fallbacks (-want +got):\n%s", diff)
	}
	mustPut(t, f, "p2", "sk-group-test-00000002")
	if _, err := f.svc.CreateRoute(ctx, RouteInput{ModelPattern: ptr("n"),
		Targets: members(router.Member{Backend: "local"}, router.Member{Backend: "p2"})}); err != nil {
		t.Fatal(err)
	}
	var ce *ConflictError
	if err := f.svc.DeleteProvider(ctx, "p2"); !errors.As(err, &ce) || !strings.Contains(err.Error(), `the route "n" (in its group)`) {
		t.Errorf("delete of a provider a group uses: %v, want a ConflictError naming the route", err)
	}
}
