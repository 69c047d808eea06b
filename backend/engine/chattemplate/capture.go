package chattemplate

import (
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// A macro renders its body into a strings.Builder of gonja's and returns
// the builder's string: new memory, untrusted by the rule of trust.go,
// although templates write turn markers from macros (a macro per message
// or per tool). rewriteMacros therefore wraps each macro's body in a
// capture block that renders the body through a segmentWriter, writes the
// text into the macro's builder in one write, and registers the builder's
// memory (which is what the macro returns) with the runs the body had.

// captureControl is the block rewriteMacros puts around a macro's body.
type captureControl struct {
	location *tokens.Token
	body     *nodes.Wrapper
}

func (c *captureControl) Position() *tokens.Token { return c.location }

func (c *captureControl) String() string {
	return fmt.Sprintf("capture(Line=%d Col=%d)", c.location.Line, c.location.Col)
}

// Execute renders the body as the macro would, in a scope of its own
// whose variables go back to the macro's scope.
func (c *captureControl) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	tr := trustOf(r.Evaluator())
	b, ok := r.Output.(*strings.Builder)
	if tr == nil || !ok || b.Len() != 0 {
		return r.ExecuteIfWrapper(c.body)
	}
	w := &segmentWriter{trust: tr}
	sub := r.Inherit()
	sub.Output = w
	if err := nodes.Walk(sub, c.body); err != nil {
		return err
	}
	r.Environment.Context.Update(sub.Environment.Context)
	var text strings.Builder
	var runs []run
	for _, s := range w.segments() {
		text.WriteString(s.Text)
		runs = appendRun(runs, text.Len(), s.Trusted)
	}
	if _, err := io.WriteString(b, text.String()); err != nil {
		return err
	}
	if len(runs) == 1 && !runs[0].trusted {
		return nil
	}
	if len(runs) == 1 {
		runs = nil
	}
	tr.built.add(b.String(), runs) // the memory the macro will return
	return nil
}

// rewriteMacros wraps the body of every macro of a parsed template in a
// captureControl block.
func rewriteMacros(root *nodes.Template) {
	var macros []*nodes.Macro
	walkNodes(root, func(v reflect.Value) {
		if m, ok := v.Interface().(*nodes.Macro); ok && m != nil && m.Wrapper != nil {
			macros = append(macros, m)
		}
	})
	for _, m := range macros {
		inner := *m.Wrapper
		m.Wrapper.Nodes = []nodes.Node{&nodes.ControlStructureBlock{
			Location:         m.Location,
			Name:             "capture",
			ControlStructure: &captureControl{location: m.Location, body: &inner},
		}}
	}
}
