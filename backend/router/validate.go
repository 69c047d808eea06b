package router

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds of what a route holds: a model name is at most MaxModelBytes (as
// the gateway accepts from clients), a pattern at most MaxPatternChars.
const (
	MaxModelBytes   = 256
	MaxPatternChars = 256
)

// FieldError says which field of a route or provider is wrong and why.
type FieldError struct {
	Field   string // JSON field path, e.g. "fallbacks[1]"
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

var backendName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// ValidBackendName reports whether name can name a provider: letters,
// digits, '.', '_' and '-', at most 63 characters, and never the reserved
// "local" or "none" (the X-Modelbar-Backend of a response no backend gave)
// in any case. It keeps names safe in URLs and free of ':', which separates
// a fallback's backend from its model. Names are case-sensitive.
func ValidBackendName(name string) error {
	if strings.EqualFold(name, Local) || strings.EqualFold(name, "none") {
		return fmt.Errorf("%q is reserved", name)
	}
	if !backendName.MatchString(name) {
		return fmt.Errorf("%q is not a valid name: use letters, digits, '.', '_' or '-' (at most 63), starting with a letter or digit", name)
	}
	return nil
}

// Validate checks a route against the backends that exist; known reports
// whether a provider name exists ("local" always does). It returns a
// *FieldError for the first problem found.
func Validate(r Route, known func(name string) bool) error {
	if n := utf8.RuneCountInString(r.ModelPattern); n > MaxPatternChars {
		return &FieldError{"model_pattern", fmt.Sprintf("is %d characters long; patterns are at most %d", n, MaxPatternChars)}
	}
	if _, err := CompilePattern(r.ModelPattern); err != nil {
		return &FieldError{"model_pattern", err.Error()}
	}
	if err := checkBackend(r.Backend, known); err != nil {
		return &FieldError{"backend", err.Error()}
	}
	if err := checkModelName(r.BackendModel, true); err != nil {
		return &FieldError{"backend_model", err.Error()}
	}
	if err := checkBudget(r); err != nil {
		return err
	}
	if r.API != "" && r.API != "responses" {
		return &FieldError{"api", `must be "" (the provider's setting) or "responses"`}
	}
	seen := map[string]bool{r.Backend: true}
	for i, f := range r.Fallbacks {
		field := fmt.Sprintf("fallbacks[%d]", i)
		backend, model := SplitFallback(f)
		if err := checkBackend(backend, known); err != nil {
			return &FieldError{field, err.Error()}
		}
		if strings.Contains(f, ":") {
			if err := checkModelName(model, false); err != nil {
				return &FieldError{field, "model after ':' " + err.Error()}
			}
		}
		if backend == r.Backend && model == "" {
			return &FieldError{field, fmt.Sprintf("%q is already the route's backend; a fallback must be another backend or name another model (%s:MODEL)", backend, backend)}
		}
		if seen[f] {
			return &FieldError{field, fmt.Sprintf("%q appears twice in the chain", f)}
		}
		seen[f] = true
	}
	return nil
}

func checkBackend(name string, known func(string) bool) error {
	switch {
	case name == "":
		return fmt.Errorf("is required: %q or a provider name", Local)
	case name == Local:
		return nil
	case !known(name):
		return fmt.Errorf("unknown backend %q: add the provider first, or use %q", name, Local)
	}
	return nil
}

func checkModelName(name string, emptyOK bool) error {
	switch {
	case name == "" && emptyOK:
		return nil
	case name == "":
		return fmt.Errorf("must not be empty")
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("must not start or end with spaces")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("must not contain control characters")
	case len(name) > MaxModelBytes:
		return fmt.Errorf("is longer than %d bytes", MaxModelBytes)
	}
	return nil
}

// MaxBudgetValue bounds a route's budget fields: far beyond any real use,
// small enough that no counter overflows.
const MaxBudgetValue = 1 << 40

func checkBudget(r Route) error {
	for _, f := range []struct {
		name string
		v    *int64
	}{{"max_requests_per_minute", r.MaxRequestsPerMinute}, {"max_tokens_per_day", r.MaxTokensPerDay}} {
		switch {
		case f.v == nil:
		case *f.v <= 0:
			return &FieldError{f.name, fmt.Sprintf("is %d; give a positive whole number, or null for no limit", *f.v)}
		case *f.v > MaxBudgetValue:
			return &FieldError{f.name, fmt.Sprintf("is %d; at most %d", *f.v, int64(MaxBudgetValue))}
		}
	}
	return nil
}
