// Package chattemplate renders a model's own Jinja chat template, the
// chat_template of its tokenizer_config.json or chat_template.jinja, as
// transformers' apply_chat_template does: the same variables (messages,
// tools, add_generation_prompt, the special tokens, extra keyword
// arguments), the same helpers (raise_exception, strftime_now, tojson,
// namespace, loop controls, Python string and dict methods) and the same
// Jinja settings (trim_blocks, lstrip_blocks).
//
// Templates run on gonja (github.com/nikolalohinski/gonja/v2) with the
// pieces real templates need and gonja lacks or gets wrong added on top:
// conditional expressions anywhere in an expression (rewrite.go), None
// distinct from undefined (values.go), ordered dicts, transformers' tojson,
// Python string methods, and tests and filters that follow Jinja.
//
// A template renders nothing but text: it cannot read files (include,
// import and extends fail) and has no access to the host. A panic inside
// gonja becomes an error. gonja has no recursion limit, though: a macro
// that calls itself forever overflows the goroutine's stack, which Go
// cannot recover from.
//
// RenderSegments renders as Render does and also says which text the
// template wrote itself and which came from the Input, so that only the
// former can become special tokens (see trust.go).
//
// Where Python's Jinja and @huggingface/jinja (the reference the tests
// compare with, see testdata/refgen) differ, this package follows Python,
// except that None prints as "" (as in @huggingface/jinja) and that
// `x in none` is false where Python fails.
package chattemplate

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
)

// Template is a parsed chat template, possibly with named variants
// ("default", "tool_use"). It is immutable and safe for concurrent use.
type Template struct {
	name     string
	variants map[string]*variant
	// specials are bos_token, eos_token and the other special tokens
	// passed to every render; absent tokens stay undefined.
	specials map[string]string
	// now is the clock of strftime_now; tests replace it.
	now func() time.Time
	// trusted is the memory of the specials: the engine's text, which the
	// template may write as special tokens (see trust.go).
	trusted regionSet
}

// variant is one compiled template source.
type variant struct {
	name   string
	source string // as written, for callers that read its markers
	tpl    *exec.Template
	// tagLines maps the position gonja reports for a {% %} tag (that of the
	// token after it) to the line the tag starts on.
	tagLines map[position]int
	// literals is the memory of the text the template writes by itself
	// (see trust.go).
	literals regionSet
}

// Parse parses a chat template source. bos and eos are the bos_token and
// eos_token the template sees; an empty one is left undefined, as
// transformers leaves a token the tokenizer does not have.
func Parse(source, bos, eos string) (*Template, error) {
	specials := map[string]string{"bos_token": bos, "eos_token": eos}
	return parseVariants("chat_template", map[string]string{"default": source}, specials)
}

// Name is the template's name as errors give it.
func (t *Template) Name() string { return t.name }

// Source is the text of every variant, joined: what a caller searches for
// the markers a model family writes (tool-call tags, <think>).
func (t *Template) Source() string {
	var b strings.Builder
	for _, v := range t.variants {
		b.WriteString(v.source)
		b.WriteByte('\n')
	}
	return b.String()
}

// readsTools matches a template that reads the tools variable.
var readsTools = regexp.MustCompile(`\btools\b`)

// SupportsTools reports whether the template renders tools: it has a
// "tool_use" variant, or a variant reads the tools variable. A template
// that does neither drops the tools a request offers.
func (t *Template) SupportsTools() bool {
	if _, ok := t.variants["tool_use"]; ok {
		return true
	}
	for _, v := range t.variants {
		if readsTools.MatchString(v.source) {
			return true
		}
	}
	return false
}

func parseVariants(name string, sources map[string]string, specials map[string]string) (*Template, error) {
	t := &Template{name: name, variants: map[string]*variant{}, specials: map[string]string{}, now: time.Now}
	for k, v := range specials {
		if v != "" {
			v = strings.Clone(v) // memory of its own, registered as trusted
			t.specials[k] = v
			t.trusted.add(v, nil)
		}
	}
	t.trusted.seal()
	for key, src := range sources {
		vname := name
		if len(sources) > 1 || key != "default" {
			vname += "#" + key
		}
		v, err := compile(vname, src)
		if err != nil {
			return nil, err
		}
		v.source = src
		t.variants[key] = v
	}
	return t, nil
}

// compile parses one template source with this package's environment.
func compile(name, src string) (_ *variant, err error) {
	defer recoverPanic(name, &err)
	src = strings.ReplaceAll(strings.ReplaceAll(src, "\r\n", "\n"), "\r", "\n")
	cfg := newConfig()
	src = rewrite(src, cfg)
	tpl, err := exec.NewTemplate(name, cfg, newSourceLoader(name, src), environment)
	if err != nil {
		return nil, parseError(name, src, err)
	}
	rewriteConcat(tpl.Root())
	rewriteMacros(tpl.Root())
	return &variant{name: name, tpl: tpl, tagLines: tagLines(src, cfg), literals: literalRegions(tpl.Root())}, nil
}

// Render renders the conversation in in. The "tool_use" variant is used
// when in has tools and the model has one, else the "default" one. Errors
// are *Error, naming the template and the line; a template that called
// raise_exception gives one that matches ErrRaised.
func (t *Template) Render(in Input) (string, error) {
	v, err := t.pick(len(in.Tools) > 0)
	if err != nil {
		return "", err
	}
	vars, raised, err := t.variables(in, nil)
	if err != nil {
		return "", err
	}
	return v.execute(vars, raised)
}

func (v *variant) execute(vars map[string]any, raised *raise) (out string, err error) {
	defer recoverPanic(v.name, &err)
	out, err = v.tpl.ExecuteToString(exec.NewContext(vars))
	if err != nil {
		return "", renderError(v, err, raised)
	}
	return out, nil
}

// pick chooses the variant as transformers' get_chat_template does.
func (t *Template) pick(tools bool) (*variant, error) {
	if v, ok := t.variants["tool_use"]; ok && tools {
		return v, nil
	}
	if v, ok := t.variants["default"]; ok {
		return v, nil
	}
	return nil, &Error{Template: t.name, Msg: "several named templates and none is \"default\""}
}

// variables builds the render's variables. raised receives the message of
// raise_exception when the template calls it. engine, when not nil,
// receives the provenance of the strings that hold the engine's text
// (Message.Tail).
func (t *Template) variables(in Input, engine *regionSet) (map[string]any, *raise, error) {
	vars := map[string]any{}
	for k, v := range in.Extra {
		if strings.HasPrefix(k, "__mb_") { // this package's own names (rewrite.go, trust.go)
			continue
		}
		gv, err := goValue(v)
		if err != nil {
			return nil, nil, &Error{Template: t.name, Msg: fmt.Sprintf("extra variable %q: %v", k, err)}
		}
		vars[k] = gv
	}
	tools, err := toolsValue(in.Tools)
	if err != nil {
		return nil, nil, &Error{Template: t.name, Msg: err.Error()}
	}
	for k, v := range t.specials {
		vars[k] = v
	}
	vars["messages"] = messagesValue(in.Messages, engine)
	vars["tools"] = tools
	vars["add_generation_prompt"] = in.AddGenerationPrompt
	raised := &raise{}
	vars["raise_exception"] = func(args *exec.VarArgs) *exec.Value {
		raised.called, raised.msg = true, args.First().String()
		return exec.AsValue(errors.New(raised.msg))
	}
	vars["strftime_now"] = func(args *exec.VarArgs) *exec.Value {
		return exec.AsValue(strftime(t.now(), args.First().String()))
	}
	return vars, raised, nil
}

// raise records a render's raise_exception call.
type raise struct {
	called bool
	msg    string
}

// sourceLoader serves the template source once, to the parser of the
// template itself: include, import and extends fail, whatever they name
// (the template's own name included, which would recurse forever).
type sourceLoader struct {
	name, src string
	read      *atomic.Bool
}

func newSourceLoader(name, src string) sourceLoader {
	return sourceLoader{name: name, src: src, read: new(atomic.Bool)}
}

func (l sourceLoader) Read(path string) (io.Reader, error) {
	if path != l.name || l.read.Swap(true) {
		return nil, fmt.Errorf("templates cannot load other templates (%q)", path)
	}
	return strings.NewReader(l.src), nil
}

func (l sourceLoader) Resolve(path string) (string, error) { return path, nil }

func (l sourceLoader) Inherit(string) (loaders.Loader, error) { return l, nil }

// recoverPanic turns a panic of the template engine (gonja panics on a few
// inputs, such as `1 % 0`) into an *Error for the template name.
func recoverPanic(name string, err *error) {
	if r := recover(); r != nil {
		*err = &Error{Template: name, Msg: fmt.Sprintf("template engine failed: %v", r)}
	}
}
