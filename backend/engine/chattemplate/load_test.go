package chattemplate

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// modelDir writes files into a temporary model directory.
func modelDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func renderDir(t *testing.T, dir string, in Input) string {
	t.Helper()
	tpl, err := Load(dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	out, err := tpl.Render(in)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return out
}

const tokensTemplate = `{{ bos_token }}|{{ eos_token }}|{{ pad_token }}|{{ unk_token is defined }}`

func TestLoad_Sources(t *testing.T) {
	tools := Input{Tools: []Tool{{Function: Function{Name: "f"}}}}
	for _, c := range []struct {
		name  string
		files map[string]string
		in    Input
		want  string
	}{
		{"tokenizer_config string with AddedToken objects",
			map[string]string{"tokenizer_config.json": `{"chat_template": "` + tokensTemplate + `",
				"bos_token": {"__type": "AddedToken", "content": "<B>", "lstrip": false}, "eos_token": "<E>", "pad_token": null}`},
			Input{}, "<B>|<E>||False"},
		{"chat_template.jinja wins over tokenizer_config",
			map[string]string{"chat_template.jinja": "jinja {{ eos_token }}\n", "tokenizer_config.json": `{"chat_template": "config", "eos_token": "<E>"}`},
			Input{}, "jinja <E>"},
		{"chat_template.jinja without tokenizer_config",
			map[string]string{"chat_template.jinja": "only"},
			Input{}, "only"},
		{"named list: default without tools",
			map[string]string{"tokenizer_config.json": `{"chat_template": [{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T"}]}`},
			Input{}, "D"},
		{"named list: tool_use with tools",
			map[string]string{"tokenizer_config.json": `{"chat_template": [{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T"}]}`},
			tools, "T"},
		{"named list: default with tools when no tool_use",
			map[string]string{"tokenizer_config.json": `{"chat_template": [{"name": "default", "template": "D"}, {"name": "rag", "template": "R"}]}`},
			tools, "D"},
		{"additional_chat_templates: tool_use with tools",
			map[string]string{"chat_template.jinja": "D", "additional_chat_templates/tool_use.jinja": "T {{ tools|length }}"},
			tools, "T 1"},
		{"additional_chat_templates: default without tools",
			map[string]string{"chat_template.jinja": "D", "additional_chat_templates/tool_use.jinja": "T"},
			Input{}, "D"},
		{"processor chat_template.json",
			map[string]string{"tokenizer_config.json": `{"eos_token": "<E>"}`, "chat_template.json": `{"chat_template": "proc {{ eos_token }}"}`},
			Input{}, "proc <E>"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := renderDir(t, modelDir(t, c.files), c.in); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestLoad_Errors(t *testing.T) {
	for _, c := range []struct {
		name  string
		files map[string]string
		check func(error) bool
	}{
		{"no template", map[string]string{"tokenizer_config.json": `{"eos_token": "</s>"}`},
			func(err error) bool { return errors.Is(err, ErrNoTemplate) }},
		{"empty directory", map[string]string{},
			func(err error) bool { return errors.Is(err, ErrNoTemplate) }},
		{"empty list", map[string]string{"tokenizer_config.json": `{"chat_template": []}`},
			func(err error) bool { return errors.Is(err, ErrNoTemplate) }},
		{"corrupt config", map[string]string{"tokenizer_config.json": `{"chat_template": `},
			func(err error) bool { return err != nil && strings.Contains(err.Error(), "tokenizer_config.json") }},
		{"chat_template of another type", map[string]string{"tokenizer_config.json": `{"chat_template": 3}`},
			func(err error) bool { return err != nil && strings.Contains(err.Error(), "neither a string") }},
		{"bad special token", map[string]string{"tokenizer_config.json": `{"chat_template": "x", "bos_token": 5}`},
			func(err error) bool { return err != nil && strings.Contains(err.Error(), "bos_token") }},
		{"template that does not parse names its file and line", map[string]string{"chat_template.jinja": "a\n{% if %}"},
			func(err error) bool {
				var te *Error
				return errors.As(err, &te) && te.Line == 2 && strings.HasSuffix(te.Template, "chat_template.jinja")
			}},
		{"named variant that does not parse", map[string]string{"tokenizer_config.json": `{"chat_template": [{"name": "default", "template": "ok"}, {"name": "tool_use", "template": "{{ ("}]}`},
			func(err error) bool {
				var te *Error
				return errors.As(err, &te) && strings.HasSuffix(te.Template, "tokenizer_config.json#tool_use")
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(modelDir(t, c.files))
			if !c.check(err) {
				t.Errorf("unexpected error: %v", err)
			}
		})
	}
}

func TestLoad_NamedListWithoutDefault(t *testing.T) {
	tpl, err := Load(modelDir(t, map[string]string{"tokenizer_config.json": `{"chat_template": [{"name": "tool_use", "template": "T"}]}`}))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tpl.Render(Input{Tools: []Tool{{Function: Function{Name: "f"}}}}); err != nil || got != "T" {
		t.Errorf("with tools: %q, %v", got, err)
	}
	var te *Error
	if _, err := tpl.Render(Input{}); !errors.As(err, &te) || !strings.Contains(te.Msg, "default") {
		t.Errorf("without tools: %v", err)
	}
}

func TestLoad_RenderErrorNamesVariant(t *testing.T) {
	dir := modelDir(t, map[string]string{"tokenizer_config.json": `{"chat_template": [{"name": "default", "template": "ok"}, {"name": "tool_use", "template": "x\n{{ raise_exception('no tools') }}"}]}`})
	tpl, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tpl.Render(Input{Tools: []Tool{{Function: Function{Name: "f"}}}})
	want := filepath.Join(dir, "tokenizer_config.json") + "#tool_use line 2: raise_exception: no tools"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("got %v, want …%s", err, want)
	}
}
