package chattemplate

import (
	"cmp"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strings"
	"unsafe"

	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// Trust tracking: which parts of a render did the template write?
//
// A tokenizer turns "<|im_end|>" into the model's end-of-turn token
// wherever it reads it. Only the text a chat template writes itself, its
// literals and the special tokens the engine hands it (bos_token,
// eos_token), may do that; every string that comes from the request
// (messages, tool results, tool calls, tool definitions, extra variables)
// must reach the model as the characters it is (the exceptions are the
// engine's text: a message's role, when it is one of the four the engine
// writes, and the markers of a Message's Tail, which can only be
// constants of the engine's source, text.go). RenderSegments
// therefore returns the render as segments marked trusted or not.
//
// The template sees the request's strings exactly as they are, with no
// marker in them: Qwen3's template splits assistant content on "</think>"
// and must find the user's real text there. Provenance is instead tracked
// by where a string's bytes live. Go strings are immutable and a substring
// shares its parent's memory, so:
//
//   - the template's literals (the text between tags and the string
//     literals of expressions, each copied into memory of its own) and
//     the special tokens are registered, at parse time, as trusted memory;
//   - strip, trim, split, a loop variable, a set variable, an item of a
//     list... return the same memory or a part of it, so their results
//     keep their provenance with no work;
//   - concatenation (`+` and `~`, rewritten at parse time into calls to
//     this package's functions) builds a new string and registers its
//     trusted and untrusted spans;
//   - a macro's output keeps the provenance of what its body wrote
//     (capture.go);
//   - any other operation that builds a new string (a filter such as
//     tojson, join or replace, a string method, slicing s[a:b], which
//     gonja does by runes, a {% set %} or {% filter %} block, a
//     {% call %} block) gives memory that is
//     registered nowhere, and such memory is untrusted — unless, for a
//     filter, every string it read was trusted, in which case its result
//     is registered as trusted.
//
// The rule is default-deny: text is trusted only when it provably comes
// from the template or the engine. An untrusted string can never sit in
// trusted memory: that memory belongs to the parsed template and to the
// strings this package builds. The price of the rule is on benign
// prompts only, and only for a template that builds a special token by an
// operation tracked here as opaque (say `'<|im_start|>'.upper()`); the
// tests render every real template in the corpus and check that benign
// conversations tokenize exactly as a plain render does.

// Segment is a piece of a render: text, and whether the chat template
// itself wrote it (Trusted) or it came from the request.
type Segment struct {
	Text    string
	Trusted bool
}

// RenderSegments renders in as Render does and returns the output as
// segments in order: concatenated, their texts are Render's string.
// Adjacent segments differ in Trusted.
func (t *Template) RenderSegments(in Input) ([]Segment, error) {
	v, err := t.pick(len(in.Tools) > 0)
	if err != nil {
		return nil, err
	}
	var engine regionSet
	vars, raised, err := t.variables(in, &engine)
	if err != nil {
		return nil, err
	}
	engine.seal()
	return v.executeSegments(t, vars, raised, &engine)
}

// executeSegments runs the template; engine is the render's engine text
// (Message.Tail), trusted where its markers are.
func (v *variant) executeSegments(t *Template, vars map[string]any, raised *raise, engine *regionSet) (segs []Segment, err error) {
	defer recoverPanic(v.name, &err)
	tr := &trust{base: []*regionSet{&v.literals, &t.trusted, &trustedRoles, engine}}
	vars[trustName] = tr
	w := &segmentWriter{trust: tr}
	if err := v.tpl.Execute(w, exec.NewContext(vars)); err != nil {
		return nil, renderError(v, err, raised)
	}
	return w.segments(), nil
}

// segmentWriter receives the render's output, one string per write, and
// marks each part with its provenance.
type segmentWriter struct {
	trust   *trust
	segs    []Segment
	cur     strings.Builder // text of the segment being written
	trusted bool            // provenance of cur
}

func (w *segmentWriter) WriteString(s string) (int, error) {
	at := 0
	for _, r := range w.trust.runs(s) {
		w.add(s[at:r.end], r.trusted)
		at = r.end
	}
	return len(s), nil
}

// Write copies p: bytes of unknown origin are untrusted.
func (w *segmentWriter) Write(p []byte) (int, error) {
	w.add(string(p), false)
	return len(p), nil
}

func (w *segmentWriter) add(s string, trusted bool) {
	if s == "" {
		return
	}
	if w.cur.Len() > 0 && w.trusted != trusted {
		w.flush()
	}
	w.trusted = trusted
	w.cur.WriteString(s)
}

func (w *segmentWriter) flush() {
	if w.cur.Len() > 0 {
		w.segs = append(w.segs, Segment{Text: w.cur.String(), Trusted: w.trusted})
		w.cur = strings.Builder{}
	}
}

// segments returns what was written.
func (w *segmentWriter) segments() []Segment {
	w.flush()
	return w.segs
}

var _ io.StringWriter = (*segmentWriter)(nil)

// run is a stretch of a string with one provenance: it ends at byte end
// (runs follow each other from byte 0).
type run struct {
	end     int
	trusted bool
}

// region is memory whose provenance is known: n bytes from start, with
// runs (nil when all of it is trusted).
type region struct {
	start uintptr
	n     int
	runs  []run
	keep  string // holds the memory: a GC'd and reused address would lie
}

// regionSet finds the region that holds a string. Regions are added
// unsorted to tail, which is sorted and merged into sorted when it grows,
// so that adding and finding stay cheap in long renders.
type regionSet struct {
	sorted []*region
	tail   []*region
}

const tailMax = 32

func (s *regionSet) add(str string, runs []run) {
	if str == "" {
		return
	}
	s.tail = append(s.tail, &region{start: addr(str), n: len(str), runs: runs, keep: str})
	if len(s.tail) > tailMax {
		s.merge()
	}
}

// merge moves tail into sorted.
func (s *regionSet) merge() {
	byStart := func(a, b *region) int { return cmp.Compare(a.start, b.start) }
	slices.SortFunc(s.tail, byStart)
	merged := make([]*region, 0, len(s.sorted)+len(s.tail))
	i, j := 0, 0
	for i < len(s.sorted) && j < len(s.tail) {
		if s.sorted[i].start <= s.tail[j].start {
			merged = append(merged, s.sorted[i])
			i++
		} else {
			merged = append(merged, s.tail[j])
			j++
		}
	}
	merged = append(append(merged, s.sorted[i:]...), s.tail[j:]...)
	s.sorted, s.tail = merged, s.tail[:0]
}

// seal sorts every region: a sealed set is only read, by concurrent
// renders.
func (s *regionSet) seal() {
	s.merge()
	s.tail = nil
}

// find returns the region holding the n bytes at p.
func (s *regionSet) find(p uintptr, n int) (*region, bool) {
	holds := func(r *region) bool { return r.start <= p && p+uintptr(n) <= r.start+uintptr(r.n) }
	for _, r := range s.tail {
		if holds(r) {
			return r, true
		}
	}
	i := sort.Search(len(s.sorted), func(i int) bool { return s.sorted[i].start > p })
	// Regions do not overlap, except a string registered twice or a
	// substring registered after its parent: look a few back.
	for j := i - 1; j >= 0 && j >= i-4; j-- {
		if holds(s.sorted[j]) {
			return s.sorted[j], true
		}
	}
	return nil, false
}

func addr(s string) uintptr { return uintptr(unsafe.Pointer(unsafe.StringData(s))) }

// trust is one render's provenance: the template's and the engine's
// trusted memory (base, shared and read-only) and the strings this render
// built.
type trust struct {
	base  []*regionSet
	built regionSet
}

// The roles the engine writes are its own text, not the request's: a
// template may build a special token from one (Phi-4-mini writes
// '<|' + message['role'] + '|>'). A message whose role is one of these
// gets this package's copy of the string, registered as trusted; any
// other role stays untrusted.
var (
	knownRoles   = map[string]string{}
	trustedRoles regionSet
)

func init() {
	for _, r := range []string{"system", "user", "assistant", "tool"} {
		c := strings.Clone(r)
		knownRoles[r] = c
		trustedRoles.add(c, nil)
	}
	trustedRoles.seal()
}

// roleValue is the string a message's role reaches the template as.
func roleValue(role string) string {
	if c, ok := knownRoles[role]; ok {
		return c
	}
	return role
}

// trustName is the render variable that holds the render's *trust for
// the functions and filters that need it.
const trustName = "__mb_trust"

// trustOf returns the render's trust, nil outside RenderSegments (Render
// does not track).
func trustOf(e *exec.Evaluator) *trust {
	if e == nil || e.Environment == nil || e.Environment.Context == nil {
		return nil
	}
	v, _ := e.Environment.Context.Get(trustName)
	tr, _ := v.(*trust)
	return tr
}

// runs returns the provenance of s: one run per stretch, untrusted where
// its memory is registered nowhere.
func (t *trust) runs(s string) []run {
	if s == "" {
		return nil
	}
	p, n := addr(s), len(s)
	sets := append(t.base[:len(t.base):len(t.base)], &t.built)
	for _, set := range sets {
		r, ok := set.find(p, n)
		if !ok {
			continue
		}
		if r.runs == nil {
			return []run{{n, true}}
		}
		return sliceRuns(r.runs, int(p-r.start), n)
	}
	return []run{{n, false}}
}

// known reports whether the memory of s is registered (as trusted, or with
// runs).
func (t *trust) known(s string) bool {
	for _, set := range t.base {
		if _, ok := set.find(addr(s), len(s)); ok {
			return true
		}
	}
	_, ok := t.built.find(addr(s), len(s))
	return ok
}

// trusted reports whether all of s is trusted.
func (t *trust) trusted(s string) bool {
	r := t.runs(s)
	return len(r) == 0 || (len(r) == 1 && r[0].trusted)
}

// sliceRuns returns the runs of the n bytes from off of a string with runs rs.
func sliceRuns(rs []run, off, n int) []run {
	var out []run
	start := 0
	for _, r := range rs {
		lo, hi := max(start, off), min(r.end, off+n)
		start = r.end
		if lo >= hi {
			continue
		}
		out = appendRun(out, hi-off, r.trusted)
	}
	return out
}

// appendRun appends a run ending at end, merging it into the last run when
// they agree.
func appendRun(rs []run, end int, trusted bool) []run {
	if n := len(rs); n > 0 && rs[n-1].trusted == trusted {
		rs[n-1].end = end
		return rs
	}
	return append(rs, run{end, trusted})
}

// concat returns a+b in new memory registered with the runs of both.
func (t *trust) concat(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	var sb strings.Builder
	sb.Grow(len(a) + len(b))
	sb.WriteString(a)
	sb.WriteString(b)
	out := sb.String()
	rs := append([]run(nil), t.runs(a)...)
	for _, r := range t.runs(b) {
		rs = appendRun(rs, len(a)+r.end, r.trusted)
	}
	if len(rs) == 1 && rs[0].trusted {
		rs = nil
	}
	if len(rs) == 1 && !rs[0].trusted {
		return out // untrusted is the default: nothing to register
	}
	t.built.add(out, rs)
	return out
}

// trustAll reports whether every string in v (a string, or strings inside
// lists and dicts, keys included) is trusted.
func (t *trust) trustAll(v any, depth int) bool {
	if depth > 32 {
		return false
	}
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return t.trusted(x)
	case *exec.Value:
		if x == nil || !x.Val.IsValid() {
			return true
		}
		if x.IsString() {
			return t.trusted(x.String())
		}
		if !x.Val.CanInterface() {
			return false
		}
		return t.trustAll(x.Val.Interface(), depth+1)
	case []any:
		for _, e := range x {
			if !t.trustAll(e, depth+1) {
				return false
			}
		}
		return true
	case *exec.Dict:
		for _, p := range x.Pairs {
			if !t.trustAll(p.Key, depth+1) || !t.trustAll(p.Value, depth+1) {
				return false
			}
		}
		return true
	case exec.ValuesList:
		for _, e := range x {
			if !t.trustAll(e, depth+1) {
				return false
			}
		}
		return true
	case bool, int, float64, *noneType:
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	case reflect.String:
		return t.trusted(rv.String())
	case reflect.Slice, reflect.Array:
		for i := range rv.Len() {
			if !rv.Index(i).CanInterface() || !t.trustAll(rv.Index(i).Interface(), depth+1) {
				return false
			}
		}
		return true
	}
	return false // anything else, maps included: not known to be trusted
}

// literalRegions registers as trusted the text a parsed template writes by
// itself: its data (between tags) and its string literals. Each gets
// memory of its own first: the lexer might hand out a string it shares
// with something else (a constant for an escape), and trusted memory must
// belong to the template alone.
func literalRegions(root *nodes.Template) regionSet {
	var set regionSet
	walkNodes(root, func(v reflect.Value) {
		switch n := v.Interface().(type) {
		case *nodes.Data:
			if n != nil && n.Data != nil {
				tok := *n.Data // the token may be shared with the tag lines
				tok.Val = strings.Clone(tok.Val)
				n.Data = &tok
				set.add(tok.Val, nil)
			}
		case *nodes.String:
			if n != nil {
				n.Val = strings.Clone(n.Val)
				set.add(n.Val, nil)
			}
		}
	})
	set.seal()
	return set
}

// Names of the functions `+` and `~` are rewritten into.
const (
	addName = "__mb_add"
	catName = "__mb_cat"
)

// rewriteConcat replaces, in a parsed template, every `a + b` by
// __mb_add(a, b) and every `a ~ b` by __mb_cat(a, b), functions that
// compute what gonja computes and register the provenance of the string
// they build. gonja's node types cannot be extended, so this walks the
// tree by reflection (control structures keep their expressions in
// unexported fields) and swaps the nodes in place.
func rewriteConcat(root *nodes.Template) {
	walkNodes(root, func(v reflect.Value) {
		if v.Kind() != reflect.Interface || !v.CanSet() || v.IsNil() {
			return
		}
		be, ok := v.Interface().(*nodes.BinaryExpression)
		if !ok || be == nil || be.Operator == nil || be.Operator.Token == nil {
			return
		}
		name := ""
		switch be.Operator.Token.Type {
		case tokens.Addition:
			name = addName
		case tokens.Tilde:
			name = catName
		default:
			return
		}
		op := be.Operator.Token
		call := &nodes.Call{
			Location: be.Position(),
			Func:     &nodes.Name{Name: &tokens.Token{Type: tokens.Name, Val: name, Pos: op.Pos, Line: op.Line, Col: op.Col}},
			Args:     []nodes.Expression{be.Left, be.Right},
			Kwargs:   map[string]nodes.Expression{},
		}
		if reflect.TypeOf(call).AssignableTo(v.Type()) {
			v.Set(reflect.ValueOf(call))
		}
	})
}

// walkNodes calls visit on every value reachable from root (interfaces
// before what they hold, so visit may replace the node an interface
// holds: the walk then continues into the replacement).
func walkNodes(root *nodes.Template, visit func(reflect.Value)) {
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value, depth int)
	walk = func(v reflect.Value, depth int) {
		if depth > 10000 {
			return
		}
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() || seen[v.Pointer()] {
				return
			}
			seen[v.Pointer()] = true
			if v.CanInterface() {
				visit(v)
			}
			walk(v.Elem(), depth+1)
		case reflect.Interface:
			if v.IsNil() {
				return
			}
			visit(v)
			e := v.Elem()
			if e.Kind() == reflect.Struct && v.CanSet() {
				// A struct held by value: walk an addressable copy and
				// put it back, so that nodes inside can be replaced.
				c := reflect.New(e.Type()).Elem()
				c.Set(e)
				walk(c, depth+1)
				v.Set(c)
				return
			}
			walk(e, depth+1)
		case reflect.Struct:
			for i := range v.NumField() {
				f := v.Field(i)
				if !f.CanSet() && f.CanAddr() {
					f = reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
				}
				walk(f, depth+1)
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i), depth+1)
			}
		case reflect.Map:
			if !v.CanSet() && !v.CanInterface() {
				return
			}
			for _, k := range v.MapKeys() {
				c := reflect.New(v.Type().Elem()).Elem()
				c.Set(v.MapIndex(k))
				walk(c, depth+1)
				v.SetMapIndex(k, c)
			}
		}
	}
	walk(reflect.ValueOf(root), 0)
}

// templateAdd is `a + b` as gonja computes it (lists concatenate, numbers
// add, a string on either side concatenates as text), the provenance of a
// string result registered.
func templateAdd(e *exec.Evaluator, args *exec.VarArgs) *exec.Value {
	if len(args.Args) != 2 {
		return exec.AsValue(errMalformed("+"))
	}
	left, right := args.Args[0], args.Args[1]
	switch {
	case left.IsList():
		if !right.IsList() {
			return exec.AsValue(errConcatList(right))
		}
		out := make([]any, 0, left.Len()+right.Len())
		for i := range left.Len() {
			out = append(out, left.Index(i).Interface())
		}
		for i := range right.Len() {
			out = append(out, right.Index(i).Interface())
		}
		return exec.AsValue(out)
	case left.IsFloat() || right.IsFloat():
		return exec.AsValue(left.Float() + right.Float())
	case left.IsString() || right.IsString():
		return exec.AsValue(concatValues(e, left, right))
	}
	return exec.AsValue(left.Integer() + right.Integer())
}

// templateCat is `a ~ b`: both as text, concatenated.
func templateCat(e *exec.Evaluator, args *exec.VarArgs) *exec.Value {
	if len(args.Args) != 2 {
		return exec.AsValue(errMalformed("~"))
	}
	return exec.AsValue(concatValues(e, args.Args[0], args.Args[1]))
}

func errMalformed(op string) error { return fmt.Errorf("operator %s: malformed", op) }

func errConcatList(v *exec.Value) error {
	return fmt.Errorf("unable to concatenate list to %s", v.String())
}

func concatValues(e *exec.Evaluator, left, right *exec.Value) string {
	a, b := left.String(), right.String()
	if tr := trustOf(e); tr != nil {
		return tr.concat(a, b)
	}
	return a + b
}

// trustFilter wraps a filter so that a string it builds from trusted
// strings only (its input and arguments) stays trusted; anything else it
// builds is untrusted, being registered nowhere.
func trustFilter(fn exec.FilterFunction) exec.FilterFunction {
	return func(e *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
		out := fn(e, in, params)
		tr := trustOf(e)
		if tr == nil || out == nil || !out.IsString() || out.IsError() {
			return out
		}
		s := out.String()
		if s == "" || tr.known(s) || !tr.trustAll(in, 0) {
			return out
		}
		for _, a := range params.Args {
			if !tr.trustAll(a, 0) {
				return out
			}
		}
		for _, a := range params.KwArgs {
			if !tr.trustAll(a, 0) {
				return out
			}
		}
		tr.built.add(s, nil)
		return out
	}
}
