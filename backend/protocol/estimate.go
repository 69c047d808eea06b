package protocol

import "unicode/utf8"

// EstimateTokens guesses a request's input tokens where no tokenizer for the
// model is at hand: about one token per four bytes of text (the rule of thumb
// of OpenAI's and Anthropic's tokenizers for English and code), plus a few
// tokens of framing per message, tool and image (images count as a flat
// 1,600, Anthropic's figure for a ~1.2-megapixel image). It is flagged as an
// estimate wherever it is reported.
func EstimateTokens(r Request) int {
	n := 3 // reply priming
	for _, b := range r.System {
		n += textTokens(b.Text)
	}
	for _, m := range r.Messages {
		n += 4
		for _, b := range m.Content {
			n += blockTokens(b)
		}
	}
	for _, t := range r.Tools {
		n += 8 + textTokens(t.Name) + textTokens(t.Description) + textTokens(string(t.InputSchema))
	}
	return n
}

func blockTokens(b Block) int {
	switch b.Type {
	case BlockImage:
		return 1600
	case BlockToolUse:
		return 6 + textTokens(b.Name) + textTokens(string(b.Input))
	case BlockToolResult:
		n := 6
		for _, c := range b.Content {
			n += blockTokens(c)
		}
		return n
	}
	return textTokens(b.Text)
}

func textTokens(s string) int {
	if s == "" {
		return 0
	}
	// Bytes, not runes: CJK text tokenises at about one token per
	// character, which is three bytes; ASCII at about four characters.
	n := (len(s) + 3) / 4
	if r := utf8.RuneCountInString(s); r < len(s) && n < r/2 {
		n = r / 2
	}
	return n
}
