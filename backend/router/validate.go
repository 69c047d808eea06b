package router

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
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
// *FieldError for the first problem found. A route without targets is
// checked as the group of its backend, a weight of 0 as 1 (Normalize).
func Validate(r Route, known func(name string) bool) error {
	if len(r.Targets) == 0 {
		r.Targets = []Member{{Backend: r.Backend, Model: r.BackendModel}}
	}
	r.Targets = slices.Clone(r.Targets)
	for i := range r.Targets {
		if r.Targets[i].Weight == 0 {
			r.Targets[i].Weight = 1
		}
	}
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
	if err := checkGroup(r, known); err != nil {
		return err
	}
	if err := checkBudget(r); err != nil {
		return err
	}
	if r.API != "" && r.API != "responses" {
		return &FieldError{"api", `must be "" (the provider's setting) or "responses"`}
	}
	return checkFallbacks(r, known)
}

// checkFallbacks refuses a fallback that is unknown, repeated, or that
// names a member of the group — the same backend sent the same model,
// which the walk has just tried — except the first member named with its
// model, which routes made before groups may hold.
func checkFallbacks(r Route, known func(string) bool) error {
	seen := map[string]bool{}
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
		switch j := memberOf(r, backend, model); {
		case j == 0 && model == "":
			return &FieldError{field, fmt.Sprintf("%q is already the route's backend; a fallback must be another backend or name another model (%s:MODEL)", backend, backend)}
		case j > 0:
			return &FieldError{field, fmt.Sprintf("%q is already targets[%d] of the route's group; a fallback must be another backend or name another model", f, j)}
		}
		// A fallback "backend:model" that repeats the first member was
		// always accepted (it tries that model once more after the
		// group): routes stored so must stay editable.
		if seen[f] {
			return &FieldError{field, fmt.Sprintf("%q appears twice in the chain", f)}
		}
		seen[f] = true
	}
	return nil
}

// memberOf is the index of the group member a fallback (backend, model)
// repeats, or -1. A fallback without a model is sent the first member's
// model; a member without one the requested name.
func memberOf(r Route, backend, model string) int {
	if model == "" {
		model = r.BackendModel
	}
	for j, m := range r.Targets {
		if m.Backend == backend && m.Model == model {
			return j
		}
	}
	return -1
}

// Bounds of a route's group and context window.
const (
	MaxGroupMembers = 16
	MaxWeight       = 1000
	MaxContext      = 10_000_000
)

// Normalize fills what a route's writer may leave out: a route without
// targets is a group of its backend; a weight of 0 is 1; policy "" is
// PolicyFirst; Backend and BackendModel are always the first member. It
// does not validate (Validate does).
func Normalize(r *Route) {
	if len(r.Targets) == 0 {
		r.Targets = []Member{{Backend: r.Backend, Model: r.BackendModel}}
	}
	r.Targets = slices.Clone(r.Targets)
	for i := range r.Targets {
		if r.Targets[i].Weight == 0 {
			r.Targets[i].Weight = 1
		}
	}
	r.Backend, r.BackendModel = r.Targets[0].Backend, r.Targets[0].Model
	if r.Policy == "" {
		r.Policy = PolicyFirst
	}
	if r.Fallbacks == nil {
		r.Fallbacks = []string{}
	}
}

// checkGroup checks the route's group, policy and context window. The
// group must agree with Backend and BackendModel (Normalize makes it so).
func checkGroup(r Route, known func(string) bool) error {
	switch n := len(r.Targets); {
	case n == 0:
		return &FieldError{"targets", "must name at least one backend"}
	case n > MaxGroupMembers:
		return &FieldError{"targets", fmt.Sprintf("has %d members; a group has at most %d", n, MaxGroupMembers)}
	}
	for i, m := range r.Targets {
		field := fmt.Sprintf("targets[%d]", i)
		if err := checkBackend(m.Backend, known); err != nil {
			return &FieldError{field + ".backend", err.Error()}
		}
		if err := checkModelName(m.Model, true); err != nil {
			return &FieldError{field + ".model", err.Error()}
		}
		if m.Weight < 1 || m.Weight > MaxWeight {
			return &FieldError{field + ".weight", fmt.Sprintf("is %d; give a whole number from 1 to %d", m.Weight, MaxWeight)}
		}
		if j := slices.IndexFunc(r.Targets[:i], func(o Member) bool { return o.Backend == m.Backend && o.Model == m.Model }); j >= 0 {
			return &FieldError{field, fmt.Sprintf("repeats targets[%d] (%s): members are distinct by backend and model", j, memberName(m))}
		}
	}
	if r.Backend != r.Targets[0].Backend || r.BackendModel != r.Targets[0].Model {
		return &FieldError{"backend", fmt.Sprintf("backend and backend_model (%s) must be the first member of targets (%s)",
			memberName(Member{Backend: r.Backend, Model: r.BackendModel}), memberName(r.Targets[0]))}
	}
	switch r.Policy {
	case "", PolicyFirst, PolicyWeighted, PolicyLeastBusy:
	default:
		return &FieldError{"policy", fmt.Sprintf("is %q; use %q, %q or %q", r.Policy, PolicyFirst, PolicyWeighted, PolicyLeastBusy)}
	}
	if c := r.MaxContext; c != nil && (*c <= 0 || *c > MaxContext) {
		return &FieldError{"max_context", fmt.Sprintf("is %d; give a number of tokens from 1 to %d, or null when unknown", *c, MaxContext)}
	}
	return nil
}

// memberName is a member as a message shows it: "backend" or
// "backend:model".
func memberName(m Member) string {
	if m.Model == "" {
		return strconv.Quote(m.Backend)
	}
	return strconv.Quote(m.Backend + ":" + m.Model)
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
