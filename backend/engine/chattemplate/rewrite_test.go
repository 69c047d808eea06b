package chattemplate

import (
	"strings"
	"testing"
)

func TestConditionalExpressions_Behavior(t *testing.T) {
	extra := map[string]any{"yes": true, "no": false, "xs": []any{"a", "b", "c"}}
	runHelperCases(t, []helperCase{
		{"top of an output", `{{ 'a' if yes else 'b' }}{{ 'a' if no else 'b' }}`, extra, `ab`},
		{"in parentheses", `{{ '<' + ('a' if yes else 'b') + '>' }}`, extra, `<a>`},
		{"Gemma 3 style", "{% for m in messages %}{{ 'x' + (m.content if loop.first else '') }}{% endfor %}", nil, `xSxxx`},
		{"call argument", `{{ 'abc'.startswith('a' if no else 'b') }}`, extra, `False`},
		{"keyword argument", `{% set ns = namespace(v='p' if yes else 'q', w=1) %}{{ ns.v }}{{ ns.w }}`, extra, `p1`},
		{"filter argument", `{{ u|default('d' if yes else 'e') }}`, extra, `d`},
		{"list items", `{{ ['a' if no else 'b', 'c' if yes else 'd']|join }}`, extra, `bc`},
		{"dict value", `{{ {'k': 1 if yes else 2}|tojson }}`, extra, `{"k": 1}`},
		{"set", `{% set v = 'p' if no else 'q' %}{{ v }}`, extra, `q`},
		{"chain", `{{ 'a' if no else 'b' if no else 'c' }}|{{ ('a' if no else 'b' if yes else 'c') }}`, extra, `c|b`},
		{"nested in condition", `{{ 'a' if ('x' if yes else '') else 'b' }}`, extra, `a`},
		{"without else is undefined", `[{{ ('a' if no) }}]{{ ('a' if no) is defined }}`, extra, `[]False`},
		{"branch not taken may fail", `{{ (u.x.y if u is defined else 'safe') }}`, nil, `safe`},
		{"raise in branch not taken", `{{ (raise_exception('no') if no else 'fine') }}`, extra, `fine`},
		{"operators bind tighter", `{{ ('a' + 'b' if yes else 'c') }}`, extra, `ab`},
		{"in for iterable", `{% for x in (xs if yes else []) %}{{ x }}{% endfor %}`, extra, `abc`},
		{"for loop filter is not a conditional", `{% for x in xs if x != 'b' %}{{ x }}{% endfor %}`, extra, `ac`},
		{"if statement condition", `{% if ('a' if yes else '') %}t{% endif %}`, extra, `t`},
		{"strings are left alone", `{{ "x if y else z" }}{{ '(a if b)' }}`, nil, `x if y else z(a if b)`},
		{"across lines", "{{ ('a'\n if no\n else 'b') }}", extra, `b`},
	})
}

func TestRewrite_KeepsLines(t *testing.T) {
	src := "line1\n{{ ('a'\n if x\n else 'b') }}\n{% set y = None %}{{ y is none }}\n{{ z is None }}"
	got := rewrite(src, newConfig())
	if strings.Count(got, "\n") != strings.Count(src, "\n") {
		t.Errorf("rewrite changed the line count:\n%s", got)
	}
	if !strings.Contains(got, "set y = none") {
		t.Errorf("None literal not rewritten:\n%s", got)
	}
	if !strings.Contains(got, "z is None") {
		t.Errorf("test name None rewritten:\n%s", got)
	}
	if strings.Contains(rewrite("{{ 'a' }}", newConfig()), ifElseName) {
		t.Error("rewrote a template without conditionals")
	}
}

func TestRewrite_UnlexableSourceUnchanged(t *testing.T) {
	src := "{{ 'unterminated }}"
	if got := rewrite(src, newConfig()); got != src {
		t.Errorf("got %q", got)
	}
}
