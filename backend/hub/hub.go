// Package hub is a client of the Hugging Face Hub: it searches for models,
// reads a repo's files with their sizes and LFS oids, and downloads the
// files a model needs into the Hugging Face cache layout
// (models--org--name/blobs, snapshots/<commit>, refs/<revision>) exactly
// as huggingface_hub writes it, so mlx-lm, LM Studio and modelbar share
// one copy. Downloads resume with HTTP Range from blobs/<id>.incomplete,
// are verified against the LFS sha256 or the git blob sha1 before they are
// linked into a snapshot, and fail with a typed *Error whose Message says
// what to do. It speaks HTTP only: no engine, store or serving package is
// imported (see backend/deps_test.go).
package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/modelbar/modelbar/backend/hfcache"
)

// DefaultEndpoint is the public Hub.
const DefaultEndpoint = "https://huggingface.co"

// Client talks to one Hub endpoint. The zero HTTP means a client with
// sane timeouts; Token "" is anonymous. The token is sent only to the
// Hub's own host, never to the file host a download is redirected to
// (as huggingface_hub drops it for another netloc), and never logged.
type Client struct {
	Endpoint string       // HF_ENDPOINT or https://huggingface.co
	Token    string       // "" = anonymous; never logged
	HTTP     *http.Client // nil: a default client
	// Retries is how many times a file is resumed after a network error
	// before Download gives up (0: 3; negative: none).
	Retries int
	// RetryDelay is the pause before a resume (0: 500ms).
	RetryDelay time.Duration
	// UserAgent is sent with every request ("" = "modelbar").
	UserAgent string
	// StallTimeout ends a file transfer that received no byte for this
	// long, as a network error to resume from (0: 60s).
	StallTimeout time.Duration
}

// NewClient is a Client for endpoint ("" = the public Hub) with token.
func NewClient(endpoint, token string) *Client {
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	return &Client{Endpoint: strings.TrimRight(endpoint, "/"), Token: token}
}

// EndpointFromEnv is $HF_ENDPOINT (a mirror), else the public Hub.
func EndpointFromEnv(getenv func(string) string) string {
	if e := strings.TrimSpace(getenv("HF_ENDPOINT")); e != "" {
		return strings.TrimRight(e, "/")
	}
	return DefaultEndpoint
}

// CacheDirFromEnv is the hub cache directory huggingface_hub uses:
// HF_HUB_CACHE, HF_HOME/hub, XDG_CACHE_HOME/huggingface/hub or
// ~/.cache/huggingface/hub (one implementation with the engine's
// modelfile.HFCacheRoot, in backend/hfcache).
func CacheDirFromEnv(getenv func(string) string) string {
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return hfcache.Dir(getenv, home)
}

// Kind classifies an *Error.
type Kind int

const (
	Network      Kind = iota // the Hub or file host could not be reached or the connection dropped
	NotFound                 // no such repo, revision or file
	Unauthorized             // a token is needed, or the one given is wrong
	Gated                    // the repo is gated and this account has no access
	NoWeights                // the repo has no MLX (safetensors) weights
	Checksum                 // a file did not match the Hub's sha256/sha1 twice
	DiskFull                 // not enough free space for the download
	Server                   // the Hub answered with a server error or something unreadable
)

func (k Kind) String() string {
	return [...]string{"network", "not_found", "unauthorized", "gated", "no_weights", "checksum", "disk_full", "server"}[k]
}

// Error is what every Client method fails with (besides a cancelled
// context, which is returned as ctx.Err() wrapped). Message is plain
// words with what to do; it never contains the token.
type Error struct {
	Kind    Kind
	Repo    string
	File    string // the file concerned, if any
	Status  int    // the HTTP status, 0 if none
	Message string
	Err     error // the underlying cause, if any
}

func (e *Error) Error() string {
	s := "hub: " + e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

var (
	repoRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$`)
	commitRE   = regexp.MustCompile(`^[0-9a-f]{40}$`)
	revisionRE = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,200}$`)
)

// ValidRepo reports whether repo is an "org/name" the Hub could hold.
func ValidRepo(repo string) bool {
	return repoRE.MatchString(repo) && !strings.Contains(repo, "..") && !strings.HasSuffix(repo, ".git")
}

func checkRepoRev(repo, revision string) error {
	if !ValidRepo(repo) {
		return &Error{Kind: NotFound, Repo: repo, Message: fmt.Sprintf("%q is not a Hub repo id; give it as org/name, e.g. mlx-community/Qwen2.5-0.5B-Instruct-4bit", repo)}
	}
	if !revisionRE.MatchString(revision) || strings.Contains(revision, "..") || strings.HasPrefix(revision, "/") {
		return &Error{Kind: NotFound, Repo: repo, Message: fmt.Sprintf("%q is not a revision; give a branch, tag or commit, e.g. main", revision)}
	}
	return nil
}

func (c *Client) endpoint() string {
	if c.Endpoint == "" {
		return DefaultEndpoint
	}
	return strings.TrimRight(c.Endpoint, "/")
}

var defaultHTTP = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	TLSHandshakeTimeout:   15 * time.Second,
	ResponseHeaderTimeout: 60 * time.Second,
	MaxIdleConnsPerHost:   8,
	// Accept-Encoding identity is set per request: sizes must be the
	// file's bytes, as huggingface_hub asks.
}}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

// newRequest builds a request; auth adds the token (only for the Hub's
// own host).
func (c *Client) newRequest(ctx context.Context, method, rawURL string, auth bool) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
	if err != nil {
		return nil, err
	}
	ua := c.UserAgent
	if ua == "" {
		ua = "modelbar"
	}
	req.Header.Set("User-Agent", ua)
	if auth && c.Token != "" && sameHost(rawURL, c.endpoint()) {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	return req, nil
}

func sameHost(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && strings.EqualFold(ua.Host, ub.Host)
}

// getJSON GETs an API URL into v; next is the Link rel="next" URL, if any.
func (c *Client) getJSON(ctx context.Context, rawURL, repo string, v any) (next string, err error) {
	req, err := c.newRequest(ctx, http.MethodGet, rawURL, true)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return "", c.netError(ctx, repo, "", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", c.statusError(resp, repo, "")
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(v); err != nil {
		return "", &Error{Kind: Server, Repo: repo, Status: resp.StatusCode, Message: "the Hub's answer could not be read", Err: err}
	}
	return nextLink(resp.Header.Get("Link")), nil
}

// nextLink is the rel="next" target of a Link header (the Hub paginates
// the tree listing and search this way).
func nextLink(h string) string {
	for _, part := range strings.Split(h, ",") {
		segs := strings.Split(part, ";")
		if len(segs) < 2 {
			continue
		}
		target := strings.Trim(strings.TrimSpace(segs[0]), "<>")
		for _, p := range segs[1:] {
			if strings.ReplaceAll(strings.TrimSpace(p), " ", "") == `rel="next"` {
				return target
			}
		}
	}
	return ""
}

// netError wraps a transport failure; a cancelled context is returned
// as itself so callers can tell "stopped" from "failed".
func (c *Client) netError(ctx context.Context, repo, file string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("hub: %w", ctx.Err())
	}
	return &Error{Kind: Network, Repo: repo, File: file, Message: fmt.Sprintf("could not reach %s; check the network connection (or HF_ENDPOINT) and try again — a download resumes where it stopped", hostOf(c.endpoint())), Err: err}
}

func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Host
	}
	return u
}

// statusError maps the Hub's error answers, which carry X-Error-Code
// (RepoNotFound, GatedRepo, EntryNotFound, RevisionNotFound) and
// X-Error-Message, to an *Error. The Hub answers 401 RepoNotFound for a
// repo that does not exist (or is private) to anonymous callers.
func (c *Client) statusError(resp *http.Response, repo, file string) *Error {
	code := resp.Header.Get("X-Error-Code")
	hubMsg := resp.Header.Get("X-Error-Message")
	if hubMsg == "" {
		var body struct {
			Error string `json:"error"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if json.Unmarshal(b, &body) == nil {
			hubMsg = body.Error
		}
	}
	e := &Error{Repo: repo, File: file, Status: resp.StatusCode}
	switch {
	case code == "GatedRepo":
		e.Kind = Gated
		if c.Token == "" {
			e.Message = fmt.Sprintf("%s is gated: accept its conditions on %s/%s while signed in, then set a Hub access token in modelbar's settings", repo, c.endpoint(), repo)
		} else {
			e.Message = fmt.Sprintf("%s is gated and this token's account has no access yet: accept its conditions on %s/%s (access may need the authors' approval), then try again", repo, c.endpoint(), repo)
		}
	case code == "RepoNotFound":
		e.Kind = NotFound
		if c.Token == "" {
			e.Message = fmt.Sprintf("no repo %s on %s: check the name; if it is private, set a Hub access token in modelbar's settings", repo, hostOf(c.endpoint()))
		} else {
			e.Message = fmt.Sprintf("no repo %s on %s, or this token cannot see it: check the name", repo, hostOf(c.endpoint()))
		}
	case code == "RevisionNotFound":
		e.Kind = NotFound
		e.Message = fmt.Sprintf("%s has no such revision: give a branch, tag or commit that exists (usually main)", repo)
	case code == "EntryNotFound":
		e.Kind = NotFound
		e.Message = fmt.Sprintf("%s has no file %s at this revision", repo, file)
	case resp.StatusCode == http.StatusUnauthorized:
		e.Kind = Unauthorized
		if c.Token == "" {
			e.Message = fmt.Sprintf("%s needs a Hub access token: create one at %s/settings/tokens (read access) and set it in modelbar's settings", repo, c.endpoint())
		} else {
			e.Message = fmt.Sprintf("the Hub refused the access token for %s: it may be expired or revoked — create a new one at %s/settings/tokens and set it in modelbar's settings", repo, c.endpoint())
		}
	case resp.StatusCode == http.StatusForbidden:
		e.Kind = Unauthorized
		e.Message = fmt.Sprintf("the access token may not read %s: give it read access at %s/settings/tokens", repo, c.endpoint())
	case resp.StatusCode == http.StatusNotFound:
		e.Kind = NotFound
		if file != "" {
			e.Message = fmt.Sprintf("%s has no file %s at this revision", repo, file)
		} else {
			e.Message = fmt.Sprintf("no repo %s on %s: check the name", repo, hostOf(c.endpoint()))
		}
	case resp.StatusCode == http.StatusTooManyRequests:
		e.Kind = Server
		e.Message = "the Hub is rate-limiting requests: wait a minute and try again (a token raises the limit)"
	default:
		e.Kind = Server
		e.Message = fmt.Sprintf("the Hub answered %s; try again later", resp.Status)
	}
	if hubMsg != "" && e.Kind != Unauthorized {
		e.Err = errors.New(truncate(hubMsg, 300))
	}
	return e
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// TokenFromEnv is the token huggingface_hub would use when none is set in
// modelbar: $HF_TOKEN, else the file `huggingface-cli login` writes
// ($HF_TOKEN_PATH, else $HF_HOME/token, else
// $XDG_CACHE_HOME/huggingface/token, else ~/.cache/huggingface/token).
// "" when there is none. The token is a secret: never log it.
func TokenFromEnv(getenv func(string) string) string {
	if t := strings.TrimSpace(getenv("HF_TOKEN")); t != "" {
		return t
	}
	p := getenv("HF_TOKEN_PATH")
	if p == "" {
		home := getenv("HF_HOME")
		if home == "" {
			cache := getenv("XDG_CACHE_HOME")
			if cache == "" {
				h := getenv("HOME")
				if h == "" {
					h, _ = os.UserHomeDir()
				}
				cache = filepath.Join(h, ".cache")
			}
			home = filepath.Join(cache, "huggingface")
		}
		p = filepath.Join(home, "token")
	}
	b, err := os.ReadFile(p)
	if err != nil || len(b) > 4096 {
		return ""
	}
	return strings.TrimSpace(string(b))
}
