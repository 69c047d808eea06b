package config

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/store"
)

func TestKeyEnvName_OnlyCredentialNames(t *testing.T) {
	for name, want := range map[string]bool{
		"GROQ_API_KEY": true, "OPENAI_KEY": true, "GITHUB_TOKEN": true, "my_app_KEY": true, "A_KEY": true,
		"HOME": false, "PATH": false, "KEY": false, "_KEY": false, "GROQ_KEYS": false, "groq_api_key": false,
		"API_KEY_FILE": false, "TOKEN": false, "X-API_KEY": false, "": false,
	} {
		if got := keyEnvName.MatchString(name); got != want {
			t.Errorf("%q accepted: %v, want %v", name, got, want)
		}
	}
}

// An api_key_env stored before the rule existed is ignored, with a
// warning: its variable's value is neither sent nor shown.
func TestProvider_StoredEnvNameBreakingTheRuleIsIgnored(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	up := newUpstream(t)
	if _, err := f.store.PutProvider(ctx, store.Provider{Name: "p", Type: "openai", BaseURL: up.URL + "/v1", APIKeyEnv: "HOME"}); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	reg := providers.NewRegistry()
	t.Cleanup(reg.Close)
	svc, err := New(ctx, f.store, f.secrets, reg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	// New published before getenv could be replaced: publish again with it.
	svc.getenv = func(k string) string { return map[string]string{"HOME": "/home/secret-user"}[k] }
	if err := svc.publish(ctx); err != nil {
		t.Fatal(err)
	}
	if p, _ := svc.Provider(ctx, "p"); p.HasAPIKey || p.KeySource != "" || p.APIKeyEnv != "HOME" {
		t.Errorf("view: %+v, want the name shown but no key", p)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "api_key_env=HOME") {
		t.Errorf("no warning naming the variable:\n%s", logs.String())
	}
	if got := up.forward(t, svc, "p"); got != "" {
		t.Errorf("sent Authorization %q, want none", got)
	}
}
