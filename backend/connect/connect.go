// Package connect renders, for each client modelbar is known to work with,
// the smallest configuration that points it at modelbar: environment
// variables, a configuration file (its path and contents), the settings to
// enter in an application's screen, and the command that starts it.
//
// It is the one source of these snippets: GET /api/connect serves them to
// the UI, README.md's "Connect your tools" section is generated from them
// (a test keeps the two equal), and the end-to-end client suite
// (e2e/clients) configures the real clients from them, so the snippets a
// user copies are the ones that were run.
//
// The package is pure: no I/O, no HTTP; Clients is a function of its
// Options.
package connect

import "strings"

// Options says where modelbar is and what the snippets should ask it for.
// The zero value is not useful; start from Defaults.
type Options struct {
	// BaseURL is modelbar's address as clients reach it, without /v1:
	// http://127.0.0.1:11500.
	BaseURL string
	// APIKey is the key clients send. "" renders AnyKey, which is right
	// while modelbar does not require inference keys (any string works,
	// and several clients refuse to start without one).
	APIKey string
	// Model is the model name the clients ask for: any name a route
	// matches. For Claude Code, "" leaves its own model names (which a
	// claude-* route then takes) and renders no model variables.
	Model string
	// SmallModel is the model for side tasks (titles, summaries, Claude
	// Code's fast tier); "" means Model.
	SmallModel string
}

// AnyKey is the key the snippets show when modelbar requires none.
const AnyKey = "modelbar"

// KeyPlaceholder stands for a real inference key in snippets rendered
// while modelbar requires one (the admin API cannot show keys: it keeps
// only their hashes).
const KeyPlaceholder = "mb-your-key"

// ModelPlaceholder stands for a model name in snippets rendered for a
// server that offers none yet (no route, no local model): the UI says to
// replace it, or to add a provider first.
const ModelPlaceholder = "your-model"

// DefaultBaseURL is where `modelbar serve` listens by default.
const DefaultBaseURL = "http://127.0.0.1:11500"

// Defaults are the options README.md's snippets are rendered with: the
// default address, no inference key, and the model names of README's
// routing example (gpt-* to OpenAI; "fast", an alias of gpt-4o-mini).
func Defaults() Options {
	return Options{BaseURL: DefaultBaseURL, Model: "gpt-4o", SmallModel: "fast"}
}

// API names the wire protocol a client speaks to modelbar.
type API string

// The protocols. Responses is OpenAI's Responses API (/v1/responses),
// which modelbar does not serve yet.
const (
	OpenAI    API = "openai"
	Anthropic API = "anthropic"
	Responses API = "responses"
)

// Env is one environment variable.
type Env struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// Optional variables are shown after a comment that says what they
	// change; the client works without them.
	Optional bool `json:"optional,omitempty"`
}

// File is a configuration file: where it goes and what it holds.
type File struct {
	// Path is where the client reads it; "~/" is the user's home
	// directory, a path without it is relative to the project.
	Path string `json:"path"`
	// Format is the file's language: json, yaml, toml, js or python.
	Format  string `json:"format"`
	Content string `json:"content"`
}

// Block is a snippet as shown to a person: README.md and the UI show the
// same blocks. Lang is the code block's language (sh, json, yaml, toml,
// js, or "" for a list of settings); Title, when set, says where the text
// goes (a file path, a settings screen).
type Block struct {
	Title string `json:"title,omitempty"`
	Lang  string `json:"lang"`
	Text  string `json:"text"`
}

// Client is one client's configuration.
type Client struct {
	ID   string `json:"id"`   // stable, lower case: claude-code, opencode, ...
	Name string `json:"name"` // as its makers write it
	// APIs are the protocols this configuration makes it speak (a
	// configuration may offer both: opencode, Continue, pi, the AI SDK).
	APIs []API `json:"apis"`
	// Env, Files and Steps are the configuration; Run starts the client.
	Env []Env `json:"env,omitempty"`
	// OptionalEnv says what the optional variables change.
	OptionalEnv string   `json:"optional_env,omitempty"`
	Files       []File   `json:"files,omitempty"`
	Steps       []string `json:"steps,omitempty"`
	Run         string   `json:"run,omitempty"`
	// Note says what to know before using it, in one or two sentences.
	Note string `json:"note,omitempty"`
	// Tested says how a suite runs this configuration (TestedBy names
	// it; "" is the client suite, e2e/clients); Untested, when none
	// does, why.
	Tested   string `json:"tested,omitempty"`
	TestedBy string `json:"tested_by,omitempty"`
	Untested string `json:"untested,omitempty"`
	// Blocks is the configuration as shown to a person.
	Blocks []Block `json:"blocks"`
}

// Clients renders every client's configuration for o, in a fixed order:
// the command-line agents the suite runs, then the editors and SDKs.
func Clients(o Options) []Client {
	o = o.normalized()
	cs := []Client{
		claudeCode(o), codex(o), opencode(o), continueDev(o), qwenCode(o), pi(o),
		cline(o), zed(o), xcode(o), copilot(o), cursor(o),
		aiSDK(o), openaiSDK(o), anthropicSDK(o), curl(o),
	}
	for i := range cs {
		cs[i].Blocks = blocks(cs[i])
	}
	return cs
}

// Find returns the client with the given ID from cs.
func Find(cs []Client, id string) (Client, bool) {
	for _, c := range cs {
		if c.ID == id {
			return c, true
		}
	}
	return Client{}, false
}

func (o Options) normalized() Options {
	o.BaseURL = strings.TrimRight(strings.TrimSpace(o.BaseURL), "/")
	o.BaseURL = strings.TrimSuffix(o.BaseURL, "/v1")
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	if o.APIKey == "" {
		o.APIKey = AnyKey
	}
	if o.SmallModel == "" {
		o.SmallModel = o.Model
	}
	return o
}

// v1 is the base URL of the OpenAI-style clients and of the AI SDK's
// Anthropic provider: modelbar's address with /v1.
func (o Options) v1() string { return o.BaseURL + "/v1" }

// model is o.Model, or a stand-in for clients that need a name when the
// caller left it empty.
func (o Options) model() string {
	if o.Model == "" {
		return "gpt-4o"
	}
	return o.Model
}

func (o Options) smallModel() string {
	if o.SmallModel == "" {
		return o.model()
	}
	return o.SmallModel
}
