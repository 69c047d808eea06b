package testmodel

import (
	"strconv"
	"strings"
)

// The tokenizer's special tokens, after the 256 byte tokens and the
// merges. VocabSize is never below TokenizerSize.
const (
	BeginOfText   = 300 // <|begin_of_text|>
	EOT           = 301 // <|eot_id|>
	IMStart       = 302 // <|im_start|>
	IMEnd         = 303 // <|im_end|>
	TokenizerSize = 304
)

// SpecialTokens are the added tokens, in id order from BeginOfText.
var SpecialTokens = []string{"<|begin_of_text|>", "<|eot_id|>", "<|im_start|>", "<|im_end|>"}

// Merges are the BPE merges, highest priority first, in tokenizer.json's
// "a b" form over GPT-2's byte-to-unicode alphabet (Ġ is a space, Ċ a
// newline). Merge i makes token 256+i.
var Merges = []string{
	"Ġ t", "h e", "Ġ a", "i n", "Ġt he", "e r", "o n", "Ġ s", "r e", "Ġ w", "a t",
	"e n", "Ġ o", "o r", "i s", "Ġ c", "e s", "Ġ b", "Ġ f", "i t", "a n", "Ġ m",
	"Ġ p", "a l", "a r", "Ġ h", "e d", "Ġ d", "o u", "l l", "Ġ i", "in g", "Ġ in",
	"Ġ T", "Ġo f", "l e", "n d", "Ġa nd", "Ġ l", "Ġt o", "Ġ H", "Ġ is", "Ċ Ċ", "Ġ Ġ",
}

// ChatTemplate is a ChatML template: <|im_start|>role\ncontent<|im_end|>\n
// per message, after the BOS token when the tokenizer has one.
const ChatTemplate = "{%- if bos_token %}{{ bos_token }}{% endif %}" +
	"{%- for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endfor %}" +
	"{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}"

// Pre-tokenizer patterns of Llama 3 and Qwen 2 (digits one at a time).
const (
	llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	qwen2Pattern  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// ByteTokens returns the 256 byte tokens in id order, as GPT-2's
// bytes_to_unicode orders them: the printable bytes as themselves, then
// the others, in byte order, as U+0100 onwards.
func ByteTokens() []string {
	tokens := make([]string, 0, 256)
	others := 0
	for b := range 256 {
		if isPrintableByte(b) {
			tokens = append(tokens, string(rune(b)))
		} else {
			others++
		}
	}
	for i := range others {
		tokens = append(tokens, string(rune(256+i)))
	}
	return tokens
}

func isPrintableByte(b int) bool {
	return ('!' <= b && b <= '~') || (0xA1 <= b && b <= 0xAC) || (0xAE <= b && b <= 0xFF)
}

// vocab maps every token to its id.
func vocab() map[string]int {
	v := map[string]int{}
	for i, t := range ByteTokens() {
		v[t] = i
	}
	for i, m := range Merges {
		v[strings.Replace(m, " ", "", 1)] = 256 + i
	}
	return v
}

// tokenizerJSON is a Hugging Face tokenizer.json for a byte-level BPE
// shaped like Qwen 2's (NFC normalizer) or Llama 3's (none).
func tokenizerJSON(arch string) map[string]any {
	pattern, normalizer := llama3Pattern, any(nil)
	if arch == "qwen2" || arch == "qwen3" || arch == "qwen3_moe" {
		pattern, normalizer = qwen2Pattern, map[string]any{"type": "NFC"}
	}
	added := make([]map[string]any, len(SpecialTokens))
	for i, t := range SpecialTokens {
		added[i] = map[string]any{"id": BeginOfText + i, "content": t, "single_word": false, "lstrip": false,
			"rstrip": false, "normalized": false, "special": true}
	}
	byteLevel := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}
	return map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": added, "normalizer": normalizer,
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]string{"Regex": pattern}, "behavior": "Isolated", "invert": false},
			byteLevel,
		}},
		"post_processor": byteLevel,
		"decoder":        byteLevel,
		"model": map[string]any{
			"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil, "end_of_word_suffix": nil,
			"fuse_unk": false, "byte_fallback": false, "ignore_merges": false, "vocab": vocab(), "merges": Merges,
		},
	}
}

// tokenizerConfig is tokenizer_config.json: the special tokens, the chat
// template, and BOS only for the Llama-style architectures (as Qwen has
// none).
func tokenizerConfig(s Spec) map[string]any {
	decoder := map[string]any{}
	for i, t := range SpecialTokens {
		decoder[strconv.Itoa(BeginOfText+i)] = map[string]any{"content": t, "lstrip": false,
			"normalized": false, "rstrip": false, "single_word": false, "special": true}
	}
	var bos any
	if s.Architecture == "llama" || s.Architecture == "mistral" || s.Architecture == "mixtral" {
		bos = SpecialTokens[0]
	}
	return map[string]any{
		"add_bos_token": false, "add_eos_token": false, "added_tokens_decoder": decoder,
		"bos_token": bos, "eos_token": SpecialTokens[s.eos()-BeginOfText], "pad_token": SpecialTokens[EOT-BeginOfText],
		"chat_template": ChatTemplate, "clean_up_tokenization_spaces": false,
		"model_max_length": s.MaxPositionEmbeddings, "tokenizer_class": "PreTrainedTokenizerFast",
	}
}
