package router

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPattern_Match(t *testing.T) {
	tests := []struct {
		pattern string
		name    string
		want    bool
	}{
		{"gpt-4o", "gpt-4o", true},
		{"gpt-4o", "gpt-4o-mini", false},
		{"gpt-4o", "GPT-4o", false},
		{"gpt-*", "gpt-4o-mini", true},
		{"gpt-*", "gpt-", true},
		{"gpt-*", "gpt", false},
		{"gpt-*", "xgpt-4", false},
		{"*", "", true},
		{"*", "anything/at/all", true},
		{"mlx-community/*", "mlx-community/Qwen2.5-0.5B-Instruct-4bit", true},
		{"mlx-community/*", "mlx-community/org/deep", true},
		{"*/Qwen*", "mlx-community/Qwen3-4B", true},
		{"*-4bit", "mlx-community/Llama-3.2-1B-Instruct-4bit", true},
		{"*-4bit", "mlx-community/Llama-3.2-1B-Instruct-8bit", false},
		{"claude-3-?-*", "claude-3-5-sonnet", true},
		{"claude-3-?-*", "claude-3-opus", false},
		{"claude-3-?-*", "claude-3-55-sonnet", false},
		{"?", "é", true},
		{"?", "ab", false},
		{"model-[a-c]", "model-b", true},
		{"model-[a-c]", "model-d", false},
		{"model-[!a-c]", "model-d", true},
		{"model-[^a-c]", "model-^", true}, // fnmatch: ^ is a member, not a negation
		{"model-[^a-c]", "model-d", false},
		{"model-[]x]", "model-]", true},
		{"model-[*]", "model-*", true},
		{"model-[*]", "model-x", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
		{"**", "x/y", true},
		{"*.gguf", "model.gguf", true},
	}
	for _, tt := range tests {
		p, err := CompilePattern(tt.pattern)
		if err != nil {
			t.Fatalf("CompilePattern(%q): %v", tt.pattern, err)
		}
		if got := p.Match(tt.name); got != tt.want {
			t.Errorf("%q.Match(%q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestCompilePattern_RefusesBadPatterns(t *testing.T) {
	for _, bad := range []string{"", " gpt", "gpt ", "gpt\n", "model-[a-c", "model-[]", "model-[z-a]", "\xff"} {
		if _, err := CompilePattern(bad); err == nil {
			t.Errorf("CompilePattern(%q) = nil error, want one", bad)
		}
	}
	p, err := CompilePattern("gpt-[ab]")
	if err != nil || p.IsExact() {
		t.Fatalf("gpt-[ab]: exact=%v err=%v, want a wildcard", p.IsExact(), err)
	}
}

func TestTable_Resolve(t *testing.T) {
	routes := []Route{
		{ID: 1, ModelPattern: "gpt-*", Backend: "openai", Enabled: true},
		{ID: 2, ModelPattern: "gpt-4o", Backend: "azure", Enabled: true},                     // exact beats wildcard at equal priority
		{ID: 3, ModelPattern: "claude-*", Backend: "anthropic", Priority: 5, Enabled: true},  // higher priority first
		{ID: 4, ModelPattern: "claude-3-haiku", Backend: "groq", Priority: 1, Enabled: true}, // exact, but lower priority
		{ID: 5, ModelPattern: "fast", Backend: "openai", BackendModel: "gpt-4o-mini", Enabled: true, Fallbacks: []string{"local", "anthropic:claude-haiku-4-5"}},
		{ID: 6, ModelPattern: "off-*", Backend: "openai", Enabled: false},
		{ID: 7, ModelPattern: "o*", Backend: "groq", Enabled: true}, // older than 8
		{ID: 8, ModelPattern: "o1*", Backend: "openai", Enabled: true},
		{ID: 9, ModelPattern: "mlx-community/*", Backend: "local", Priority: -1, Enabled: true, Fallbacks: []string{"openai"}},
	}
	table, err := NewTable(routes)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		model     string
		wantRoute int64 // 0: no route
		want      []Target
	}{
		{"gpt-4o-mini", 1, []Target{{Backend: "openai", Model: "gpt-4o-mini", Weight: 1}}},
		{"gpt-4o", 2, []Target{{Backend: "azure", Model: "gpt-4o", Weight: 1}}},
		{"claude-3-haiku", 3, []Target{{Backend: "anthropic", Model: "claude-3-haiku", Weight: 1}}},
		{"fast", 5, []Target{{Backend: "openai", Model: "gpt-4o-mini", Weight: 1}, {Backend: "local", Model: "gpt-4o-mini"}, {Backend: "anthropic", Model: "claude-haiku-4-5"}}},
		{"off-1", 7, []Target{{Backend: "groq", Model: "off-1", Weight: 1}}}, // disabled route skipped, o* matches
		{"o1-preview", 7, []Target{{Backend: "groq", Model: "o1-preview", Weight: 1}}},
		{"mlx-community/Qwen3-4B-4bit", 9, []Target{{Backend: "local", Model: "mlx-community/Qwen3-4B-4bit", Weight: 1}, {Backend: "openai", Model: "mlx-community/Qwen3-4B-4bit"}}},
		{"llama3", 0, []Target{{Backend: "local", Model: "llama3", Weight: 1}}},
	}
	for _, tt := range tests {
		plan := table.Resolve(tt.model)
		var gotRoute int64
		if plan.Route != nil {
			gotRoute = plan.Route.ID
		}
		if gotRoute != tt.wantRoute {
			t.Errorf("Resolve(%q) route = %d, want %d", tt.model, gotRoute, tt.wantRoute)
		}
		if diff := cmp.Diff(tt.want, plan.Targets); diff != "" {
			t.Errorf("Resolve(%q) targets (-want +got):\n%s", tt.model, diff)
		}
	}
}

func TestTable_RoutesInEvaluationOrder(t *testing.T) {
	table, err := NewTable([]Route{
		{ID: 1, ModelPattern: "a*", Priority: 0},
		{ID: 2, ModelPattern: "exact", Priority: 0},
		{ID: 3, ModelPattern: "b*", Priority: 10},
		{ID: 4, ModelPattern: "c*", Priority: 0},
		{ID: 5, ModelPattern: "z", Priority: -3},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, r := range table.Routes() {
		got = append(got, r.ID)
	}
	if diff := cmp.Diff([]int64{3, 2, 1, 4, 5}, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestTable_IsImmutable(t *testing.T) {
	in := []Route{{ID: 1, ModelPattern: "m", Backend: "openai", Fallbacks: []string{"local"}, Enabled: true}}
	table, err := NewTable(in)
	if err != nil {
		t.Fatal(err)
	}
	in[0].Fallbacks[0] = "mutated"
	plan := table.Resolve("m")
	plan.Route.Fallbacks[0] = "mutated too"
	if got := table.Routes()[0].Fallbacks[0]; got != "local" {
		t.Errorf("table changed through a caller's slice: %q", got)
	}
}

func TestValidate_NamesTheField(t *testing.T) {
	known := func(name string) bool { return name == "openai" || name == "anthropic" }
	ok := Route{ModelPattern: "gpt-*", Backend: "openai", Fallbacks: []string{"local", "anthropic:claude-haiku-4-5", "openai:gpt-4o-mini"}}
	if err := Validate(ok, known); err != nil {
		t.Fatalf("valid route refused: %v", err)
	}
	tests := []struct {
		name  string
		route Route
		field string
	}{
		{"bad pattern", Route{ModelPattern: "gpt-[", Backend: "openai"}, "model_pattern"},
		{"empty pattern", Route{ModelPattern: "", Backend: "openai"}, "model_pattern"},
		{"missing backend", Route{ModelPattern: "x"}, "backend"},
		{"unknown backend", Route{ModelPattern: "x", Backend: "nope"}, "backend"},
		{"bad alias", Route{ModelPattern: "x", Backend: "openai", BackendModel: " gpt"}, "backend_model"},
		{"unknown fallback", Route{ModelPattern: "x", Backend: "openai", Fallbacks: []string{"local", "nope"}}, "fallbacks[1]"},
		{"fallback is backend", Route{ModelPattern: "x", Backend: "openai", Fallbacks: []string{"openai"}}, "fallbacks[0]"},
		{"local twice", Route{ModelPattern: "x", Backend: "local", Fallbacks: []string{"local"}}, "fallbacks[0]"},
		{"duplicate fallback", Route{ModelPattern: "x", Backend: "local", Fallbacks: []string{"openai", "openai"}}, "fallbacks[1]"},
		{"empty fallback model", Route{ModelPattern: "x", Backend: "local", Fallbacks: []string{"openai:"}}, "fallbacks[0]"},
		{"empty fallback", Route{ModelPattern: "x", Backend: "local", Fallbacks: []string{""}}, "fallbacks[0]"},
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

func TestValidBackendName(t *testing.T) {
	for name, ok := range map[string]bool{
		"openai": true, "my-groq.2": true, "a": true, "local": false, "none": false, "": false,
		"OpenAI": true, "Local": false, "NONE": false, "has space": false, "has:colon": false, "-lead": false, "a/b": false,
	} {
		if err := ValidBackendName(name); (err == nil) != ok {
			t.Errorf("ValidBackendName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func BenchmarkTable_Resolve(b *testing.B) {
	var routes []Route
	for i := range 100 {
		routes = append(routes, Route{ID: int64(i + 1), ModelPattern: "vendor-" + string(rune('a'+i%26)) + "-*", Backend: "openai", Enabled: true})
	}
	table, err := NewTable(routes)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		table.Resolve("mlx-community/Qwen2.5-0.5B-Instruct-4bit")
	}
}

// Matching gives up once the client has left.
func TestResolveContext_StopsWhenTheContextEnds(t *testing.T) {
	var routes []Route
	for i := range 1000 {
		routes = append(routes, Route{ID: int64(i + 1), ModelPattern: fmt.Sprintf("x%d-*", i), Backend: "local", Enabled: true})
	}
	table, err := NewTable(routes)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := table.ResolveContext(ctx, "no-match"); !errors.Is(err, context.Canceled) {
		t.Errorf("ResolveContext with an ended context: %v, want context.Canceled", err)
	}
	if p, err := table.ResolveContext(context.Background(), "x999-a"); err != nil || p.Route == nil || p.Route.ID != 1000 {
		t.Errorf("ResolveContext = %+v, %v", p.Route, err)
	}
}
