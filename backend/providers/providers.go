// Package providers talks to cloud model providers: OpenAI and
// Anthropic, or any server that speaks one of their APIs (Groq, OpenRouter,
// vLLM, Ollama, LM Studio, another modelbar). A Client forwards request bodies
// byte for byte and adds the provider's credentials; a Registry keeps one
// Client per provider and rebuilds it when that provider's settings change.
//
// Keys arrive as constructor values (redact.Value); this package never reads
// the secret store or the database.
package providers

import (
	"fmt"
	"maps"
	"net/url"
	"strings"
	"time"

	"github.com/modelbar/modelbar/backend/redact"
)

// Type is the API a provider speaks.
type Type string

const (
	OpenAI    Type = "openai"
	Anthropic Type = "anthropic"
)

// ParseType accepts "openai" or "anthropic".
func ParseType(s string) (Type, error) {
	switch t := Type(s); t {
	case OpenAI, Anthropic:
		return t, nil
	}
	return "", fmt.Errorf("unknown type %q: use %q or %q", s, OpenAI, Anthropic)
}

// DefaultBaseURL follows each vendor SDK's convention: OpenAI's includes /v1,
// Anthropic's does not.
func DefaultBaseURL(t Type) string {
	if t == Anthropic {
		return "https://api.anthropic.com"
	}
	return "https://api.openai.com/v1"
}

// NormalizeBaseURL checks that raw is an absolute http(s) URL without query or
// fragment and returns it without a trailing slash.
func NormalizeBaseURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("must start with http:// or https://")
	}
	if u.Host == "" {
		return "", fmt.Errorf("has no host")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("must not have a query or fragment")
	}
	if u.User != nil {
		return "", fmt.Errorf("must not carry credentials: set api_key instead")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// DefaultMaxTokens is the max_tokens sent to an Anthropic-API provider when
// the client gave none: 4096 is the largest output every Claude model
// accepts (Claude 3 Haiku's limit), so the default never causes an error.
// A provider can set its own (Config.DefaultMaxTokens).
const DefaultMaxTokens = 4096

// Config is everything a Client needs. Two equal Configs build
// interchangeable clients.
type Config struct {
	Name             string
	Type             Type
	BaseURL          string       // normalized, no trailing slash
	APIKey           redact.Value // may be zero: local servers often need none
	DefaultMaxTokens int          // 0: DefaultMaxTokens
	// Responses says whether an OpenAI-API provider offers the Responses
	// API; "" is ResponsesAuto.
	Responses ResponsesMode
	// API is the API the provider's models speak for chat: "" (its
	// type's) or APIResponses.
	API API
	// KeyError says why the provider's key could not be read (a corrupt
	// secret store); while it is set no request is sent, since one
	// without its credential could only fail, or reach the wrong account.
	KeyError string
	// Preset is the kind of server (presets.go): "" is generic.
	Preset string
	// ExtraHeaders are sent on every request to the provider, over a
	// relayed client header of the same name (CheckExtraHeaders has
	// accepted them). Their values are never logged.
	ExtraHeaders map[string]string
	// HealthCheck is the interval of the provider's health check; 0: none.
	HealthCheck time.Duration
}

func (c Config) equal(o Config) bool {
	return c.Name == o.Name && c.Type == o.Type && c.BaseURL == o.BaseURL &&
		c.APIKey.Reveal() == o.APIKey.Reveal() && c.DefaultMaxTokens == o.DefaultMaxTokens && c.Responses == o.Responses && c.API == o.API && c.KeyError == o.KeyError &&
		c.Preset == o.Preset && maps.Equal(c.ExtraHeaders, o.ExtraHeaders) && c.HealthCheck == o.HealthCheck
}

// API is the API a provider's models speak for chat, when it is not the
// one of the provider's type.
type API string

// APIResponses: an OpenAI-API provider whose models speak only the
// Responses API; chat-completions and Anthropic calls are translated to
// it, Responses calls relayed.
const APIResponses API = "responses"

// ResponsesMode says whether a provider offers the Responses API.
type ResponsesMode string

const (
	// ResponsesAuto: relay, and on a 404 or 405 translate from then on.
	ResponsesAuto ResponsesMode = "auto"
	ResponsesYes  ResponsesMode = "yes" // always relay
	ResponsesNo   ResponsesMode = "no"  // always translate to chat completions
)
