package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/modelbar/modelbar/backend/router"
)

// routeNames names the routes ids (which use provider) as a person knows
// them: by model pattern, saying where a route uses the provider only as a
// fallback. "route 7" stands for a route the published table no longer has.
func (s *Service) routeNames(provider string, ids []int64) string {
	byID := map[int64]router.Route{}
	for _, r := range s.Routes() {
		byID[r.ID] = r
	}
	names := make([]string, 0, len(ids))
	for _, id := range ids {
		r, ok := byID[id]
		if !ok {
			names = append(names, "route "+strconv.FormatInt(id, 10))
			continue
		}
		name := strconv.Quote(r.ModelPattern)
		switch {
		case r.Backend == provider:
		case slices.ContainsFunc(r.Targets, func(m router.Member) bool { return m.Backend == provider }):
			name += " (in its group)"
		default:
			name += " (as a fallback)"
		}
		names = append(names, name)
	}
	if len(names) == 1 {
		return "the route " + names[0]
	}
	return "the routes " + strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// Warning is advice about a saved provider: something that is allowed but
// probably wrong, such as a cloud API without a key. Field names the
// setting it is about (as in an error's param).
type Warning struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// cloudHosts are the hosts of hosted APIs that refuse every request without
// a key, by the name of their service.
var cloudHosts = map[string]string{
	"api.openai.com":                    "OpenAI",
	"api.anthropic.com":                 "Anthropic",
	"api.groq.com":                      "Groq",
	"openrouter.ai":                     "OpenRouter",
	"api.together.xyz":                  "Together",
	"api.mistral.ai":                    "Mistral",
	"api.deepseek.com":                  "DeepSeek",
	"api.fireworks.ai":                  "Fireworks",
	"api.x.ai":                          "xAI",
	"api.perplexity.ai":                 "Perplexity",
	"api.cerebras.ai":                   "Cerebras",
	"api.deepinfra.com":                 "DeepInfra",
	"generativelanguage.googleapis.com": "Google Gemini",
}

// versionSegment is a path segment naming an API version: v1, v1beta, v2alpha1.
var versionSegment = regexp.MustCompile(`^v[0-9]+([a-z]+[0-9]*)?$`)

// Warnings says what looks wrong in a provider that was nevertheless
// saved: an OpenAI-compatible base URL with no version in its path (the
// SDK convention puts /v1 in it), an Anthropic one that ends in /v1 (the
// client adds it), a hosted API without a key. They are warnings, not
// errors: a server may serve elsewhere, a key may come later.
func Warnings(p Provider) []Warning {
	out := []Warning{}
	u, err := url.Parse(p.BaseURL)
	if err != nil {
		return out
	}
	segs := strings.FieldsFunc(u.Path, func(r rune) bool { return r == '/' })
	switch p.Type {
	case "openai":
		if !slices.ContainsFunc(segs, versionSegment.MatchString) {
			out = append(out, Warning{Field: "base_url", Message: fmt.Sprintf(
				"has no /v1: OpenAI-compatible servers usually serve under /v1, and modelbar sends to base_url + /chat/completions; did you mean %s/v1?", p.BaseURL)})
		}
	case "anthropic":
		if len(segs) > 0 && segs[len(segs)-1] == "v1" {
			out = append(out, Warning{Field: "base_url", Message: fmt.Sprintf(
				"ends in /v1: an Anthropic base URL has none (modelbar adds /v1/messages); did you mean %s?", strings.TrimSuffix(p.BaseURL, "/v1"))})
		}
	}
	if service, ok := cloudHosts[strings.ToLower(u.Hostname())]; ok && !p.HasAPIKey {
		msg := fmt.Sprintf("%s refuses requests without an API key, and none is set: enter one, or name an environment variable that holds it", service)
		if p.APIKeyEnv != "" {
			msg = fmt.Sprintf("%s refuses requests without an API key, and $%s is not set in modelbar's environment", service, p.APIKeyEnv)
		}
		out = append(out, Warning{Field: "api_key", Message: msg})
	}
	return out
}
