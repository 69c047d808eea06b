package chattemplate

import (
	"slices"
	"strings"
)

// Text is text the engine writes into a turn itself: its own markers
// around strings that come from the request. Phi-4-mini's template renders
// an assistant turn's content only, so the engine writes the turn's tool
// calls there as the model writes them, <|tool_call|>[...]<|/tool_call|>:
// the markers are the engine's text and must reach the model as the
// special tokens it produced, the calls' JSON is the request's and must
// not.
//
// A marker can only be a string constant of the caller's source (see
// constant), so no string that arrives at run time, and no request text,
// can become trusted through Text. The zero value is empty and ready; a
// Text is a value: Marker and Plain return a new one and never change the
// one they are called on.
type Text struct {
	parts []textPart
}

type textPart struct {
	s      string
	marker bool
}

// constant is the type of Marker's argument. It is unexported, so the only
// values a caller outside this package can pass are untyped string
// constants (a literal, a const): a string variable does not convert to it
// without naming the type. This is how the trusted text stays the
// engine's own source code (the pattern of Go's safehtml
// stringConstant).
type constant string

// Marker returns t followed by s, which the template treats as its own
// text: a tokenizer may read it as special tokens.
func (t Text) Marker(s constant) Text {
	return t.with(textPart{string(s), true})
}

// Plain returns t followed by s, which reaches the model as the characters
// it is, as every string of the request does.
func (t Text) Plain(s string) Text {
	return t.with(textPart{s, false})
}

func (t Text) with(p textPart) Text {
	if p.s == "" {
		return t
	}
	return Text{parts: append(slices.Clip(t.parts), p)}
}

// String is the text, markers and plain parts joined.
func (t Text) String() string {
	var b strings.Builder
	for _, p := range t.parts {
		b.WriteString(p.s)
	}
	return b.String()
}

// after returns prefix followed by t, in new memory, with the runs of its
// provenance: prefix (request text) and the plain parts untrusted, the
// markers trusted. runs is nil when t is empty (the result is prefix).
func (t Text) after(prefix string) (string, []run) {
	if len(t.parts) == 0 {
		return prefix, nil
	}
	var b strings.Builder
	var rs []run
	b.WriteString(prefix)
	if prefix != "" {
		rs = appendRun(rs, b.Len(), false)
	}
	for _, p := range t.parts {
		b.WriteString(p.s)
		rs = appendRun(rs, b.Len(), p.marker)
	}
	return b.String(), rs
}
