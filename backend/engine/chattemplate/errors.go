package chattemplate

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

var (
	// ErrNoTemplate is returned by Load for a model directory without a
	// chat template.
	ErrNoTemplate = errors.New("no chat template")
	// ErrRaised matches (errors.Is) an *Error whose template called
	// raise_exception: the conversation is one the template refuses, such
	// as roles that do not alternate.
	ErrRaised = errors.New("chat template raised an exception")
)

// Error reports a template that failed to parse or to render.
type Error struct {
	// Template names the template: the file it came from (with
	// "#name" for one of a list of named templates), or "chat_template".
	Template string
	// Line is the 1-based line of the template where it failed, 0 when
	// unknown.
	Line int
	// Msg says what failed; for a raise_exception it is the template's
	// own message.
	Msg string
	// Raised is set when the template called raise_exception.
	Raised bool
}

// Error formats as "chat template NAME line N: MSG".
func (e *Error) Error() string {
	where := e.Template
	if e.Line > 0 {
		where += " line " + strconv.Itoa(e.Line)
	}
	if e.Raised {
		return fmt.Sprintf("chat template %s: raise_exception: %s", where, e.Msg)
	}
	return fmt.Sprintf("chat template %s: %s", where, e.Msg)
}

// Unwrap makes errors.Is(err, ErrRaised) hold for raised errors.
func (e *Error) Unwrap() error {
	if e.Raised {
		return ErrRaised
	}
	return nil
}

// parseError converts a gonja parse failure, whose message otherwise holds
// the whole template source. Some gonja parse errors carry no position;
// their line is found by locateParseError.
func parseError(name, src string, err error) *Error {
	var syntax *parser.SyntaxError
	if errors.As(err, &syntax) && syntax.Line > 0 {
		return &Error{Template: name, Line: syntax.Line, Msg: syntax.Message + fmt.Sprintf(" near %q", syntax.Raw)}
	}
	if inner := errors.Unwrap(err); inner != nil {
		err = inner
	}
	e := &Error{Template: name, Line: errorLine(err.Error(), nil), Msg: err.Error()}
	if e.Line == 0 {
		e.Line = locateParseError(src, e.Msg)
	}
	return e
}

// locateParseError finds the tag where parsing fails with msg: the parser
// stops at the first error, so a prefix of the source ending after tag k
// fails with msg exactly when the failing tag is at or before k, and a
// binary search over the tags finds it. It returns its line, 0 if not found.
func locateParseError(src, msg string) int {
	toks, ok := lexTokens(src, newConfig())
	if !ok {
		return 0
	}
	var tags []int // indexes of the tokens ending block tags
	for i, t := range toks {
		if t.Type == tokens.BlockEnd {
			tags = append(tags, i)
		}
	}
	failsAt := func(k int) bool {
		end := toks[tags[k]]
		_, err := exec.NewTemplate("prefix", newConfig(), newSourceLoader("prefix", src[:end.Pos+len(end.Val)]), environment)
		if err == nil {
			return false
		}
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		return err.Error() == msg
	}
	k := sort.Search(len(tags), failsAt)
	if k == len(tags) {
		return 0
	}
	for i := tags[k]; i >= 0; i-- {
		if toks[i].Type == tokens.BlockBegin {
			return toks[i].Line
		}
	}
	return 0
}

// position is a line and column as gonja reports them.
type position struct{ line, col int }

// tagLines maps, for each {% %} tag of src, the position of the token that
// follows it (which gonja gives as the tag's position) to the tag's line.
func tagLines(src string, cfg *config.Config) map[position]int {
	toks, _ := lexTokens(src, cfg)
	lines := map[position]int{}
	begin := 0
	for i, t := range toks {
		switch t.Type {
		case tokens.BlockBegin:
			begin = t.Line
		case tokens.BlockEnd:
			if i+1 < len(toks) {
				lines[position{toks[i+1].Line, toks[i+1].Col}] = begin
			}
		}
	}
	return lines
}

// lineRe finds the positions gonja writes into its error messages: "at
// line N", followed for a tag by "XControlStructure(... Line=L Col=C)".
var lineRe = regexp.MustCompile(`(?:at line |Line: )(\d+)(?:: \w+\([^()]*?Line=(\d+) Col=(\d+)\))?`)

// errorLine returns the line of the innermost position in msg, a tag's
// position mapped through lines; 0 when msg has none.
func errorLine(msg string, lines map[position]int) int {
	m := lineRe.FindAllStringSubmatch(msg, -1)
	if len(m) == 0 {
		return 0
	}
	last := m[len(m)-1]
	n, _ := strconv.Atoi(last[1])
	if last[2] != "" {
		l, _ := strconv.Atoi(last[2])
		c, _ := strconv.Atoi(last[3])
		if tag, ok := lines[position{l, c}]; ok {
			return tag
		}
	}
	return n
}

// structureRe matches the links gonja adds to a render error for each
// enclosing tag; the line is taken before they are dropped.
var structureRe = regexp.MustCompile(`Unable to execute controlStructure at line \d+: \w+\([^)]*\): `)

// renderError converts a gonja render failure of v; raised is the render's
// raise_exception call, if any. A call whose error did not reach the
// failure (a conditional branch not taken) is told apart by its message.
func renderError(v *variant, err error, raised *raise) *Error {
	msg := strings.TrimPrefix(err.Error(), "unable to execute template: ")
	e := &Error{Template: v.name, Line: errorLine(msg, v.tagLines), Msg: structureRe.ReplaceAllString(msg, "")}
	if raised != nil && raised.called && strings.Contains(msg, raised.msg) {
		e.Msg, e.Raised = raised.msg, true
	}
	return e
}
