package config

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/secrets"
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

func TestSameHost_Cases(t *testing.T) {
	tests := []struct {
		from, to string
		want     bool
	}{
		{"https://api.example.com/v1", "https://api.example.com/openai/v1", true},
		{"https://api.example.com/v1", "https://API.Example.COM/v1", true},
		{"https://api.example.com/v1", "https://api.example.com:443/v1", true},
		{"http://127.0.0.1/v1", "http://127.0.0.1:80/v1", true},
		{"http://h.example:8080/v1", "https://h.example:8080/v1", true}, // an upgrade
		{"http://[::1]:8080/v1", "http://[::1]:8080/v2", true},
		{"https://api.example.com/v1", "https://evil.example/v1", false},
		{"https://api.example.com/v1", "https://api.example.com.evil.example/v1", false},
		{"https://api.example.com/v1", "https://api.example.com:8443/v1", false},
		{"http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1", false},
		{"https://h.example:8443/v1", "http://h.example:8443/v1", false}, // a downgrade
		{"https://api.example.com/v1", "http://api.example.com/v1", false},
		{"http://h.example/v1", "https://h.example/v1", false}, // port 80 to 443
		{"http://[::1]:8080/v1", "http://[::2]:8080/v1", false},
		{"https://api.example.com/v1", "https://api.example.com:x/v1", false},
		{"%zz", "https://api.example.com/v1", false},
	}
	for _, tt := range tests {
		if got := sameHost(tt.from, tt.to); got != tt.want {
			t.Errorf("sameHost(%q, %q) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
}

// Moving a provider to another host drops its stored key (deleting the
// secret) and its api_key_env binding, unless the same change supplies
// them; a move on the same host keeps both.
func TestPutProvider_KeysStayWithTheirHost(t *testing.T) {
	const env = "EXAMPLE_API_KEY"
	tests := []struct {
		name     string
		from     string
		in       ProviderInput
		wantHint string // "1111": the key kept, "": dropped, else a new key's
		wantEnv  string
	}{
		{"same host, other path", "https://api.example.com/v1", ProviderInput{BaseURL: ptr("https://api.example.com/openai/v1")}, "1111", env},
		{"host name case", "https://api.example.com/v1", ProviderInput{BaseURL: ptr("https://API.EXAMPLE.com/v1")}, "1111", env},
		{"explicit default port", "https://api.example.com/v1", ProviderInput{BaseURL: ptr("https://api.example.com:443/v1")}, "1111", env},
		{"upgrade to https on the same port", "http://h.example:8080/v1", ProviderInput{BaseURL: ptr("https://h.example:8080/v1")}, "1111", env},
		{"type change with a custom base url", "https://api.example.com/v1", ProviderInput{Type: ptr("anthropic")}, "1111", env},
		{"other host", "https://api.example.com/v1", ProviderInput{BaseURL: ptr("https://evil.example/v1")}, "", ""},
		{"other port", "http://127.0.0.1:1/v1", ProviderInput{BaseURL: ptr("http://127.0.0.1:2/v1")}, "", ""},
		{"downgrade to http", "https://h.example:8443/v1", ProviderInput{BaseURL: ptr("http://h.example:8443/v1")}, "", ""},
		{"type change to the new vendor's default", "https://api.openai.com/v1", ProviderInput{Type: ptr("anthropic")}, "", ""},
		{"other host with a new key", "https://api.example.com/v1",
			ProviderInput{BaseURL: ptr("https://other.example/v1"), APIKey: ptr("sk-new-key-5555")}, "5555", ""},
		{"other host with api_key_env", "https://api.example.com/v1",
			ProviderInput{BaseURL: ptr("https://other.example/v1"), APIKeyEnv: ptr("OTHER_TOKEN")}, "", "OTHER_TOKEN"},
		{"other host with both", "https://api.example.com/v1",
			ProviderInput{BaseURL: ptr("https://other.example/v1"), APIKey: ptr("sk-new-key-5555"), APIKeyEnv: ptr(env)}, "5555", env},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, rec := newRecordingFixture(t)
			ctx := context.Background()
			if _, _, err := f.svc.PutProvider(ctx, "p", ProviderInput{Type: ptr("openai"), BaseURL: ptr(tt.from),
				APIKey: ptr("sk-original-key-1111"), APIKeyEnv: ptr(env)}); err != nil {
				t.Fatal(err)
			}
			old := storedAccount(t, f, "p")
			p, _, err := f.svc.PutProvider(ctx, "p", tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if p.APIKeyHint != tt.wantHint || p.HasAPIKey != (tt.wantHint != "") || p.APIKeyEnv != tt.wantEnv {
				t.Errorf("after the change: hint %q, has key %v, api_key_env %q; want %q, %q", p.APIKeyHint, p.HasAPIKey, p.APIKeyEnv, tt.wantHint, tt.wantEnv)
			}
			_, err = f.secrets.Get(ctx, old)
			if kept := tt.wantHint == "1111"; kept != (err == nil) || (!kept && !errors.Is(err, secrets.ErrNotFound)) {
				t.Errorf("old key kept %v, want %v (%v)", err == nil, kept, err)
			}
			checkKeys(t, f.svc, f.store, rec)
		})
	}
}
