package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const testSecret = "sk-test-DO-NOT-LEAK-0123456789"

func TestValue_Fmt(t *testing.T) {
	v := NewValue(testSecret)
	type exported struct{ Key Value }
	type unexported struct{ key Value }
	for _, verb := range []string{"%v", "%s", "%+v", "%#v", "%q", "%x", "%d", "%10.3s"} {
		for name, arg := range map[string]any{
			"value":             v,
			"pointer":           &v,
			"exported field":    exported{v},
			"unexported field":  unexported{v},
			"pointer to struct": &exported{v},
			"slice":             []Value{v},
			"map":               map[string]Value{"openai": v},
		} {
			got := fmt.Sprintf(verb, arg)
			if strings.Contains(got, testSecret) {
				t.Errorf("Sprintf(%q, %s) = %q leaks the secret", verb, name, got)
			}
		}
	}
	for _, verb := range []string{"%v", "%s", "%+v", "%#v"} {
		if got := fmt.Sprintf(verb, v); got != redacted {
			t.Errorf("Sprintf(%q, v) = %q, want %q", verb, got, redacted)
		}
	}
	if got := v.String() + v.GoString(); got != redacted+redacted {
		t.Errorf("String+GoString = %q", got)
	}
}

func TestValue_Slog(t *testing.T) {
	v := NewValue(testSecret)
	for name, newHandler := range map[string]func(*bytes.Buffer) slog.Handler{
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(newHandler(&buf))
			log.Info("provider", "key", v, "ptr", &v, slog.Group("g", "key", v),
				"cfg", struct{ Key Value }{v}, "any", slog.AnyValue(v))
			out := buf.String()
			if strings.Contains(out, testSecret) {
				t.Fatalf("log output leaks the secret: %s", out)
			}
			if !strings.Contains(out, redacted) {
				t.Errorf("log output %s does not contain %s", out, redacted)
			}
		})
	}
}

func TestValue_JSON(t *testing.T) {
	type provider struct {
		Name    string `json:"name"`
		Key     Value  `json:"api_key"`
		Missing Value  `json:"missing,omitzero"`
		Keys    map[Value]int
	}
	b, err := json.Marshal(provider{Name: "openai", Key: NewValue(testSecret), Keys: map[Value]int{NewValue(testSecret): 1}})
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	want := `{"name":"openai","api_key":"[REDACTED]","Keys":{"[REDACTED]":1}}`
	if string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
	txt, err := NewValue(testSecret).MarshalText()
	if err != nil || string(txt) != redacted {
		t.Errorf("MarshalText = %q, %v", txt, err)
	}
}

func TestValue_RevealAndIsZero(t *testing.T) {
	tests := []struct {
		name   string
		v      Value
		reveal string
		zero   bool
	}{
		{"zero", Value{}, "", true},
		{"empty", NewValue(""), "", true},
		{"set", NewValue(testSecret), testSecret, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.v.Reveal(); got != tt.reveal {
				t.Errorf("Reveal() = %q, want %q", got, tt.reveal)
			}
			if got := tt.v.IsZero(); got != tt.zero {
				t.Errorf("IsZero() = %v, want %v", got, tt.zero)
			}
		})
	}
}
