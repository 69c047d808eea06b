package store_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSettings_SetGetDelete(t *testing.T) {
	s, _ := newStore(t)
	all, err := s.Settings(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if all == nil || len(all) != 0 {
		t.Errorf("Settings on an empty store = %#v, want an empty non-nil map", all)
	}

	steps := []struct {
		name string
		do   func() error
		want map[string]string
	}{
		{"set", func() error { return s.SetSettings(t.Context(), map[string]string{"theme": "dark"}) }, map[string]string{"theme": "dark"}},
		{"set another", func() error { return s.SetSettings(t.Context(), map[string]string{"port": "11435"}) }, map[string]string{"theme": "dark", "port": "11435"}},
		{"overwrite", func() error { return s.SetSettings(t.Context(), map[string]string{"theme": "light"}) }, map[string]string{"theme": "light", "port": "11435"}},
		{"empty value", func() error { return s.SetSettings(t.Context(), map[string]string{"blank": ""}) }, map[string]string{"theme": "light", "port": "11435", "blank": ""}},
		{"delete", func() error { return s.DeleteSetting(t.Context(), "port") }, map[string]string{"theme": "light", "blank": ""}},
		{"delete absent", func() error { return s.DeleteSetting(t.Context(), "port") }, map[string]string{"theme": "light", "blank": ""}},
	}
	for _, step := range steps {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		got, err := s.Settings(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(step.want, got); diff != "" {
			t.Errorf("after %s, Settings (-want +got):\n%s", step.name, diff)
		}
	}

	tests := []struct {
		key, wantValue string
		wantOK         bool
	}{
		{"theme", "light", true},
		{"blank", "", true},
		{"port", "", false},
	}
	for _, tt := range tests {
		v, ok, err := s.Setting(t.Context(), tt.key)
		if err != nil || v != tt.wantValue || ok != tt.wantOK {
			t.Errorf("Setting(%q) = %q, %v, %v; want %q, %v, nil", tt.key, v, ok, err, tt.wantValue, tt.wantOK)
		}
	}
}
