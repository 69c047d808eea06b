package chattemplate

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// extraFilters are the filters this package adds to gonja's or puts in
// place of them:
//   - tojson: transformers' own (Python json.dumps, no HTML escaping,
//     non-ASCII kept, indent/separators/sort_keys/ensure_ascii);
//   - items: pairs in the dict's order (gonja's drops ordered dicts);
//   - dictsort: pairs sorted by key or value (gonja's drops ordered dicts);
//   - default: replaces undefined only, or falsy values with boolean=true
//     (gonja's also replaces None);
//   - __mb_lazy: see rewrite.go.
func extraFilters() map[string]exec.FilterFunction {
	return map[string]exec.FilterFunction{
		"tojson":   filterToJSON,
		"items":    filterItems,
		"dictsort": filterDictSort,
		"default":  filterDefault,
		"d":        filterDefault,
		lazyName:   filterLazy,
	}
}

// extraTests are the tests this package puts in place of gonja's, which
// read None and undefined alike and call any non-bool false:
// defined/undefined/none tell None from undefined, true/false hold only
// for booleans, sequence holds for strings and dicts as in Jinja.
func extraTests() map[string]exec.TestFunction {
	return map[string]exec.TestFunction{
		"defined":   testDefined,
		"undefined": testUndefined,
		"none":      testNone,
		"true":      testTrue,
		"false":     testFalse,
		"sequence":  testSequence,
	}
}

func filterItems(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	if len(params.Args)+len(params.KwArgs) > 0 {
		return exec.AsValue(fmt.Errorf("items takes no arguments"))
	}
	if isUndefined(in) {
		return exec.AsValue([]any{})
	}
	pairs, ok := dictPairs(in)
	if !ok {
		return exec.AsValue(fmt.Errorf("items: %s is not a mapping", in.String()))
	}
	return exec.AsValue(pairList(pairs))
}

// pairList is dict.items(): a list of [key, value] lists.
func pairList(pairs []*exec.Pair) []any {
	out := make([]any, 0, len(pairs))
	for _, p := range pairs {
		out = append(out, []any{p.Key, p.Value})
	}
	return out
}

// filterDictSort is Jinja's dictsort(case_sensitive=false, by='key',
// reverse=false).
func filterDictSort(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	pairs, ok := dictPairs(in)
	if !ok {
		return exec.AsValue(fmt.Errorf("dictsort: %s is not a mapping", in.String()))
	}
	caseSensitive := optArg(params, 0, "case_sensitive")
	by := optArg(params, 1, "by")
	reverse := optArg(params, 2, "reverse")
	sortKey := func(p *exec.Pair) *exec.Value {
		v := p.Key
		if by != nil && by.String() == "value" {
			v = p.Value
		}
		if v.IsString() && (caseSensitive == nil || !caseSensitive.IsTrue()) {
			return exec.AsValue(strings.ToLower(v.String()))
		}
		return v
	}
	sorted := append([]*exec.Pair(nil), pairs...)
	sort.SliceStable(sorted, func(i, j int) bool {
		less := exec.ValuesList{sortKey(sorted[i]), sortKey(sorted[j])}.Less(0, 1)
		if reverse != nil && reverse.IsTrue() {
			return exec.ValuesList{sortKey(sorted[j]), sortKey(sorted[i])}.Less(0, 1)
		}
		return less
	})
	return exec.AsValue(pairList(sorted))
}

func filterDefault(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	fallback := exec.AsValue("")
	if len(params.Args) > 0 {
		fallback = params.Args[0]
	}
	boolean := params.KwArgs["boolean"]
	if len(params.Args) > 1 {
		boolean = params.Args[1]
	}
	if in.IsError() || isUndefined(in) || (boolean != nil && boolean.IsTrue() && !in.IsTrue()) {
		return fallback
	}
	return in
}

func testDefined(_ *exec.Context, in *exec.Value, _ *exec.VarArgs) (bool, error) {
	return !in.IsError() && !isUndefined(in), nil
}

func testUndefined(_ *exec.Context, in *exec.Value, _ *exec.VarArgs) (bool, error) {
	return in.IsError() || isUndefined(in), nil
}

func testNone(_ *exec.Context, in *exec.Value, _ *exec.VarArgs) (bool, error) {
	return isNone(in), nil
}

func testTrue(_ *exec.Context, in *exec.Value, _ *exec.VarArgs) (bool, error) {
	return in.IsBool() && in.Bool(), nil
}

func testFalse(_ *exec.Context, in *exec.Value, _ *exec.VarArgs) (bool, error) {
	return in.IsBool() && !in.Bool(), nil
}

func testSequence(_ *exec.Context, in *exec.Value, _ *exec.VarArgs) (bool, error) {
	return in.IsList() || in.IsString() || in.IsDict(), nil
}
