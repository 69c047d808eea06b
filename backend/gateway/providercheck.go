package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/modelbar/modelbar/backend/config"
	"github.com/modelbar/modelbar/backend/providers"
	"github.com/modelbar/modelbar/backend/router"
)

// providerView is a provider as the admin API shows it: the stored
// settings and what looks wrong in them (config.Warnings), so the UI can
// say so after a save and on every later look.
type providerView struct {
	config.Provider
	Warnings []config.Warning `json:"warnings"`
	// LastTest is the provider's latest connection test since the server
	// started (providertests.go); absent when it has had none.
	LastTest *lastTest `json:"last_test,omitempty"`
	// Health is the provider's latest health check (health.go); null when
	// it has none (health_check_seconds 0) or it has not run yet.
	Health *providerHealth `json:"health"`
}

// viewProvider is p as the admin API shows it: with its warnings, its
// last connection test and its health.
func (s *Server) viewProvider(p config.Provider) providerView {
	return providerView{Provider: p, Warnings: config.Warnings(p), LastTest: s.tests.get(p.Name), Health: s.health.get(p.Name)}
}

// listPresets serves GET /api/providers/presets: the kinds of server a
// provider can be, with the type and base URL the editor fills in and the
// quirks modelbar handles for each ("notes").
func (s *Server) listPresets(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, providers.Presets())
}

// probeFailure is a failed connection test in the words a person needs:
// what went wrong and what to check. Code names the kind of failure for
// the UI; Detail is the underlying error, for a bug report.
type probeFailure struct {
	Code       string
	Message    string
	HTTPStatus int // the provider's status, when it answered
	Detail     string
}

// explainProbe says why testing provider p failed. The error comes from
// providers.Client.Probe, which has cut the key out of every message.
func explainProbe(p config.Provider, err error) probeFailure {
	var pe *providers.Error
	if !errors.As(err, &pe) {
		return probeFailure{Code: "error", Message: toAPIError(err).Message}
	}
	host := hostPort(p.BaseURL)
	f := probeFailure{Detail: pe.Error()}
	switch pe.Kind {
	case providers.KindStatus:
		f.Code, f.HTTPStatus, f.Message = "http_status", pe.Status, explainStatus(p, pe)
	case providers.KindTimeout:
		f.Code, f.Message = "timeout", fmt.Sprintf("No answer from %s within %d s: the server is busy or hung, or a firewall drops the connection", host, int(config.ProbeTimeout/time.Second))
	case providers.KindConfig:
		f.Code, f.Message = "config", pe.Message
	case providers.KindCanceled:
		f.Code, f.Message = "canceled", "The test was cancelled before the provider answered"
	default:
		f.Code, f.Message = explainTransport(host, pe.Err)
	}
	return f
}

// explainTransport names a failure to reach host: nothing listening, an
// unknown name, a certificate, a closed connection.
func explainTransport(host string, err error) (code, msg string) {
	var dns *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var badName x509.HostnameError
	var invalid x509.CertificateInvalidError
	var record tls.RecordHeaderError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused", fmt.Sprintf("Nothing is listening on %s — %s", host, serverHint(host))
	case errors.As(err, &dns) && dns.IsNotFound:
		return "dns", fmt.Sprintf("The host name %s does not exist (DNS found no such name): check the base URL for a typo", dns.Name)
	case errors.As(err, &dns):
		return "dns", fmt.Sprintf("Could not look up %s (DNS failed: %s): are you online?", dns.Name, dns.Err)
	case errors.As(err, &unknownCA):
		return "tls", fmt.Sprintf("%s's TLS certificate is not signed by an authority this computer trusts (self-signed?): the connection was refused", host)
	case errors.As(err, &badName):
		return "tls", fmt.Sprintf("%s's TLS certificate is for another host name (%s)", host, badName.Error())
	case errors.As(err, &invalid):
		return "tls", fmt.Sprintf("%s's TLS certificate is not valid: %s", host, invalid.Error())
	case errors.As(err, &record), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return "tls", fmt.Sprintf("%s answered in plain HTTP to an https:// URL: use http:// in the base URL", host)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable", fmt.Sprintf("%s cannot be reached (no route to it): check the address and the network", host)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		strings.Contains(err.Error(), "server closed idle connection"): // net/http's unexported errServerClosedIdle
		return "connection_closed", fmt.Sprintf("%s closed the connection without answering: is it an HTTP server, and is the scheme (http or https) right?", host)
	}
	return "connection_failed", fmt.Sprintf("Could not connect to %s: %v", host, err)
}

// serverHint guesses which local server a port belongs to, to ask whether
// it runs.
func serverHint(host string) string {
	_, port, _ := net.SplitHostPort(host)
	switch port {
	case "11434":
		return "is Ollama running?"
	case "1234":
		return "is LM Studio's server running?"
	case "8000":
		return "is the server (vLLM?) running?"
	case "8080":
		return "is the server (llama.cpp?) running?"
	case "11500":
		return "is the other modelbar running?"
	}
	return "is the server running, and on this port?"
}

// explainStatus says what a provider's non-2xx answer to the model list
// means.
func explainStatus(p config.Provider, pe *providers.Error) string {
	said := ""
	if m := strings.TrimSpace(pe.Message); m != "" {
		said = " (the provider said: " + truncate(m, 200) + ")"
	}
	switch s := pe.Status; {
	case s == http.StatusUnauthorized && !p.HasAPIKey:
		return "401: the provider wants an API key, and none is set" + said
	case s == http.StatusUnauthorized:
		return "401: the key was refused" + said
	case s == http.StatusForbidden:
		return "403: the key is not allowed to list models (forbidden)" + said
	case s == http.StatusNotFound:
		msg := "404: there is no model list at " + modelsURL(p) + ": check the base URL"
		if p.Type == "openai" && hasWarning(p, "base_url") {
			msg += " (OpenAI-compatible servers usually end in /v1)"
		}
		return msg + said
	case s == http.StatusTooManyRequests:
		return "429: too many requests, or the account has run out of credit" + said
	case s >= 500:
		return fmt.Sprintf("%d: the provider failed on its side; try again later", s) + said
	}
	return fmt.Sprintf("%d: the provider refused the request", pe.Status) + said
}

// hasWarning reports whether config.Warnings has one about field.
func hasWarning(p config.Provider, field string) bool {
	for _, w := range config.Warnings(p) {
		if w.Field == field {
			return true
		}
	}
	return false
}

// modelsURL is where the test asks for the model list.
func modelsURL(p config.Provider) string {
	if p.Type == "anthropic" {
		return p.BaseURL + "/v1/models"
	}
	return p.BaseURL + "/models"
}

// hostPort is the host and port of a base URL (the scheme's port when it
// has none).
func hostPort(base string) string {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return base
	}
	if u.Port() != "" {
		return u.Host
	}
	port := "80"
	if u.Scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// providerModel is one model in GET /api/providers/{name}/models.
type providerModel struct {
	ID            string `json:"id"`
	Name          string `json:"name,omitempty"`
	ContextLength int    `json:"context_length,omitempty"`
}

// providerModelList is the answer of GET /api/providers/{name}/models.
type providerModelList struct {
	Provider string          `json:"provider"`
	Known    bool            `json:"known"` // false: no list could be had (Error says why)
	Models   []providerModel `json:"models"`
	Error    string          `json:"error,omitempty"`
}

// listProviderModels serves GET /api/providers/{name}/models: the models a
// backend offers, for the route editor's suggestions. "local" lists the
// usable local models. A provider's list is the catalog's (fetched in the
// background for /v1/models); when it has none yet, the provider is asked
// now, briefly.
func (s *Server) listProviderModels(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	out := providerModelList{Provider: name, Models: []providerModel{}}
	if name == router.Local {
		out.Known = s.opts.Local != nil
		for _, m := range s.localModels() {
			if m.Usable {
				out.Models = append(out.Models, providerModel{ID: m.ID, ContextLength: m.ContextLength})
			}
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	p, err := s.cfg.Provider(r.Context(), name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if list, ok := s.catalog.Models(name); ok {
		out.Known = true
		for _, m := range list {
			out.Models = append(out.Models, providerModel{ID: m.ID, Name: m.DisplayName, ContextLength: m.ContextLength})
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 8*time.Second)
	defer cancel()
	probe, err := s.cfg.TestProvider(ctx, name)
	if err != nil {
		out.Error = explainProbe(p, err).Message
		writeJSON(w, http.StatusOK, out)
		return
	}
	out.Known = true
	for _, id := range probe.Models {
		out.Models = append(out.Models, providerModel{ID: id})
	}
	writeJSON(w, http.StatusOK, out)
}
