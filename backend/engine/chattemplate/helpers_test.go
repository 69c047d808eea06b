package chattemplate

import (
	"encoding/json"
	"testing"
)

// helperCase renders src with conversation() and extra and expects want.
type helperCase struct {
	name  string
	src   string
	extra map[string]any
	want  string
}

// conversation is a small conversation shared by the helper tests.
func conversation() []Message {
	return []Message{
		{Role: "system", Content: "S"},
		{Role: "user", Content: "U1"},
		{Role: "assistant", Content: "A1"},
		{Role: "user", Content: "U2"},
	}
}

func runHelperCases(t *testing.T, cases []helperCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tpl, err := Parse(c.src, "<s>", "</s>")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, err := tpl.Render(Input{Messages: conversation(), Extra: c.extra})
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func TestFilters_Behavior(t *testing.T) {
	d := map[string]any{"d": raw(`{"b": 1, "a": [1, 2.5, "x"], "c": {}, "e": [], "n": null, "t": true}`)}
	runHelperCases(t, []helperCase{
		{"tojson keeps key order", `{{ d|tojson }}`, d,
			`{"b": 1, "a": [1, 2.5, "x"], "c": {}, "e": [], "n": null, "t": true}`},
		{"tojson indent", `{{ d.a|tojson(indent=2) }}`, d, "[\n  1,\n  2.5,\n  \"x\"\n]"},
		{"tojson indent nested empty", `{{ {'k': d.c, 'l': [d.e]}|tojson(indent=1) }}`, d, "{\n \"k\": {},\n \"l\": [\n  []\n ]\n}"},
		{"tojson no HTML escaping, non-ASCII kept", `{{ "<a href='x'>&é😀</a>"|tojson }}`, nil, `"<a href='x'>&é😀</a>"`},
		{"tojson escapes", `{{ s|tojson }}`, map[string]any{"s": "q\"b\\\n\t\r\b\f\x01\u2028"}, `"q\"b\\\n\t\r\b\f\u0001` + "\u2028" + `"`},
		{"tojson ensure_ascii", `{{ 'é😀'|tojson(ensure_ascii=true) }}`, nil, `"\u00e9\ud83d\ude00"`},
		{"tojson sort_keys and separators", `{{ d|tojson(sort_keys=true, separators=(',', ':')) }}`, d,
			`{"a":[1,2.5,"x"],"b":1,"c":{},"e":[],"n":null,"t":true}`},
		{"tojson floats as Python", `{{ f|tojson }}`, map[string]any{"f": raw(`[1.0, 1e-05, 1e16, 0.1, -2.5e-7, 123456.789]`)},
			`[1.0, 1e-05, 1e+16, 0.1, -2.5e-07, 123456.789]`},
		{"tojson of a message", `{{ messages[0]|tojson }}`, nil, `{"role": "system", "content": "S"}`},
		{"trim", `[{{ '  x \n'|trim }}]`, nil, `[x]`},
		{"trim chars", `{{ 'xxhixx'|trim('x') }}`, nil, `hi`},
		{"length", `{{ messages|length }} {{ 'héllo'|length }} {{ d|length }} {{ messages[0]|length }}`, d, `4 5 6 2`},
		{"count", `{{ messages|count }}`, nil, `4`},
		{"selectattr", `{{ messages|selectattr('role', 'equalto', 'user')|map(attribute='content')|join(',') }}`, nil, `U1,U2`},
		{"selectattr eq in for", `{% for m in messages|selectattr('role', 'eq', 'user') %}{{ m.content }}{% endfor %}`, nil, `U1U2`},
		{"rejectattr", `{{ messages|rejectattr('role', 'equalto', 'user')|list|length }}`, nil, `2`},
		{"map attribute", `{{ messages|map(attribute='role')|join(' ') }}`, nil, `system user assistant user`},
		{"map filter", `{{ ['a', 'b']|map('upper')|join }}`, nil, `AB`},
		{"reject", `{{ ['a', 'code', 'b']|reject('equalto', 'code')|join(', ') }}`, nil, `a, b`},
		{"first last", `{{ (messages|first).content }}{{ (messages|last).content }}`, nil, `SU2`},
		{"default undefined", `{{ nope|default('x') }}`, nil, `x`},
		{"default keeps none", `[{{ n|default('x') }}]`, map[string]any{"n": nil}, `[]`},
		{"default boolean", `{{ ''|default('x', true) }}{{ n|default('y', boolean=true) }}`, map[string]any{"n": nil}, `xy`},
		{"items filter ordered", `{% for k, v in d|items %}{{ k }}={{ v|tojson }};{% endfor %}`, map[string]any{"d": raw(`{"z": 1, "a": "s"}`)}, `z=1;a="s";`},
		{"dictsort", `{% for k, v in d|dictsort %}{{ k }}{% endfor %} {% for k, v in d|dictsort(reverse=true) %}{{ k }}{% endfor %} {{ (d|dictsort(by='value')|first)[0] }}`,
			map[string]any{"d": raw(`{"b": 2, "C": 3, "a": 1}`)}, `abC Cba a`},
		{"string lower upper", `{{ 5|string }}{{ 'AbC'|lower }}{{ 'abc'|upper }}`, nil, `5abcABC`},
		{"replace filter", `{{ 'a-b-c'|replace('-', '+') }}`, nil, `a+b+c`},
		{"join list", `{{ ['x', 'y']|join('/') }}`, nil, `x/y`},
	})
}

func TestTests_Behavior(t *testing.T) {
	extra := map[string]any{"n": nil, "f": false, "z": 0, "d": raw(`{"k": 1}`)}
	runHelperCases(t, []helperCase{
		{"defined and none tell None from undefined", `{{ n is defined }} {{ n is none }} {{ u is defined }} {{ u is none }} {{ u is undefined }}`, extra,
			`True True False False True`},
		{"None literal", `{% set x = None %}{{ x is none }} {{ x is defined }} {{ none is none }}`, nil, `True True True`},
		{"not none", `{{ n is not none }} {{ 'a' is not none }}`, extra, `False True`},
		{"true false only for booleans", `{{ f is false }} {{ z is false }} {{ u is false }} {{ n is false }} {{ true is true }} {{ 1 is true }}`, extra,
			`True False False False True False`},
		{"string mapping iterable sequence", `{{ messages[0].content is string }} {{ d is mapping }} {{ messages is iterable }} {{ 'ab' is sequence }} {{ d is sequence }} {{ 1 is iterable }}`, extra,
			`True True True True True False`},
		{"number boolean", `{{ 1 is number }} {{ 1.5 is number }} {{ 'x' is number }} {{ f is boolean }}`, extra, `True True False True`},
		{"in", `{{ 'a' in 'cat' }} {{ 'x' in ['x'] }} {{ 'k' in d }} {{ 'z' not in d }} {{ 'role' in messages[0] }} {{ 'tool_calls' in messages[0] }}`, extra,
			`True True True True True False`},
		{"divisibleby even odd", `{{ 4 is divisibleby 2 }} {{ 3 is even }} {{ 3 is odd }}`, nil, `True False True`},
		{"equalto", `{{ 'a' is equalto 'a' }} {{ 1 is eq 2 }}`, nil, `True False`},
		{"missing key is undefined", `{{ messages[0].tool_calls is defined }} {{ messages[0]['tool_calls'] is defined }}`, nil, `False False`},
	})
}

func TestMethods_Behavior(t *testing.T) {
	extra := map[string]any{"d": raw(`{"z": 1, "a": null, "m": "s"}`)}
	runHelperCases(t, []helperCase{
		{"strip", `[{{ '  a b \n'.strip() }}][{{ 'xxhixx'.strip('x') }}][{{ '\n\n a \n'.strip('\n') }}]`, nil, `[a b][hi][ a ]`},
		{"lstrip rstrip", `[{{ '\n\n a \n'.lstrip('\n') }}][{{ '  a  '.lstrip() }}][{{ '  a  '.rstrip() }}][{{ 'a\n\n'.rstrip('\n') }}]`, nil, "[ a \n][a  ][  a][a]"},
		{"split", `{{ 'a  b\tc '.split() }}|{{ 'a,b,,c'.split(',') }}|{{ 'a,b,c'.split(',', 1) }}|{{ 'a b c'.split(none, 1) }}`, nil,
			`['a', 'b', 'c']|['a', 'b', '', 'c']|['a', 'b,c']|['a', 'b c']`},
		{"split index", `{{ 'x</think>y'.split('</think>')[-1] }}{{ 'x</think>y'.split('</think>')[0] }}`, nil, `yx`},
		{"rsplit", `{{ 'a,b,c'.rsplit(',', 1) }}`, nil, `['a,b', 'c']`},
		{"startswith endswith", `{{ 'abc'.startswith('ab') }} {{ 'abc'.startswith(('x', 'a')) }} {{ 'abc'.endswith('bc') }} {{ 'abc'.endswith(['x']) }} {{ 'abc'.startswith('b', 1) }}`, nil,
			`True True True False True`},
		{"replace", `{{ 'aaa'.replace('a', 'b') }} {{ 'aaa'.replace('a', 'b', 2) }}`, nil, `bbb bba`},
		{"upper lower title capitalize", `{{ 'x'.upper() }}{{ 'X'.lower() }} {{ "hello world's 2nd".title() }} {{ 'hELLO'.capitalize() }}`, nil,
			`Xx Hello World'S 2Nd Hello`},
		{"dict items keep order", `{% for k, v in d.items() %}{{ k }};{% endfor %}{{ d.keys()|join(',') }}`, extra, `z;a;m;z,a,m`},
		{"dict items with loop filter", `{% for k, v in d.items() if k != 'a' %}{{ k }}{% if not loop.last %},{% endif %}{% endfor %}`, extra, `z,m`},
		{"dict values", `{{ d.values()|length }}`, extra, `3`},
		{"dict get", `{{ d.get('m') }} {{ d.get('nope') is none }} {{ d.get('nope', 'def') }} {{ d.get('a') is none }} {{ messages[0].get('role') }}`, extra,
			`s True def True system`},
		{"string find count join", `{{ 'hello'.find('l') }} {{ 'hello'.count('l') }} {{ '-'.join(['a', 'b']) }}`, nil, `2 2 a-b`},
	})
}

func TestGlobals_Behavior(t *testing.T) {
	runHelperCases(t, []helperCase{
		{"namespace", `{% set ns = namespace(found=false, n=0) %}{% for m in messages %}{% if m.role == 'user' %}{% set ns.found = true %}{% set ns.n = ns.n + 1 %}{% endif %}{% endfor %}{{ ns.found }} {{ ns.n }}`, nil,
			`True 2`},
		{"loop variables", `{% for m in messages %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }};{% endfor %}`, nil,
			`10TrueFalse44;21FalseFalse43;32FalseFalse42;43FalseTrue41;`},
		{"previtem nextitem", `{% for m in messages %}{% if loop.previtem is defined %}p{{ loop.previtem.content }}{% endif %}{% if loop.nextitem is defined %}n{{ loop.nextitem.content }}{% endif %};{% endfor %}`, nil,
			`nU1;pSnA1;pU1nU2;pA1;`},
		{"break continue", `{% for m in messages %}{% if m.role == 'assistant' %}{% break %}{% endif %}{% if m.role == 'system' %}{% continue %}{% endif %}{{ m.content }}{% endfor %}`, nil,
			`U1`},
		{"loop filter", `{% for m in messages if m.role != 'system' %}{{ m.content }}{{ loop.index }}{% if loop.last %}!{% endif %}{% endfor %}`, nil,
			`U11A12U23!`},
		{"slicing", `{{ messages[1:]|length }}|{{ (messages[::-1]|first).content }}|{{ 'hello'[1:3] }}|{{ 'héllo'[1:] }}|{{ [1, 2, 3][-2:] }}|{{ 'abc'[::-1] }}`, nil,
			`3|U2|el|éllo|[2, 3]|cba`},
		{"negative index", `{{ messages[-1].content }}`, nil, `U2`},
		{"bos eos", `{{ bos_token }}x{{ eos_token }}`, nil, `<s>x</s>`},
		{"range", `{% for i in range(3) %}{{ i }}{% endfor %}`, nil, `012`},
		{"whitespace control as transformers (trim_blocks, lstrip_blocks)", "{% for m in messages %}\n    {{ m.content }}\n{% endfor %}\nend", nil,
			"    S\n    U1\n    A1\n    U2\nend"},
		{"lstrip_blocks and comments", "  {%- if true %}\n  x\n  {% endif %}\n  {# c #}\ny\n", nil, "  x\ny"},
		{"lstrip_blocks only at the start of a line", "a {% if true %}b{% endif %} {% if true %}c{% endif %}\n\t {%+ if true %}d{% endif %}", nil, "a b c\t d"},
		{"lstrip_blocks after trim_blocks", "a {% if true %}b{% endif %} {% if true %}c{% endif %}\n  {% if true %}d{% endif %}", nil, "a b cd"},
		{"trim_blocks", "{% if true %}\nx{% endif %}\n{# c #}\n{{ 'y' }}\nz", nil, "xy\nz"},
		{"generation block", `{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}{% endif %}{% endfor %}`, nil,
			`A1`},
		{"macro", `{% macro render(m) %}[{{ m.role }}]{% endmacro %}{{ render(messages[0]) }}`, nil, `[system]`},
		{"string concatenation and tilde", `{{ 'a' + 'b' ~ 1 }}`, nil, `ab1`},
		{"if elif else", `{% for m in messages %}{% if m.role == 'system' %}s{% elif m.role == 'user' %}u{% else %}a{% endif %}{% endfor %}`, nil,
			`suau`},
	})
}
