package chattemplate

import (
	"strconv"

	"github.com/nikolalohinski/gonja/v2/tokens"
)

// negativeIndexEdits works around gonja's negative subscripts, which miss
// the first element: `[1][-1]` is undefined, not 1, so Mistral's
// `message == user_messages[-1]` is false in a one-question conversation
// and its tools are never rendered. A subscript by a negative integer
// literal becomes a one-element slice, which gonja gets right, and its
// first element: `X[-1]` is `X[-1:][0]`, `X[-N]` is `X[-N:-(N-1)][0]`
// (the slice is empty, so the item undefined as in Jinja, when X is too
// short).
func negativeIndexEdits(tag []*tokens.Token) []edit {
	var edits []edit
	for i := 1; i+3 < len(tag); i++ {
		if tag[i].Type != tokens.LeftBracket || tag[i+1].Type != tokens.Subtraction ||
			tag[i+2].Type != tokens.Integer || tag[i+3].Type != tokens.RightBracket {
			continue
		}
		switch tag[i-1].Type { // a subscript follows a value; otherwise `[-1]` is a list
		case tokens.Name, tokens.String, tokens.RightBracket, tokens.RightParenthesis:
			n, err := strconv.Atoi(tag[i+2].Val)
			if err != nil || n == 0 {
				continue
			}
			stop := ""
			if n > 1 {
				stop = "-" + strconv.Itoa(n-1)
			}
			edits = append(edits, edit{pos: tag[i+3].Pos, del: 1, text: ":" + stop + "][0]"})
		}
	}
	return edits
}
