package chattemplate

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// jsonOptions are the arguments of transformers' tojson filter, which calls
// json.dumps(x, ensure_ascii=False, indent=indent, separators=separators,
// sort_keys=sort_keys).
type jsonOptions struct {
	indent      string
	indented    bool
	itemSep     string
	keySep      string
	sortKeys    bool
	ensureASCII bool
}

// filterToJSON is transformers' tojson: Python's json.dumps output, HTML
// characters and non-ASCII text left as they are.
func filterToJSON(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	opt, err := tojsonOptions(params)
	if err != nil {
		return exec.AsValue(err)
	}
	var b strings.Builder
	if err := encodeJSON(&b, in, opt, 0); err != nil {
		return exec.AsValue(fmt.Errorf("tojson: %w", err))
	}
	return exec.AsSafeValue(b.String())
}

func tojsonOptions(params *exec.VarArgs) (jsonOptions, error) {
	opt := jsonOptions{itemSep: ", ", keySep: ": "}
	args := map[string]*exec.Value{}
	names := []string{"ensure_ascii", "indent", "separators", "sort_keys"}
	for i, a := range params.Args {
		if i >= len(names) {
			return opt, fmt.Errorf("tojson: too many arguments")
		}
		args[names[i]] = a
	}
	for k, v := range params.KwArgs {
		args[k] = v
	}
	for k, v := range args {
		switch k {
		case "ensure_ascii":
			opt.ensureASCII = v.IsTrue()
		case "sort_keys":
			opt.sortKeys = v.IsTrue()
		case "indent":
			setIndent(&opt, v)
		case "separators":
			if v.IsNil() {
				continue
			}
			if !v.IsList() || v.Len() != 2 {
				return opt, fmt.Errorf("tojson: separators must be a pair of strings")
			}
			opt.itemSep, opt.keySep = v.Index(0).String(), v.Index(1).String()
		default:
			return opt, fmt.Errorf("tojson: unexpected argument %q", k)
		}
	}
	if opt.indented && params.KwArgs["separators"] == nil && (len(params.Args) < 3 || params.Args[2].IsNil()) {
		opt.itemSep = ","
	}
	return opt, nil
}

func setIndent(opt *jsonOptions, v *exec.Value) {
	switch {
	case v.IsNil():
	case v.IsString():
		opt.indent, opt.indented = v.String(), true
	default:
		opt.indent, opt.indented = strings.Repeat(" ", max(0, v.Integer())), true
	}
}

// encodeJSON writes v as Python's json.dumps would.
func encodeJSON(b *strings.Builder, v *exec.Value, opt jsonOptions, depth int) error {
	if v == nil || v.IsNil() {
		b.WriteString("null")
		return nil
	}
	if pairs, ok := dictPairs(v); ok {
		return encodeJSONObject(b, pairs, opt, depth)
	}
	rv := v.Val
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.Bool:
		b.WriteString(strconv.FormatBool(rv.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		b.WriteString(strconv.FormatInt(rv.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		b.WriteString(strconv.FormatUint(rv.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		b.WriteString(pythonFloat(rv.Float()))
	case reflect.String:
		writeJSONString(b, rv.String(), opt.ensureASCII)
	case reflect.Slice, reflect.Array:
		items := make([]*exec.Value, rv.Len())
		for i := range items {
			items[i] = exec.ToValue(rv.Index(i))
		}
		return encodeJSONArray(b, items, opt, depth)
	default:
		return fmt.Errorf("object of type %s is not JSON serializable", rv.Type())
	}
	return nil
}

func encodeJSONArray(b *strings.Builder, items []*exec.Value, opt jsonOptions, depth int) error {
	if len(items) == 0 {
		b.WriteString("[]")
		return nil
	}
	b.WriteByte('[')
	for i, item := range items {
		if i > 0 {
			b.WriteString(opt.itemSep)
		}
		newline(b, opt, depth+1)
		if err := encodeJSON(b, item, opt, depth+1); err != nil {
			return err
		}
	}
	newline(b, opt, depth)
	b.WriteByte(']')
	return nil
}

func encodeJSONObject(b *strings.Builder, pairs []*exec.Pair, opt jsonOptions, depth int) error {
	if len(pairs) == 0 {
		b.WriteString("{}")
		return nil
	}
	if opt.sortKeys {
		pairs = append([]*exec.Pair(nil), pairs...)
		sort.SliceStable(pairs, func(i, j int) bool { return jsonKey(pairs[i].Key) < jsonKey(pairs[j].Key) })
	}
	b.WriteByte('{')
	for i, p := range pairs {
		if i > 0 {
			b.WriteString(opt.itemSep)
		}
		newline(b, opt, depth+1)
		writeJSONString(b, jsonKey(p.Key), opt.ensureASCII)
		b.WriteString(opt.keySep)
		if err := encodeJSON(b, p.Value, opt, depth+1); err != nil {
			return err
		}
	}
	newline(b, opt, depth)
	b.WriteByte('}')
	return nil
}

// jsonKey is the text json.dumps uses for a dict key.
func jsonKey(k *exec.Value) string {
	switch {
	case k.IsNil():
		return "null"
	case k.IsBool():
		return strconv.FormatBool(k.Bool())
	case k.IsFloat():
		return pythonFloat(k.Float())
	}
	return k.String()
}

func newline(b *strings.Builder, opt jsonOptions, depth int) {
	if !opt.indented {
		return
	}
	b.WriteByte('\n')
	for range depth {
		b.WriteString(opt.indent)
	}
}

// writeJSONString quotes s as json.dumps does: the short escapes for \" \\
// \n \r \t \b \f, \u00XX for other control characters, and with
// ensureASCII every non-ASCII character as \uXXXX (surrogate pairs beyond
// the BMP).
func writeJSONString(b *strings.Builder, s string, ensureASCII bool) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r < 0x20 || (ensureASCII && r == 0x7f):
				fmt.Fprintf(b, `\u%04x`, r)
			case ensureASCII && r > 0x7f:
				writeASCIIEscape(b, r)
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

func writeASCIIEscape(b *strings.Builder, r rune) {
	if r > 0xffff {
		hi, lo := utf16.EncodeRune(r)
		fmt.Fprintf(b, `\u%04x\u%04x`, hi, lo)
		return
	}
	fmt.Fprintf(b, `\u%04x`, r)
}

// pythonFloat formats f as Python's repr does: the shortest digits that
// round-trip, scientific notation below 1e-4 and from 1e16 on, and a ".0"
// on integral values.
func pythonFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	sci := strconv.FormatFloat(f, 'e', -1, 64)
	mant, e, _ := strings.Cut(sci, "e")
	exp, _ := strconv.Atoi(e)
	if f != 0 && (exp < -4 || exp >= 16) {
		sign := e[0]
		digits := strings.TrimLeft(e[1:], "0")
		if len(digits) < 2 {
			digits = strings.Repeat("0", 2-len(digits)) + digits
		}
		return mant + "e" + string(sign) + digits
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}
