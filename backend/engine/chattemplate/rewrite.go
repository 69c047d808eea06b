package chattemplate

import (
	"sort"
	"strings"

	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// rewrite also applies lstrip_blocks itself, as Jinja does: gonja strips
// the blanks before a block tag even when another tag precedes them on the
// same line (`{% endfor %} {% for %}` loses its space), so its own
// LeftStripBlocks stays off (see newConfig).
//
// gonja parses a conditional expression (`a if c else b`) only as the whole
// of a {{ }} or a {% set %} value, while real templates write it anywhere:
// `'x' + (a if c else b)`, call arguments, list items, chains of them. And
// gonja's `None` literal is the same nil as an undefined name. rewrite
// fixes both in the source before gonja parses it, using gonja's own lexer
// so strings and raw text are never touched:
//
//	X if C else Y  →  __mb_ifelse((X)|__mb_lazy,(C),(Y)|__mb_lazy)
//	None           →  none   (a global bound to the None of values.go)
//
// __mb_lazy turns an evaluation error into a value, and __mb_ifelse returns
// the chosen branch (failing only if that one failed), so the branch not
// taken may fail as it may in Jinja, which does not evaluate it. Every edit
// keeps the newlines where they were, so line numbers in errors still
// point into the original template.
const (
	ifElseName = "__mb_ifelse"
	lazyName   = "__mb_lazy"
)

// edit replaces src[pos:pos+del] with text. Edits at one position apply in
// order of rank.
type edit struct {
	pos, del int
	rank     int
	text     string
}

// rewrite returns src with the changes described above; a source gonja
// cannot lex is returned unchanged for gonja to report.
func rewrite(src string, cfg *config.Config) string {
	toks, ok := lexTokens(src, cfg)
	if !ok {
		return src
	}
	var edits []edit
	for start := 0; start < len(toks); start++ {
		if toks[start].Type != tokens.VariableBegin && toks[start].Type != tokens.BlockBegin {
			continue
		}
		end := start + 1
		for end < len(toks) && toks[end].Type != tokens.VariableEnd && toks[end].Type != tokens.BlockEnd {
			end++
		}
		if end == len(toks) {
			break
		}
		edits = append(edits, rewriteTag(toks[start:end+1])...)
		edits = append(edits, negativeIndexEdits(toks[start:end+1])...)
		start = end
	}
	return applyEdits(src, append(edits, lstripEdits(src, toks)...))
}

// lstripEdits deletes the spaces and tabs between the start of a line and
// a block or comment tag that opens without "+", when nothing else is on
// the line before it.
func lstripEdits(src string, toks []*tokens.Token) []edit {
	var edits []edit
	prevEnd := 0 // where the last tag ended
	for _, t := range toks {
		switch t.Type {
		case tokens.Data:
			continue
		case tokens.BlockBegin, tokens.CommentBegin:
			lineStart := strings.LastIndexByte(src[:t.Pos], '\n') + 1
			blank := strings.Trim(src[lineStart:t.Pos], " \t") == ""
			if lineStart >= prevEnd && lineStart < t.Pos && blank && !strings.HasSuffix(t.Val, "+") {
				edits = append(edits, edit{pos: lineStart, del: t.Pos - lineStart})
			}
		}
		prevEnd = t.Pos + len(t.Val)
	}
	return edits
}

// lexTokens lexes src as gonja will, whitespace tokens left out.
func lexTokens(src string, cfg *config.Config) ([]*tokens.Token, bool) {
	stream := tokens.LexAll(src, cfg)
	var toks []*tokens.Token
	for !stream.End() {
		toks = append(toks, stream.Next())
	}
	return toks, !stream.IsError()
}

// rewriteTag returns the edits for one tag, its delimiters included.
func rewriteTag(tag []*tokens.Token) []edit {
	edits := noneEdits(tag)
	body := tag[1 : len(tag)-1]
	if len(body) == 0 {
		return edits
	}
	if tag[0].Type == tokens.VariableBegin {
		return append(edits, conditionals(tag, 1, len(tag)-1, true, 0)...)
	}
	if body[0].Type != tokens.Name {
		return edits
	}
	// In {% for x in xs if c %} the top-level `if` filters the loop.
	topLevel := body[0].Val != "for"
	return append(edits, conditionals(tag, 2, len(tag)-1, topLevel, 0)...)
}

// noneEdits turns the `None` literal into the `none` name, except where it
// names the test in `x is None`.
func noneEdits(tag []*tokens.Token) []edit {
	var edits []edit
	for i, t := range tag {
		if t.Type != tokens.Name || t.Val != "None" {
			continue
		}
		prev := tag[i-1]
		if prev.Type == tokens.Is || (prev.Type == tokens.Not && tag[i-2].Type == tokens.Is) {
			continue
		}
		edits = append(edits, edit{pos: t.Pos, del: len(t.Val), text: "none"})
	}
	return edits
}

// conditionals returns the edits for the conditional expressions in
// toks[lo:hi], an expression list between delimiters. Bracketed groups are
// handled recursively; at this level the list is cut into segments at `,`
// `:` and `=`, and a segment with an `if` is a conditional expression
// (when topLevel allows one at this level).
func conditionals(toks []*tokens.Token, lo, hi int, topLevel bool, level int) []edit {
	var edits []edit
	segStart := lo
	for i := lo; i <= hi; i++ {
		if i == hi || isSeparator(toks[i]) {
			if topLevel {
				edits = append(edits, conditional(toks, segStart, i, level)...)
			}
			segStart = i + 1
			continue
		}
		if isOpen(toks[i]) {
			closing := matchingClose(toks, i, hi)
			edits = append(edits, conditionals(toks, i+1, closing, true, level+1)...)
			i = closing
		}
	}
	return edits
}

// conditional rewrites the segment toks[lo:hi] if it is `X if C [else Y]`;
// toks[hi] is the delimiter after it.
func conditional(toks []*tokens.Token, lo, hi int, level int) []edit {
	ifAt, elseAt := -1, -1
	for i := lo; i < hi; i++ {
		switch {
		case isOpen(toks[i]):
			i = matchingClose(toks, i, hi)
		case toks[i].Type == tokens.Name && toks[i].Val == "if" && ifAt < 0 && i > lo:
			ifAt = i
		case toks[i].Type == tokens.Name && toks[i].Val == "else" && ifAt >= 0 && elseAt < 0:
			elseAt = i
		}
	}
	condEnd := hi
	if elseAt >= 0 {
		condEnd = elseAt
	}
	if ifAt < 0 || condEnd == ifAt+1 || elseAt == hi-1 {
		return nil // not a conditional, or a malformed one the parser will report
	}
	edits := []edit{
		{pos: toks[lo].Pos, rank: level, text: ifElseName + "(("},
		{pos: toks[ifAt].Pos, del: len("if"), text: ")|" + lazyName + ",("},
	}
	endPos := toks[hi].Pos
	if elseAt < 0 {
		return append(edits, edit{pos: endPos, rank: -level, text: "))"})
	}
	edits = append(edits,
		edit{pos: toks[elseAt].Pos, del: len("else"), text: "),("},
		edit{pos: endPos, rank: -level, text: ")|" + lazyName + ")"})
	// Y may itself be a conditional: `a if b else c if d else e`.
	return append(edits, conditional(toks, elseAt+1, hi, level+1)...)
}

func isSeparator(t *tokens.Token) bool {
	return t.Type == tokens.Comma || t.Type == tokens.Colon || t.Type == tokens.Assign
}

func isOpen(t *tokens.Token) bool {
	return t.Type == tokens.LeftParenthesis || t.Type == tokens.LeftBracket || t.Type == tokens.LeftBrace
}

func isClose(t *tokens.Token) bool {
	return t.Type == tokens.RightParenthesis || t.Type == tokens.RightBracket || t.Type == tokens.RightBrace
}

// matchingClose returns the index of the bracket closing toks[open], or hi
// when it is unbalanced (the parser will say so).
func matchingClose(toks []*tokens.Token, open, hi int) int {
	depth := 0
	for i := open; i < hi; i++ {
		switch {
		case isOpen(toks[i]):
			depth++
		case isClose(toks[i]):
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return hi
}

func applyEdits(src string, edits []edit) string {
	if len(edits) == 0 {
		return src
	}
	sort.SliceStable(edits, func(i, j int) bool {
		if edits[i].pos != edits[j].pos {
			return edits[i].pos < edits[j].pos
		}
		return edits[i].rank < edits[j].rank
	})
	var b strings.Builder
	at := 0
	for _, e := range edits {
		b.WriteString(src[at:e.pos])
		b.WriteString(e.text)
		at = e.pos + e.del
	}
	b.WriteString(src[at:])
	return b.String()
}
