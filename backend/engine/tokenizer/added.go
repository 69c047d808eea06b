package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// addedToken is an entry of tokenizer.json's added_tokens (or of
// tokenizer_config.json's added_tokens_decoder): text that is cut out of the
// input whole, before normalization and pre-tokenization, and given its id.
type addedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"` // only where no word character touches it
	LStrip     bool   `json:"lstrip"`      // swallows the white space before it
	RStrip     bool   `json:"rstrip"`      // swallows the white space after it
	Normalized *bool  `json:"normalized"`  // matched in normalized text; default !Special
	Special    bool   `json:"special"`
}

func (a *addedToken) normalized() bool {
	if a.Normalized == nil {
		return !a.Special
	}
	return *a.Normalized
}

// addedMatcher finds added tokens in text, leftmost first and, among those
// that start at the same place, longest first (tokenizers' Aho-Corasick
// with MatchKind::LeftmostLongest).
type addedMatcher struct {
	nodes []trieNode
	first [256]bool // bytes that start some token
}

type trieNode struct {
	next  []trieEdge
	token *addedToken // a token ends here
}

type trieEdge struct {
	b  byte
	to int32
}

func newAddedMatcher(tokens []*addedToken, content func(*addedToken) string) *addedMatcher {
	m := &addedMatcher{nodes: make([]trieNode, 1)}
	for _, tok := range tokens {
		s := content(tok)
		if s == "" {
			continue
		}
		m.first[s[0]] = true
		n := int32(0)
		for i := 0; i < len(s); i++ {
			n = m.child(n, s[i])
		}
		if m.nodes[n].token == nil {
			m.nodes[n].token = tok
		}
	}
	return m
}

func (m *addedMatcher) child(n int32, b byte) int32 {
	for _, e := range m.nodes[n].next {
		if e.b == b {
			return e.to
		}
	}
	m.nodes = append(m.nodes, trieNode{})
	to := int32(len(m.nodes) - 1)
	m.nodes[n].next = append(m.nodes[n].next, trieEdge{b, to})
	return to
}

// longestAt returns the longest token that s[i:limit] starts with.
func (m *addedMatcher) longestAt(s string, i, limit int) (*addedToken, int) {
	var best *addedToken
	end, n := 0, int32(0)
	for j := i; j < limit; j++ {
		next := int32(-1)
		for _, e := range m.nodes[n].next {
			if e.b == s[j] {
				next = e.to
				break
			}
		}
		if next < 0 {
			break
		}
		n = next
		if tok := m.nodes[n].token; tok != nil {
			best, end = tok, j+1
		}
	}
	return best, end
}

// split cuts s at the added tokens it holds: text(s[lo:hi], lo) for each
// piece of text between them and token(t) for each token, in order. It
// honors lstrip/rstrip (the white space next to the token goes with it) and
// single_word (a token touching a word character is left in the text) as
// tokenizers' AddedVocabulary::find_matches does.
func (m *addedMatcher) split(s string, text func(piece string, lo int), token func(*addedToken)) {
	m.splitWithin(s, nil, text, token)
}

// splitWithin is split where a token may only be matched inside the text
// that within allows: within(i) is the end of the allowed run that starts
// at or covers byte i, or i when byte i is not allowed. A nil within allows
// all of s. A token must lie entirely inside one allowed run; the white
// space that lstrip/rstrip swallow next to it need not.
func (m *addedMatcher) splitWithin(s string, within func(i int) int, text func(piece string, lo int), token func(*addedToken)) {
	prev := 0 // end of the last token, stripped white space included
	for i := 0; i < len(s); i++ {
		if !m.first[s[i]] {
			continue
		}
		limit := len(s)
		if within != nil {
			if limit = within(i); limit <= i {
				continue
			}
		}
		tok, end := m.longestAt(s, i, limit)
		if tok == nil {
			continue
		}
		if tok.SingleWord && (wordBefore(s[:i]) || wordAfter(s[end:])) {
			i = end - 1
			continue
		}
		start := i
		if tok.LStrip {
			start = prev + len(trimRightSpace(s[prev:i]))
		}
		if tok.RStrip {
			end = len(s) - len(trimLeftSpace(s[end:]))
		}
		if start > prev {
			text(s[prev:start], prev)
		}
		token(tok)
		prev, i = end, end-1
	}
	if prev < len(s) {
		text(s[prev:], prev)
	}
}

func trimRightSpace(s string) string {
	for len(s) > 0 {
		r, n := utf8.DecodeLastRuneInString(s)
		if !unicode.IsSpace(r) {
			break
		}
		s = s[:len(s)-n]
	}
	return s
}

func trimLeftSpace(s string) string {
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if !unicode.IsSpace(r) {
			break
		}
		s = s[n:]
	}
	return s
}

// isWordChar is \w: letters, marks, decimal digits and connector
// punctuation.
func isWordChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.Is(unicode.Nd, r) ||
		unicode.Is(unicode.Pc, r)
}

func wordBefore(s string) bool {
	r, n := utf8.DecodeLastRuneInString(s)
	return n > 0 && isWordChar(r)
}

func wordAfter(s string) bool {
	r, n := utf8.DecodeRuneInString(s)
	return n > 0 && isWordChar(r)
}
