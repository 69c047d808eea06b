package providers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// Probe is the outcome of a connection test.
type Probe struct {
	Latency time.Duration
	Models  []string // model ids the provider lists
}

// Probe lists the provider's models, which proves the address and the key
// work. OpenAI-style providers are asked through go-openai, as an OpenAI SDK
// user would; Anthropic through its /v1/models endpoint.
func (c *Client) Probe(ctx context.Context) (Probe, error) {
	if err := c.usable(); err != nil {
		return Probe{}, err
	}
	start := time.Now()
	var ids []string
	var err error
	if c.cfg.Type == Anthropic {
		ids, err = c.anthropicModels(ctx)
	} else {
		ids, err = c.openAIModels(ctx)
	}
	if err != nil {
		return Probe{}, err
	}
	return Probe{Latency: time.Since(start), Models: ids}, nil
}

func (c *Client) openAIModels(ctx context.Context) ([]string, error) {
	cfg := openai.DefaultConfig(c.cfg.APIKey.Reveal())
	cfg.BaseURL = c.cfg.BaseURL
	cfg.HTTPClient = c.http
	list, err := openai.NewClientWithConfig(cfg).ListModels(ctx)
	if err != nil {
		return nil, c.sdkError(ctx, err)
	}
	ids := make([]string, 0, len(list.Models))
	for _, m := range list.Models {
		ids = append(ids, m.ID)
	}
	return ids, nil
}

// sdkError turns go-openai's errors into *Error so callers see one type,
// with the key cut out as on the forwarding path.
func (c *Client) sdkError(ctx context.Context, err error) error {
	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	switch {
	case errors.As(err, &apiErr):
		return c.redact(&Error{Provider: c.cfg.Name, Kind: KindStatus, Status: apiErr.HTTPStatusCode, Message: apiErr.Message})
	case errors.As(err, &reqErr):
		return c.redact(&Error{Provider: c.cfg.Name, Kind: KindStatus, Status: reqErr.HTTPStatusCode, Message: errorMessage(reqErr.Body)})
	}
	return c.transportError(ctx, err)
}

func (c *Client) anthropicModels(ctx context.Context) ([]string, error) {
	models, err := c.listAnthropicModels(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(models))
	for _, m := range models {
		ids = append(ids, m.ID)
	}
	return ids, nil
}

// CheckHealth asks the provider whether it can serve now, with its
// credentials and extra headers: at its preset's health endpoint when it
// has one (HealthPath), else through its model list. It returns how long
// the answer took. Errors are *Error, with the key cut out.
func (c *Client) CheckHealth(ctx context.Context) (time.Duration, error) {
	if err := c.usable(); err != nil {
		return 0, err
	}
	start := time.Now()
	if u := c.preset.healthURL(c.cfg.BaseURL); u != "" && c.cfg.Type == OpenAI {
		return time.Since(start), c.getStatus(ctx, u)
	}
	_, err := c.ListModels(ctx)
	return time.Since(start), err
}

// getStatus GETs rawURL and reads a 2xx answer's body (at most 64 KiB)
// to its end; any other status is an *Error.
func (c *Client) getStatus(ctx context.Context, rawURL string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fmt.Errorf("provider %s: build request: %w", c.cfg.Name, err)
	}
	c.authorize(req.Header)
	resp, err := c.http.Do(req)
	if err != nil {
		return c.transportError(ctx, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.statusError(resp)
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return c.transportError(ctx, err)
	}
	return nil
}
