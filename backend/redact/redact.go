// Package redact keeps secrets from leaking: Value wraps a secret string
// so that no log line, error, JSON document or fmt verb can print it by
// accident, and Cutter cuts a secret, in the forms a careless server may
// echo it in (Needles), out of bytes, strings and streams.
//
// The package is pure: no I/O of its own, no HTTP.
package redact

import (
	"fmt"
	"io"
	"log/slog"
)

// redacted is what every rendering of a Value prints.
const redacted = "[REDACTED]"

// Value is a secret string that cannot leak by accident: String/GoString/Format/LogValue (slog.LogValuer)/MarshalJSON/MarshalText
// all render "[REDACTED]"; Reveal() returns the real string.
//
// The string sits behind a pointer so that even where fmt cannot call Format
// (a Value in an unexported field of a printed struct) it prints an address,
// not the secret. The zero value is an empty secret and ready to use. Compare
// Values with Reveal, not ==, which compares the pointers.
type Value struct{ p *string }

// NewValue wraps s. NewValue("") is the zero Value.
func NewValue(s string) Value {
	if s == "" {
		return Value{}
	}
	return Value{p: &s}
}

// Reveal returns the secret. Call it only where the secret is used, never to log or format it.
func (v Value) Reveal() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

// IsZero reports whether the secret is empty; encoding/json's omitzero uses it.
func (v Value) IsZero() bool { return v.p == nil || *v.p == "" }

// String returns "[REDACTED]".
func (Value) String() string { return redacted }

// GoString returns "[REDACTED]".
func (Value) GoString() string { return redacted }

// Format prints "[REDACTED]" for every verb and flag.
func (Value) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// LogValue makes slog print "[REDACTED]".
func (Value) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON returns the JSON string "[REDACTED]".
func (Value) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "[REDACTED]".
func (Value) MarshalText() ([]byte, error) { return []byte(redacted), nil }

var (
	_ fmt.Stringer   = Value{}
	_ fmt.GoStringer = Value{}
	_ fmt.Formatter  = Value{}
	_ slog.LogValuer = Value{}
)
