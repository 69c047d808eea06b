package store_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/store"
)

// A provider's preset, extra headers and health interval are kept; a
// provider written without them is generic, with none and no checks.
func TestProviders_PresetHeadersAndHealth(t *testing.T) {
	s, path := newStore(t)
	ctx := context.Background()
	p := store.Provider{Name: "gpu", Type: "openai", BaseURL: "http://localhost:8000/v1", Preset: "vllm",
		ExtraHeaders: map[string]string{"X-Tenant": "a", "CF-Access-Client-Id": "x.access"}, HealthCheckSeconds: 30}
	if _, err := s.PutProvider(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutProvider(ctx, store.Provider{Name: "plain", Type: "openai", BaseURL: "https://api.openai.com/v1"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, path)
	got, err := s.GetProvider(ctx, "gpu")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p.ExtraHeaders, got.ExtraHeaders); diff != "" || got.Preset != "vllm" || got.HealthCheckSeconds != 30 {
		t.Errorf("read back %+v (-want +got headers):\n%s", got, diff)
	}
	plain, err := s.GetProvider(ctx, "plain")
	if err != nil || plain.Preset != "" || plain.ExtraHeaders != nil || plain.HealthCheckSeconds != 0 {
		t.Errorf("generic provider %+v, %v", plain, err)
	}
	p.HealthCheckSeconds = 2 // below the schema's bound
	if _, err := s.PutProvider(ctx, p); err == nil {
		t.Error("a health interval of 2 s was stored")
	}
}
