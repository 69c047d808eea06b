package tokenizer

import (
	"strings"
	"unicode"

	"github.com/dlclark/regexp2"
	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites a section of text before pre-tokenization.
type normalizer interface {
	normalize(s string) string
}

// unicodeNorm is NFC, NFD, NFKC or NFKD.
type unicodeNorm struct{ form norm.Form }

func (n unicodeNorm) normalize(s string) string { return n.form.String(s) }

// lowercase maps the text to lower case.
type lowercase struct{}

func (lowercase) normalize(s string) string { return strings.ToLower(s) }

// prepend puts a string in front of non-empty text (Llama 2's and
// Mistral's "▁").
type prepend string

func (p prepend) normalize(s string) string {
	if s == "" {
		return s
	}
	return string(p) + s
}

// replace replaces each match of a pattern.
type replace struct {
	old string          // a literal pattern, or
	re  *regexp2.Regexp // a regular expression
	new string
}

func (r replace) normalize(s string) string { return r.apply(s) }

func (r replace) apply(s string) string {
	if r.re == nil {
		if r.old == "" {
			return s
		}
		return strings.ReplaceAll(s, r.old, r.new)
	}
	// The content is literal: ReplaceFunc, since Replace would expand "$1".
	out, err := r.re.ReplaceFunc(s, func(regexp2.Match) string { return r.new }, -1, -1)
	if err != nil {
		return s
	}
	return out
}

// strip removes white space at either end.
type strip struct{ left, right bool }

func (st strip) normalize(s string) string {
	if st.left {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
	}
	if st.right {
		s = strings.TrimRightFunc(s, unicode.IsSpace)
	}
	return s
}

// sequenceNorm applies normalizers in order.
type sequenceNorm []normalizer

func (q sequenceNorm) normalize(s string) string {
	for _, n := range q {
		s = n.normalize(s)
	}
	return s
}
