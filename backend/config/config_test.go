package config

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/router"
	"github.com/modelbar/modelbar/backend/secrets"
	"github.com/modelbar/modelbar/backend/store"
)

type fixture struct {
	svc     *Service
	store   *store.Store
	secrets secrets.Store
	env     map[string]string
	dir     string // holds modelbar.db and the file secret store
}

func newFixture(t *testing.T, wrap func(secrets.Store) secrets.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "modelbar.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var sec secrets.Store
	if sec, err = secrets.NewFile(dir); err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		sec = wrap(sec)
	}
	reg := providers.NewRegistry()
	t.Cleanup(reg.Close)
	svc, err := New(ctx, st, sec, reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{svc: svc, store: st, secrets: sec, env: map[string]string{}, dir: dir}
	svc.getenv = func(k string) string { return f.env[k] }
	return f
}

func ptr[T any](v T) *T { return &v }

// mustRow returns provider name's row as stored.
func mustRow(t *testing.T, f *fixture, name string) store.Provider {
	t.Helper()
	p, err := f.store.GetProvider(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPutProvider_CreateUpdateAndDefaults(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	p, created, err := f.svc.PutProvider(ctx, "openai", ProviderInput{Type: ptr("openai"), APIKey: ptr("sk-abcdefgh12345678")})
	if err != nil || !created {
		t.Fatalf("create: created=%v err=%v", created, err)
	}
	want := Provider{Name: "openai", Type: "openai", BaseURL: "https://api.openai.com/v1", HasAPIKey: true, APIKeyHint: "5678", KeySource: "file", Responses: "auto"}
	if diff := cmp.Diff(want, p, ignoreTimes); diff != "" {
		t.Errorf("created provider (-want +got):\n%s", diff)
	}
	// A type change moves a default base URL to the new vendor's: another
	// host, so the key stays behind (see TestPutProvider_KeysStayWithTheirHost).
	old := storedAccount(t, f, "openai")
	p, created, err = f.svc.PutProvider(ctx, "openai", ProviderInput{Type: ptr("anthropic")})
	if err != nil || created {
		t.Fatalf("update: created=%v err=%v", created, err)
	}
	if p.BaseURL != "https://api.anthropic.com" || p.HasAPIKey {
		t.Errorf("after type change: %+v, want the Anthropic default and no key", p)
	}
	if _, err := f.secrets.Get(ctx, old); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("the key left behind is still in the secret store: %v", err)
	}
	p, _, err = f.svc.PutProvider(ctx, "openai", ProviderInput{DefaultMaxTokens: ptr(8192)})
	if c, _ := f.svc.Clients().Get("openai"); err != nil || p.DefaultMaxTokens != 8192 || c.DefaultMaxTokens() != 8192 {
		t.Fatalf("default_max_tokens not stored and applied: %+v %v", p, err)
	}
	// A custom base URL survives a type change and loses its trailing slash.
	p, _, err = f.svc.PutProvider(ctx, "openai", ProviderInput{BaseURL: ptr("http://127.0.0.1:1234/v1/")})
	if err != nil || p.BaseURL != "http://127.0.0.1:1234/v1" {
		t.Fatalf("base url: %q %v", p.BaseURL, err)
	}
	p, _, err = f.svc.PutProvider(ctx, "openai", ProviderInput{Type: ptr("openai")})
	if err != nil || p.BaseURL != "http://127.0.0.1:1234/v1" {
		t.Fatalf("custom base url changed by a type change: %q %v", p.BaseURL, err)
	}
	// api_key "" removes the key from the secret store.
	if _, _, err := f.svc.PutProvider(ctx, "openai", ProviderInput{APIKey: ptr("sk-abcdefgh87654321")}); err != nil {
		t.Fatal(err)
	}
	account := storedAccount(t, f, "openai")
	p, _, err = f.svc.PutProvider(ctx, "openai", ProviderInput{APIKey: ptr("")})
	if err != nil || p.HasAPIKey || p.APIKeyHint != "" {
		t.Fatalf("key removal: %+v %v", p, err)
	}
	if _, err := f.secrets.Get(ctx, account); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("key still in the secret store: %v", err)
	}
}

var ignoreTimes = cmp.FilterPath(func(p cmp.Path) bool {
	name := p.Last().String()
	return name == ".CreatedAt" || name == ".UpdatedAt"
}, cmp.Ignore())

func TestPutProvider_RefusesBadFields(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		name  string
		pname string
		in    ProviderInput
		field string
	}{
		{"bad name", "Open AI", ProviderInput{Type: ptr("openai")}, "name"},
		{"reserved name", "local", ProviderInput{Type: ptr("openai")}, "name"},
		{"missing type", "p", ProviderInput{}, "type"},
		{"unknown type", "p", ProviderInput{Type: ptr("gemini")}, "type"},
		{"relative url", "p", ProviderInput{Type: ptr("openai"), BaseURL: ptr("api.openai.com/v1")}, "base_url"},
		{"url with credentials", "p", ProviderInput{Type: ptr("openai"), BaseURL: ptr("https://u:pw@h/v1")}, "base_url"},
		{"bad env name", "p", ProviderInput{Type: ptr("openai"), APIKeyEnv: ptr("MY-KEY")}, "api_key_env"},
		{"env not named as a key", "p", ProviderInput{Type: ptr("openai"), APIKeyEnv: ptr("HOME")}, "api_key_env"},
		{"env ending in KEYS", "p", ProviderInput{Type: ptr("openai"), APIKeyEnv: ptr("GROQ_KEYS")}, "api_key_env"},
		{"env ending in lower-case key", "p", ProviderInput{Type: ptr("openai"), APIKeyEnv: ptr("groq_api_key")}, "api_key_env"},
		{"env only a suffix", "p", ProviderInput{Type: ptr("openai"), APIKeyEnv: ptr("_TOKEN")}, "api_key_env"},
		{"key with newline", "p", ProviderInput{Type: ptr("openai"), APIKey: ptr("sk-abc\nX-Evil: 1")}, "api_key"},
		{"negative max tokens", "p", ProviderInput{Type: ptr("anthropic"), DefaultMaxTokens: ptr(-1)}, "default_max_tokens"},
	}
	for _, tt := range tests {
		_, _, err := f.svc.PutProvider(context.Background(), tt.pname, tt.in)
		var fe *router.FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("%s: error %v, want a FieldError on %q", tt.name, err, tt.field)
		}
		if fe != nil && tt.in.APIKey != nil && strings.Contains(err.Error(), *tt.in.APIKey) {
			t.Errorf("%s: the error quotes the key", tt.name)
		}
	}
	if ps, _ := f.svc.Providers(context.Background()); len(ps) != 0 {
		t.Errorf("refused puts stored providers: %+v", ps)
	}
}

func TestProvider_KeyFromEnvironment(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.env["GROQ_API_KEY"] = "gsk-from-the-env-9876"
	p, _, err := f.svc.PutProvider(ctx, "groq", ProviderInput{Type: ptr("openai"), BaseURL: ptr("https://api.groq.com/openai/v1"), APIKeyEnv: ptr("GROQ_API_KEY")})
	if err != nil {
		t.Fatal(err)
	}
	// The variable's value is never hinted.
	if !p.HasAPIKey || p.APIKeyHint != "" || p.KeySource != "env" {
		t.Errorf("env key not reported as has_api_key without a hint: %+v", p)
	}
	if key, src, err := f.svc.apiKey(ctx, mustRow(t, f, "groq")); key.Reveal() != "gsk-from-the-env-9876" || src != "env" || err != nil {
		t.Errorf("apiKey: source %q, %v; want the env value", src, err)
	}
	delete(f.env, "GROQ_API_KEY")
	if p, _ = f.svc.Provider(ctx, "groq"); p.HasAPIKey {
		t.Errorf("unset env var still reported as a key: %+v", p)
	}
}

// failAfterSet makes the database fail right after a key is stored, so the
// write that follows fails.
type failAfterSet struct {
	secrets.Store
	after func()
}

func (c *failAfterSet) Set(ctx context.Context, account, secret string) error {
	err := c.Store.Set(ctx, account, secret)
	c.after()
	return err
}

// A change outlives a client that hangs up mid-way: the key store and the
// database never disagree.
func TestPutProvider_CompletesWhenTheClientLeaves(t *testing.T) {
	var wrapper *failAfterSet
	f := newFixture(t, func(s secrets.Store) secrets.Store {
		wrapper = &failAfterSet{Store: s, after: func() {}}
		return wrapper
	})
	ctx, cancel := context.WithCancel(context.Background())
	wrapper.after = cancel
	if _, _, err := f.svc.PutProvider(ctx, "openai", ProviderInput{Type: ptr("openai"), APIKey: ptr("sk-complete-me-3333")}); err != nil {
		t.Fatalf("put failed because its client left: %v", err)
	}
	p, err := f.svc.Provider(context.Background(), "openai")
	if err != nil || p.APIKeyHint != "3333" {
		t.Errorf("provider %+v, %v", p, err)
	}
}

func TestDeleteProvider_RefusedWhileRoutesUseIt(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	mustPut(t, f, "openai", "sk-delete-me-00001234")
	r, err := f.svc.CreateRoute(ctx, RouteInput{ModelPattern: ptr("x"), Backend: ptr("local"), Fallbacks: &[]string{"openai:gpt-4o"}})
	if err != nil {
		t.Fatal(err)
	}
	var ce *ConflictError
	if err := f.svc.DeleteProvider(ctx, "openai"); !errors.As(err, &ce) {
		t.Fatalf("delete in use: %v, want a ConflictError", err)
	}
	if err := f.svc.DeleteRoute(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	account := storedAccount(t, f, "openai")
	if err := f.svc.DeleteProvider(ctx, "openai"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.secrets.Get(ctx, account); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("key outlived its provider: %v", err)
	}
	if _, ok := f.svc.Clients().Get("openai"); ok {
		t.Error("client outlived its provider")
	}
	if err := f.svc.DeleteProvider(ctx, "openai"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
}

func mustPut(t *testing.T, f *fixture, name, key string) {
	t.Helper()
	if _, _, err := f.svc.PutProvider(context.Background(), name, ProviderInput{Type: ptr("openai"), APIKey: ptr(key)}); err != nil {
		t.Fatal(err)
	}
}

func TestRoutes_CreateUpdateDeleteTakeEffectAtOnce(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	mustPut(t, f, "openai", "sk-route-test-00005678")
	changes := 0
	f.svc.OnChange(func() { changes++ })

	r, err := f.svc.CreateRoute(ctx, RouteInput{ModelPattern: ptr("gpt-*"), Backend: ptr("openai")})
	if err != nil {
		t.Fatal(err)
	}
	want := router.Route{ID: r.ID, ModelPattern: "gpt-*", Backend: "openai", Fallbacks: []string{}, Enabled: true,
		Targets: []router.Member{{Backend: "openai", Weight: 1}}, Policy: router.PolicyFirst}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("created route (-want +got):\n%s", diff)
	}
	if got := f.svc.Table().Resolve("gpt-4o").Targets[0].Backend; got != "openai" {
		t.Errorf("new route not in effect: %s", got)
	}
	if _, err := f.svc.UpdateRoute(ctx, r.ID, RouteInput{Enabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.svc.Route(ctx, r.ID); got.ModelPattern != "gpt-*" || got.Enabled {
		t.Errorf("partial update changed other fields or did not apply: %+v", got)
	}
	if got := f.svc.Table().Resolve("gpt-4o").Targets[0].Backend; got != router.Local {
		t.Errorf("disabled route still routes: %s", got)
	}
	if err := f.svc.DeleteRoute(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if len(f.svc.Routes()) != 0 {
		t.Errorf("route not deleted")
	}
	if _, err := f.svc.UpdateRoute(ctx, r.ID, RouteInput{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("update of deleted route: %v", err)
	}
	if changes != 3 {
		t.Errorf("OnChange called %d times, want 3", changes)
	}
}

func TestRoutes_InvalidChangeLeavesStateAlone(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	r, err := f.svc.CreateRoute(ctx, RouteInput{ModelPattern: ptr("m"), Backend: ptr("local")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.UpdateRoute(ctx, r.ID, RouteInput{Backend: ptr("nope")})
	var fe *router.FieldError
	if !errors.As(err, &fe) || fe.Field != "backend" {
		t.Fatalf("update to unknown backend: %v", err)
	}
	if got, _ := f.svc.Route(ctx, r.ID); got.Backend != "local" {
		t.Errorf("refused update was stored: %+v", got)
	}
}

func TestResolve_ExplainsTheChain(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	mustPut(t, f, "openai", "sk-resolve-test-0000aaaa")
	if _, err := f.svc.CreateRoute(ctx, RouteInput{ModelPattern: ptr("fast"), Backend: ptr("openai"), BackendModel: ptr("gpt-4o-mini"), Fallbacks: &[]string{"local"}}); err != nil {
		t.Fatal(err)
	}
	res, err := f.svc.Resolve("fast")
	if err != nil {
		t.Fatal(err)
	}
	if res.Route == nil || res.Backend != "openai" || res.BackendModel != "gpt-4o-mini" {
		t.Errorf("resolution: %+v", res)
	}
	if diff := cmp.Diff([]string{"local"}, res.Fallbacks); diff != "" {
		t.Errorf("fallbacks (-want +got):\n%s", diff)
	}
	res, _ = f.svc.Resolve("other")
	if res.Route != nil || res.Backend != "local" || len(res.Fallbacks) != 0 {
		t.Errorf("unmatched resolution: %+v", res)
	}
	if _, err := f.svc.Resolve(""); err == nil {
		t.Error("empty model resolved")
	}
}

func TestNew_LoadsPersistedConfiguration(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	mustPut(t, f, "openai", "sk-persisted-key-0000bbbb")
	if _, err := f.svc.CreateRoute(ctx, RouteInput{ModelPattern: ptr("gpt-*"), Backend: ptr("openai")}); err != nil {
		t.Fatal(err)
	}
	reg := providers.NewRegistry()
	defer reg.Close()
	again, err := New(ctx, f.store, f.secrets, reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if got := again.Table().Resolve("gpt-4o").Targets[0].Backend; got != "openai" {
		t.Errorf("reloaded table routes gpt-4o to %s", got)
	}
	if _, ok := reg.Get("openai"); !ok {
		t.Error("reloaded registry has no openai client")
	}
}
