package config

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/router"
)

// A preset gives a new provider its type and address; both stay editable,
// and a change of preset moves a provider still on the old default to the
// new one.
func TestPutProvider_Presets(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	p, _, err := f.svc.PutProvider(ctx, "gpu", ProviderInput{Preset: ptr("vllm")})
	if err != nil || p.Type != "openai" || p.BaseURL != "http://localhost:8000/v1" || p.Preset != "vllm" {
		t.Fatalf("from a preset: %+v, %v", p, err)
	}
	if p, _, err = f.svc.PutProvider(ctx, "gpu", ProviderInput{Preset: ptr("sglang")}); err != nil || p.BaseURL != "http://localhost:30000/v1" {
		t.Errorf("preset change on the default address: %+v, %v", p, err)
	}
	if p, _, err = f.svc.PutProvider(ctx, "gpu", ProviderInput{Type: ptr("anthropic")}); err != nil || p.BaseURL != "http://localhost:30000" {
		t.Errorf("type change on the preset's default: %+v, %v", p, err)
	}
	if p, _, err = f.svc.PutProvider(ctx, "box", ProviderInput{Preset: ptr("llamacpp"), BaseURL: ptr("http://10.0.0.5:8081/v1")}); err != nil || p.BaseURL != "http://10.0.0.5:8081/v1" {
		t.Errorf("own address: %+v, %v", p, err)
	}
	if p, _, err = f.svc.PutProvider(ctx, "box", ProviderInput{Preset: ptr("ollama")}); err != nil || p.BaseURL != "http://10.0.0.5:8081/v1" || p.Preset != "ollama" {
		t.Errorf("a preset change keeps an own address: %+v, %v", p, err)
	}
	if p, _, err = f.svc.PutProvider(ctx, "box", ProviderInput{Preset: ptr("")}); err != nil || p.Preset != "" {
		t.Errorf("back to generic: %+v, %v", p, err)
	}
	_, _, err = f.svc.PutProvider(ctx, "gpu", ProviderInput{Preset: ptr("tgi")})
	var fe *router.FieldError
	if !errors.As(err, &fe) || fe.Field != "preset" || !strings.Contains(fe.Message, `"vllm"`) {
		t.Errorf("unknown preset: %v", err)
	}
	if _, _, err = f.svc.PutProvider(ctx, "bare", ProviderInput{}); !errors.As(err, &fe) || fe.Field != "type" {
		t.Errorf("no type, no preset: %v", err)
	}
}

func TestPutProvider_ExtraHeadersAndHealthCheck(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	h := map[string]string{"X-Tenant": "team-a", "CF-Access-Client-Id": "abc.access"}
	p, _, err := f.svc.PutProvider(ctx, "gpu", ProviderInput{Preset: ptr("vllm"), ExtraHeaders: &h, HealthCheckSeconds: ptr(30)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(h, p.ExtraHeaders); diff != "" || p.HealthCheckSeconds != 30 {
		t.Errorf("saved %v / %d (-want +got):\n%s", p.ExtraHeaders, p.HealthCheckSeconds, diff)
	}
	c, _ := f.svc.Clients().Get("gpu")
	if c.HealthCheck().Seconds() != 30 || c.Preset().Name != "vllm" {
		t.Errorf("published client: every %v, preset %q", c.HealthCheck(), c.Preset().Name)
	}
	// Unset fields keep their values; {} removes the headers.
	if p, _, err = f.svc.PutProvider(ctx, "gpu", ProviderInput{HealthCheckSeconds: ptr(0)}); err != nil || len(p.ExtraHeaders) != 2 || p.HealthCheckSeconds != 0 {
		t.Errorf("keep headers, health off: %+v, %v", p, err)
	}
	empty := map[string]string{}
	if p, _, err = f.svc.PutProvider(ctx, "gpu", ProviderInput{ExtraHeaders: &empty}); err != nil || p.ExtraHeaders != nil {
		t.Errorf("remove headers: %+v, %v", p, err)
	}
	for _, c := range []struct {
		in    ProviderInput
		field string
	}{
		{ProviderInput{ExtraHeaders: &map[string]string{"Authorization": "Bearer sk-secret-1234"}}, "extra_headers"},
		{ProviderInput{ExtraHeaders: &map[string]string{"X-A": "a\nb"}}, "extra_headers"},
		{ProviderInput{HealthCheckSeconds: ptr(4)}, "health_check_seconds"},
		{ProviderInput{HealthCheckSeconds: ptr(3601)}, "health_check_seconds"},
		{ProviderInput{HealthCheckSeconds: ptr(-1)}, "health_check_seconds"},
	} {
		_, _, err := f.svc.PutProvider(ctx, "gpu", c.in)
		var fe *router.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || strings.Contains(fe.Message, "sk-secret") {
			t.Errorf("%+v: %v, want a FieldError on %s", c.in, err, c.field)
		}
	}
	if p, _ := f.svc.Provider(ctx, "gpu"); p.ExtraHeaders != nil {
		t.Errorf("a refused change was saved: %+v", p)
	}
}
