package chattemplate

import (
	"fmt"
	"sort"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// environment is the gonja environment every template renders in: gonja's
// builtins with the fixes and additions of this package. It is built once
// and only read afterwards (gonja guards its sets with mutexes).
var environment = newEnvironment()

// newConfig is the Jinja configuration transformers renders with:
// trim_blocks and lstrip_blocks on, no autoescape, the trailing newline of
// the template dropped. lstrip_blocks is applied by rewrite, gonja's being
// wrong on lines with several tags.
func newConfig() *config.Config {
	cfg := config.New()
	cfg.TrimBlocks = true
	return cfg
}

func newEnvironment() *exec.Environment {
	filters := exec.NewFilterSet(map[string]exec.FilterFunction{}).Update(builtins.Filters)
	for name, fn := range extraFilters() {
		mustSet(filters.Exists(name), filters.Replace, filters.Register, name, fn)
	}
	// Every filter keeps trusted text trusted (see trust.go). gonja's
	// filter sets cannot be listed: the names are gonja's and this
	// package's; a test checks each resolves.
	for _, name := range append(builtinFilterNames, sortedKeys(extraFilters())...) {
		if fn, ok := filters.Get(name); ok {
			mustSet(true, filters.Replace, filters.Register, name, trustFilter(fn))
		}
	}
	tests := exec.NewTestSet(map[string]exec.TestFunction{}).Update(builtins.Tests)
	for name, fn := range extraTests() {
		mustSet(tests.Exists(name), tests.Replace, tests.Register, name, fn)
	}
	structures := exec.NewControlStructureSet(map[string]parser.ControlStructureParser{
		"generation": generationParser,
	}).Update(builtins.ControlStructures)

	ctx := exec.EmptyContext().Update(builtins.GlobalFunctions).Update(builtins.GlobalVariables)
	ctx.Set("none", none)
	ctx.Set(ifElseName, ifElse)
	ctx.Set(addName, templateAdd)
	ctx.Set(catName, templateCat)
	return &exec.Environment{
		Context:           ctx,
		Filters:           filters,
		Tests:             tests,
		ControlStructures: structures,
		Methods:           newMethods(),
	}
}

// builtinFilterNames are gonja's filters.
var builtinFilterNames = []string{
	"abs", "attr", "batch", "capitalize", "center", "default", "d", "dictsort",
	"e", "escape", "filesizeformat", "first", "float", "forceescape", "format",
	"groupby", "indent", "int", "join", "items", "last", "length", "count",
	"list", "lower", "map", "max", "min", "pprint", "random", "rejectattr",
	"reject", "replace", "reverse", "round", "safe", "selectattr", "select",
	"slice", "sort", "string", "striptags", "sum", "title", "tojson", "trim",
	"truncate", "unique", "upper", "urlencode", "urlize", "wordcount",
	"wordwrap", "xmlattr",
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func mustSet[F any](exists bool, replace, register func(string, F) error, name string, fn F) {
	set := register
	if exists {
		set = replace
	}
	if err := set(name, fn); err != nil {
		panic(fmt.Sprintf("chattemplate: %s: %v", name, err))
	}
}

// lazy carries a conditional branch's value, error included, past gonja's
// argument evaluation, which would otherwise fail the whole call.
type lazy struct{ v *exec.Value }

// filterLazy is the __mb_lazy filter of rewrite.go.
func filterLazy(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	return exec.AsValue(&lazy{in})
}

// ifElse is __mb_ifelse(then, cond[, else]) of rewrite.go: the branch that
// cond selects, undefined when there is no else branch.
func ifElse(args *exec.VarArgs) *exec.Value {
	if len(args.Args) < 2 {
		return exec.AsValue(fmt.Errorf("conditional expression: malformed"))
	}
	branch := exec.AsValue(nil)
	if args.Args[1].IsTrue() {
		branch = args.Args[0]
	} else if len(args.Args) > 2 {
		branch = args.Args[2]
	}
	if l, ok := branch.Interface().(*lazy); ok {
		return l.v
	}
	return branch
}

// generationControl is transformers' {% generation %} block, which marks the
// assistant's tokens for training masks; rendering it renders its body.
type generationControl struct {
	location *tokens.Token
	body     *nodes.Wrapper
}

func (g *generationControl) Position() *tokens.Token { return g.location }

func (g *generationControl) String() string {
	return fmt.Sprintf("generation(Line=%d Col=%d)", g.location.Line, g.location.Col)
}

// Execute renders the body in the enclosing scope.
func (g *generationControl) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	return r.ExecuteIfWrapper(g.body)
}

func generationParser(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
	g := &generationControl{location: p.Current()}
	body, _, err := p.WrapUntil("endgeneration")
	if err != nil {
		return nil, err
	}
	g.body = body
	if !args.End() {
		return nil, args.Error("generation takes no arguments", args.Current())
	}
	return g, nil
}
