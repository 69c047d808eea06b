package chattemplate

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/exec"
)

// gonja's method sets cannot be listed or extended, so the builtin methods
// are copied by name into new sets next to this package's. A test checks
// every name still resolves.
var (
	builtinStrMethods = []string{
		"capitalize", "capwords", "casefold", "center", "encode",
		"expandtabs", "find", "format", "format_map", "isalnum", "isalpha",
		"isascii", "isdecimal", "isdigit", "islower", "isnumeric",
		"isprintable", "isspace", "istitle", "isupper", "join", "ljust",
		"lower", "partition", "removeprefix", "removesuffix", "rfind",
		"rjust", "rpartition", "splitlines", "swapcase", "upper", "zfill",
	}
	builtinDictMethods  = []string{"pop", "setdefault", "update", "copy", "clear"}
	builtinListMethods  = []string{"append", "reverse", "copy"}
	builtinIntMethods   = []string{"is_integer", "bit_length", "bit_count", "as_integer_ratio"}
	builtinFloatMethods = []string{"is_integer", "as_integer_ratio", "hex"}
	builtinBoolMethods  = []string{"string", "int", "bit_length", "bit_count", "as_integer_ratio"}
)

func newMethods() exec.Methods {
	b := builtins.Methods
	return exec.Methods{
		Str:   mergeMethods(b.Str, builtinStrMethods, strMethods),
		Dict:  mergeMethods(b.Dict, builtinDictMethods, dictMethods),
		List:  mergeMethods(b.List, builtinListMethods, nil),
		Int:   mergeMethods(b.Int, builtinIntMethods, nil),
		Float: mergeMethods(b.Float, builtinFloatMethods, nil),
		Bool:  mergeMethods(b.Bool, builtinBoolMethods, nil),
	}
}

func mergeMethods[T any](from *exec.MethodSet[T], names []string, own map[string]exec.Method[T]) *exec.MethodSet[T] {
	all := map[string]exec.Method[T]{}
	for _, name := range names {
		if m, ok := from.Get(name); ok {
			all[name] = m
		}
	}
	for name, m := range own {
		all[name] = m
	}
	return exec.NewMethodSet(all)
}

// strMethods replace gonja's where they differ from Python: strip and
// split default to whitespace, startswith/endswith take tuples, replace
// takes an optional count, title follows str.title, count counts.
var strMethods = map[string]exec.Method[string]{
	"strip":      stripMethod(true, true),
	"lstrip":     stripMethod(true, false),
	"rstrip":     stripMethod(false, true),
	"split":      splitMethod,
	"rsplit":     rsplitMethod,
	"startswith": affixMethod(strings.HasPrefix),
	"endswith":   affixMethod(strings.HasSuffix),
	"replace":    replaceMethod,
	"title":      titleMethod,
	"count":      countMethod,
}

// isPySpace is Python's str.isspace for one character.
func isPySpace(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) }

func stripMethod(left, right bool) exec.Method[string] {
	return func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		cut := isPySpace
		if chars := optArg(args, 0, "chars"); chars != nil && !chars.IsNil() {
			set := chars.String()
			cut = func(r rune) bool { return strings.ContainsRune(set, r) }
		}
		if left {
			self = strings.TrimLeftFunc(self, cut)
		}
		if right {
			self = strings.TrimRightFunc(self, cut)
		}
		return self, nil
	}
}

func splitArgs(args *exec.VarArgs) (sep string, whitespace bool, maxsplit int, err error) {
	maxsplit = -1
	if m := optArg(args, 1, "maxsplit"); m != nil {
		maxsplit = m.Integer()
	}
	s := optArg(args, 0, "sep")
	if s == nil || s.IsNil() {
		return "", true, maxsplit, nil
	}
	if s.String() == "" {
		return "", false, 0, errors.New("empty separator")
	}
	return s.String(), false, maxsplit, nil
}

func splitMethod(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
	sep, whitespace, maxsplit, err := splitArgs(args)
	if err != nil {
		return nil, err
	}
	if whitespace {
		return toAny(splitSpace(self, maxsplit)), nil
	}
	n := -1
	if maxsplit >= 0 {
		n = maxsplit + 1
	}
	return toAny(strings.SplitN(self, sep, n)), nil
}

func rsplitMethod(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
	sep, whitespace, maxsplit, err := splitArgs(args)
	if err != nil {
		return nil, err
	}
	if whitespace || maxsplit < 0 {
		return splitMethod(self, nil, args)
	}
	var out []string
	for range maxsplit {
		i := strings.LastIndex(self, sep)
		if i < 0 {
			break
		}
		out = append([]string{self[i+len(sep):]}, out...)
		self = self[:i]
	}
	return toAny(append([]string{self}, out...)), nil
}

// splitSpace is Python's str.split() without a separator: runs of
// whitespace separate, leading and trailing whitespace is dropped.
func splitSpace(s string, maxsplit int) []string {
	out := []string{}
	for {
		s = strings.TrimLeftFunc(s, isPySpace)
		if s == "" {
			return out
		}
		if maxsplit >= 0 && len(out) == maxsplit {
			return append(out, s)
		}
		end := strings.IndexFunc(s, isPySpace)
		if end < 0 {
			return append(out, s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
}

func affixMethod(has func(s, affix string) bool) exec.Method[string] {
	return func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		if len(args.Args) == 0 {
			return nil, errors.New("takes at least 1 argument")
		}
		self = sliceRunes(self, args)
		affixes := args.Args[0]
		if !affixes.IsList() {
			return has(self, affixes.String()), nil
		}
		for i := range affixes.Len() {
			if has(self, affixes.Index(i).String()) {
				return true, nil
			}
		}
		return false, nil
	}
}

// sliceRunes applies the optional start and end arguments of
// startswith/endswith.
func sliceRunes(s string, args *exec.VarArgs) string {
	if len(args.Args) < 2 {
		return s
	}
	r := []rune(s)
	clamp := func(i int) int {
		if i < 0 {
			i += len(r)
		}
		return min(max(i, 0), len(r))
	}
	start, end := clamp(args.Args[1].Integer()), len(r)
	if len(args.Args) > 2 && !args.Args[2].IsNil() {
		end = clamp(args.Args[2].Integer())
	}
	if start > end {
		return ""
	}
	return string(r[start:end])
}

// countMethod is str.count(sub[, start[, end]]).
func countMethod(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
	if len(args.Args) == 0 {
		return nil, errors.New("count takes at least 1 argument")
	}
	return strings.Count(sliceRunes(self, args), args.Args[0].String()), nil
}

func replaceMethod(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
	if len(args.Args) < 2 {
		return nil, errors.New("replace takes at least 2 arguments")
	}
	count := -1
	if c := optArg(args, 2, "count"); c != nil {
		count = c.Integer()
	}
	return strings.Replace(self, args.Args[0].String(), args.Args[1].String(), count), nil
}

// titleMethod is Python's str.title: a cased character after an uncased
// one starts a word.
func titleMethod(self string, _ *exec.Value, _ *exec.VarArgs) (any, error) {
	var b strings.Builder
	prevCased := false
	for _, r := range self {
		if prevCased {
			b.WriteRune(unicode.ToLower(r))
		} else {
			b.WriteRune(unicode.ToTitle(r))
		}
		prevCased = unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r)
	}
	return b.String(), nil
}

// dictMethods read ordered dicts in their order (gonja's sort keys and
// lose None).
var dictMethods = map[string]exec.Method[map[string]any]{
	"items":  dictView(func(p *exec.Pair) any { return []any{p.Key, p.Value} }),
	"keys":   dictView(func(p *exec.Pair) any { return p.Key }),
	"values": dictView(func(p *exec.Pair) any { return p.Value }),
	"get":    dictGet,
}

func dictView(pick func(*exec.Pair) any) exec.Method[map[string]any] {
	return func(_ map[string]any, self *exec.Value, args *exec.VarArgs) (any, error) {
		if len(args.Args)+len(args.KwArgs) > 0 {
			return nil, errors.New("takes no arguments")
		}
		pairs, _ := dictPairs(self)
		out := make([]any, 0, len(pairs))
		for _, p := range pairs {
			out = append(out, pick(p))
		}
		return out, nil
	}
}

// dictGet is dict.get(key, default=None).
func dictGet(_ map[string]any, self *exec.Value, args *exec.VarArgs) (any, error) {
	if len(args.Args) < 1 || len(args.Args) > 2 {
		return nil, fmt.Errorf("get takes 1 or 2 arguments, got %d", len(args.Args))
	}
	pairs, _ := dictPairs(self)
	for _, p := range pairs {
		if p.Key.EqualValueTo(args.Args[0]) {
			return p.Value.Interface(), nil
		}
	}
	if len(args.Args) == 2 {
		return args.Args[1].Interface(), nil
	}
	return none, nil
}

// optArg returns the i-th positional argument or the keyword argument
// name, nil when absent.
func optArg(args *exec.VarArgs, i int, name string) *exec.Value {
	if i < len(args.Args) {
		return args.Args[i]
	}
	return args.KwArgs[name]
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
