package chattemplate

import "testing"

// Negative subscripts reach every element, the first included, as in
// Jinja; a list literal that starts with a negative number stays a list.
func TestNegativeIndex_Behavior(t *testing.T) {
	extra := map[string]any{"one": []any{"a"}, "xs": []any{"a", "b", "c"}, "empty": []any{}}
	runHelperCases(t, []helperCase{
		{"last of one", `{{ one[-1] }}`, extra, `a`},
		{"from the end", `{{ xs[-1] }}{{ xs[-3] }}`, extra, `ca`},
		{"past the start is undefined", `{{ xs[-4] is defined }}{{ empty[-1] is defined }}`, extra, `FalseFalse`},
		{"string", `{{ 'z'[-1] }}{{ 'xyz'[-2] }}`, nil, `zy`},
		{"chained", `{{ messages[-1]['content'][-1] }}{{ (messages|list)[-1].role }}`, nil, `2user`},
		{"list literal", `{{ [-1]|first }}{{ [-1, 2][-2] }}`, nil, `-1-1`},
		{"dict equality, Mistral style", `{% set u = messages[1:2] %}{% for m in u %}{{ m == u[-1] }}{% endfor %}`, nil, `True`},
	})
}
