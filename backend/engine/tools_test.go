package engine

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
)

const chatML = `{% for m in messages %}<|im_start|>{{ m.role }}
{{ m.content }}<|im_end|>
{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% endif %}`

// A local model takes tools when its chat template renders them and the
// engine reads the calls its family writes.
func TestModels_ToolUseFromTheChatTemplate(t *testing.T) {
	templates := map[string]map[string]string{ // model -> files added to it
		"plain": {},
		"hermes": {"chat_template.jinja": `{% if tools %}<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}</tools>` +
			`Answer calls as <tool_call>{"name": ..., "arguments": ...}</tool_call>{% endif %}` + chatML},
		"tools-no-syntax": {"chat_template.jinja": `{% if tools %}{{ tools | tojson }}{% endif %}` + chatML},
		"syntax-no-tools": {"chat_template.jinja": `<tool_call>` + chatML},
		"tool-use-variant": {"chat_template.jinja": chatML,
			"additional_chat_templates/tool_use.jinja": `[TOOL_CALLS]` + chatML},
	}
	dir := t.TempDir()
	for name, files := range templates {
		model := filepath.Join(dir, "models", "test", name)
		if err := testmodel.Write(model, testmodel.Spec{Architecture: "qwen2", Seed: 1}); err != nil {
			t.Fatal(err)
		}
		for file, content := range files {
			path := filepath.Join(model, filepath.FromSlash(file))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	b := cpu.New()
	t.Cleanup(func() { b.Close() })
	e := New(Options{Roots: []modelfile.Root{modelfile.ModelsRoot(dir)}, Budget: 1 << 30, Backend: b})
	t.Cleanup(e.Close)

	want := map[string]bool{"test/plain": false, "test/hermes": true, "test/tools-no-syntax": false,
		"test/syntax-no-tools": false, "test/tool-use-variant": true}
	for range 2 { // the second time from the cache
		got := map[string]bool{}
		for _, m := range e.Models() {
			got[m.ID] = m.ToolUse
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("tool use (-want +got):\n%s", diff)
		}
	}
}
