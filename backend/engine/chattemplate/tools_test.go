package chattemplate

import "testing"

// A template supports tools when it reads the tools variable (by that name,
// not as part of another) or has a tool_use variant.
func TestSupportsTools(t *testing.T) {
	tests := []struct {
		name   string
		source string
		want   bool
	}{
		{"reads tools", `{% if tools %}{{ tools | tojson }}{% endif %}{{ messages[0].content }}`, true},
		{"tests tools", `{%- if tools is not none and tools | length > 0 %}x{% endif %}`, true},
		{"no tools", `{% for m in messages %}{{ m.content }}{% endfor %}`, false},
		{"another variable", `{% if custom_tools %}{{ custom_tools }}{% endif %}`, false},
	}
	for _, tt := range tests {
		tpl, err := Parse(tt.source, "", "")
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := tpl.SupportsTools(); got != tt.want {
			t.Errorf("%s: SupportsTools = %v, want %v", tt.name, got, tt.want)
		}
	}
	dir := modelDir(t, map[string]string{
		"chat_template.jinja":                      `{{ messages[0].content }}`,
		"additional_chat_templates/tool_use.jinja": `{{ messages[0].content }}`,
	})
	tpl, err := Load(dir)
	if err != nil || !tpl.SupportsTools() {
		t.Errorf("a tool_use variant: %v, %v; want it to support tools", tpl, err)
	}
}
