package providers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/modelbar/modelbar/backend/redact"
)

// AnthropicVersion is sent to Anthropic providers when the client sent none.
const AnthropicVersion = "2023-06-01"

// translatedHeaders are the client request headers a translated request
// carries to a provider of each API: the common ones and that API's own
// (a translated request does not carry the other API's headers).
var translatedHeaders = map[Type][]string{
	OpenAI:    {"Accept", "Content-Type", "User-Agent", "OpenAI-Beta", "OpenAI-Organization", "OpenAI-Project"},
	Anthropic: {"Accept", "Content-Type", "User-Agent", "anthropic-version", "anthropic-beta"},
}

// TranslatedHeader is the part of a client's header that a request
// translated for a provider of type t keeps.
func TranslatedHeader(t Type, in http.Header) http.Header {
	out := http.Header{}
	for _, h := range translatedHeaders[t] {
		if v := in.Values(h); len(v) > 0 {
			out[http.CanonicalHeaderKey(h)] = v
		}
	}
	return out
}

// unrelayed are the client headers a relayed request never carries: the
// client's credentials (the provider gets its own), hop-by-hop and framing
// headers, the browser's, the client's address, and Accept-Encoding (the
// gateway reads streams for usage, so the transport negotiates compression
// itself).
var unrelayed = map[string]bool{
	"Authorization": true, "X-Api-Key": true, "Api-Key": true, "Cookie": true,
	"Host": true, "Content-Length": true, "Accept-Encoding": true,
	"Connection": true, "Keep-Alive": true, "Proxy-Authorization": true, "Proxy-Authenticate": true,
	"Proxy-Connection": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Origin": true, "Referer": true, "Forwarded": true, "X-Forwarded-For": true, "X-Forwarded-Host": true,
	"X-Forwarded-Proto": true, "X-Real-Ip": true,
}

// RelayedHeader is the part of a client's header that a request relayed
// to a provider of the client's own API keeps: everything but credentials,
// hop-by-hop headers, browser and address headers, and modelbar's own
// (X-Modelbar-*). Beta flags and headers newer than this code travel on:
// the provider judges them.
func RelayedHeader(in http.Header) http.Header {
	out := http.Header{}
	for k, v := range in {
		ck := http.CanonicalHeaderKey(k)
		if unrelayed[ck] || strings.HasPrefix(ck, "Sec-") || strings.HasPrefix(ck, "X-Modelbar-") {
			continue
		}
		out[ck] = slices.Clone(v)
	}
	return out
}

// Client forwards requests to one provider. Safe for concurrent use.
//
// Its key goes only to its own host (see checkRedirect) and is cut out of
// everything that comes back (see cutTransport): a provider that echoes it
// cannot pass it on to the client.
type Client struct {
	cfg       Config
	preset    Preset // cfg.Preset's; the zero Preset for an unknown name
	transport *http.Transport
	http      *http.Client
	cut       *redact.Cutter // the key's forms; nil when it has none
}

// NewClient builds a client with its own connection pool.
func NewClient(cfg Config) *Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dial,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	cut := redact.NewCutter(redact.Needles(cfg.APIKey.Reveal()))
	var rt http.RoundTripper = tr
	if extra := extraHeader(cfg.ExtraHeaders); extra != nil {
		rt = &headerTransport{base: rt, extra: extra}
	}
	if cut != nil {
		rt = &cutTransport{base: rt, cut: cut}
	}
	// No client-wide timeout: a long generation may stream for minutes. The
	// request context bounds each call.
	preset, _ := LookupPreset(cfg.Preset)
	return &Client{cfg: cfg, preset: preset, transport: tr, cut: cut, http: &http.Client{Transport: rt, CheckRedirect: checkRedirect}}
}

// DefaultConnectTimeout bounds the dial of a connection to a provider
// unless the call's context says otherwise.
const DefaultConnectTimeout = 10 * time.Second

type connectTimeoutKey struct{}

// WithConnectTimeout bounds the dial of the connections that calls made
// with ctx open to d, so that a dead address fails fast and the next
// backend is tried, while the answer itself may take minutes.
func WithConnectTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, connectTimeoutKey{}, d)
}

func connectTimeout(ctx context.Context) time.Duration {
	if d, ok := ctx.Value(connectTimeoutKey{}).(time.Duration); ok && d > 0 {
		return d
	}
	return DefaultConnectTimeout
}

// dial opens a connection within the context's connect timeout.
func dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: connectTimeout(ctx), KeepAlive: 30 * time.Second}
	return d.DialContext(ctx, network, addr)
}

// Name is the provider's name.
func (c *Client) Name() string { return c.cfg.Name }

// Type is the API the provider speaks.
func (c *Client) Type() Type { return c.cfg.Type }

// Preset is the kind of server the provider is; the zero Preset when
// generic.
func (c *Client) Preset() Preset { return c.preset }

// AsksForUsage reports whether a stream relayed to the provider must ask
// for its usage (stream_options.include_usage) to get any: the servers of
// every preset send it only then. A generic provider's streams are relayed
// as the client sent them.
func (c *Client) AsksForUsage() bool { return c.cfg.Type == OpenAI && c.preset.UsageOnRequest }

// ModelKey is the name under which model is matched against the
// provider's list (Preset.ModelKey).
func (c *Client) ModelKey(model string) string { return c.preset.ModelKey(model) }

// HealthCheck is the interval of the provider's health check; 0: none.
func (c *Client) HealthCheck() time.Duration { return c.cfg.HealthCheck }

// DefaultMaxTokens is the max_tokens to send when a request has none.
func (c *Client) DefaultMaxTokens() int {
	if c.cfg.DefaultMaxTokens > 0 {
		return c.cfg.DefaultMaxTokens
	}
	return DefaultMaxTokens
}

// MaxTokensField names the request field an OpenAI-API provider takes the
// output limit in: api.openai.com wants max_completion_tokens (its reasoning
// models refuse max_tokens); compatible servers (vLLM, Ollama, LM Studio,
// Groq) all know max_tokens, not all the newer name.
func (c *Client) MaxTokensField() string {
	if u, err := url.Parse(c.cfg.BaseURL); err == nil && u.Hostname() == "api.openai.com" {
		return "max_completion_tokens"
	}
	return "max_tokens"
}

// reasoningModel matches the names of models that take reasoning_effort:
// OpenAI's o-series and GPT-5 family, gpt-oss, and the open reasoning
// models compatible servers host (DeepSeek R1, QwQ, Qwen3, Magistral,
// "-thinking" and "reason" variants).
var reasoningModel = regexp.MustCompile(`(?i)(^|/)(o[1-9]|gpt-5|gpt-oss|deepseek-r|qwq|qwen3|magistral)|thinking|reason`)

// ReasoningModel reports whether model accepts reasoning_effort. Sending it
// to a model that does not reason is a 400 at OpenAI, so it goes only where
// the name says the model reasons.
func (c *Client) ReasoningModel(model string) bool { return reasoningModel.MatchString(model) }

// adaptiveModel matches the Claude models that take adaptive thinking and
// output_config.effort: Opus and Sonnet 4.6 and later, and any Claude of a
// later generation (claude-opus-4-7, claude-sonnet-5, claude-5-haiku ...).
var adaptiveModel = regexp.MustCompile(`(?i)claude-(?:(?:opus|sonnet|haiku)-)?(?:4-(?:[6-9]|\d\d)|[5-9](?:[-.]\d+)?)(?:$|[-@.])`)

// AdaptiveThinking reports whether model takes {"type":"adaptive"} thinking
// and an effort level; older Claude models take a thinking budget only.
func (c *Client) AdaptiveThinking(model string) bool { return adaptiveModel.MatchString(model) }

// Close drops idle connections; requests in flight finish normally.
func (c *Client) Close() { c.transport.CloseIdleConnections() }

// URL maps a path of the public API ("/v1/chat/completions",
// "/v1/messages") onto the provider's base URL, which for OpenAI-style
// providers already ends in the version ("/v1", "/openai/v1", "/api/v1").
func (c *Client) URL(apiPath string) string {
	if c.cfg.Type == OpenAI {
		apiPath = strings.TrimPrefix(apiPath, "/v1")
	}
	return c.cfg.BaseURL + apiPath
}

// Forward sends body to the provider at apiPath (which may carry a query
// string) with the provider's credentials and the headers in, which the
// caller has chosen (RelayedHeader, TranslatedHeader); credentials and
// hop-by-hop headers in it are never sent. A 2xx response is returned
// open for the caller to read and close; any other status is read, closed and
// returned as an *Error, as is a transport failure.
func (c *Client) Forward(ctx context.Context, method, apiPath string, in http.Header, body []byte) (*http.Response, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL(apiPath), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("provider %s: build request: %w", c.cfg.Name, err)
	}
	for k, v := range in {
		if ck := http.CanonicalHeaderKey(k); !unrelayed[ck] {
			req.Header[ck] = v
		}
	}
	c.authorize(req.Header)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, c.statusError(resp)
	}
	return resp, nil
}

// usable refuses to call a provider whose key could not be read.
func (c *Client) usable() *Error {
	if c.cfg.KeyError == "" {
		return nil
	}
	return &Error{Provider: c.cfg.Name, Kind: KindConfig, Message: "its API key cannot be read (" + c.cfg.KeyError +
		"); no request was sent: set the key again in modelbar"}
}

func (c *Client) authorize(h http.Header) {
	key := c.cfg.APIKey.Reveal()
	switch c.cfg.Type {
	case Anthropic:
		if key != "" {
			h.Set("x-api-key", key)
		}
		if h.Get("anthropic-version") == "" {
			h.Set("anthropic-version", AnthropicVersion)
		}
	default:
		if key != "" {
			h.Set("Authorization", "Bearer "+key)
		}
	}
}

// Get fetches a small JSON document from the provider (model listings,
// connection tests).
func (c *Client) Get(ctx context.Context, apiPath string) ([]byte, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL(apiPath), nil)
	if err != nil {
		return nil, fmt.Errorf("provider %s: build request: %w", c.cfg.Name, err)
	}
	req.Header.Set("Accept", "application/json")
	c.authorize(req.Header)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, c.statusError(resp)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	return b, nil
}

// transportError classifies a failed call. A redirect that was not
// followed is the provider's configuration at fault (KindConfig); the key
// is cut from the text of any other error, which may quote the server.
func (c *Client) transportError(ctx context.Context, err error) *Error {
	var rerr *redirectError
	if errors.As(err, &rerr) {
		return &Error{Provider: c.cfg.Name, Kind: KindConfig, Message: c.cut.CutString(rerr.msg)}
	}
	kind := KindConnection
	var nerr net.Error
	switch {
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		kind = KindCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		kind = KindTimeout
	}
	return &Error{Provider: c.cfg.Name, Kind: kind, Err: cutErr(c.cut, err)}
}

// statusError reads a non-2xx answer.
func (c *Client) statusError(resp *http.Response) *Error {
	return c.redact(statusError(c.cfg.Name, resp))
}

// redact cuts the provider's key out of an error's message, body and
// headers: some self-hosted servers echo the credential they were sent,
// and it must not travel further (to the client, a log line, the UI).
// cutTransport has cut it from the response already; this covers errors
// built from elsewhere (go-openai's), and any mistake in that path.
func (c *Client) redact(e *Error) *Error {
	e.Message = c.cut.CutString(e.Message)
	e.Body = c.cut.Cut(e.Body)
	cutHeader(c.cut, e.Header)
	return e
}

// Responses says whether the provider offers the Responses API.
func (c *Client) Responses() ResponsesMode {
	switch {
	case c.cfg.Type == Anthropic:
		return ResponsesNo
	case c.ResponsesOnly():
		return ResponsesYes
	}
	if c.cfg.Responses == "" {
		return ResponsesAuto
	}
	return c.cfg.Responses
}

// ResponsesOnly reports whether the provider's models speak only the
// Responses API (APIResponses).
func (c *Client) ResponsesOnly() bool { return c.cfg.Type == OpenAI && c.cfg.API == APIResponses }
