// Package tokenizer reads a Hugging Face tokenizer (tokenizer.json, with
// tokenizer_config.json when present) and turns text into token ids and back,
// as the tokenizers library does, for the local engine's models.
//
// It implements BPE in its two forms that Llama-family models use:
// byte-level BPE (Llama 3, Qwen 2/2.5/3: a Split pre-tokenizer with a
// regular expression, then ByteLevel) and SentencePiece-style BPE with byte
// fallback (Llama 2, Mistral: "▁" for spaces, <0xNN> tokens for bytes the
// vocabulary lacks). Added and special tokens are cut out of the text
// before anything else, the normalizers, pre-tokenizers, post-processors and
// decoders that those files use are applied, and a StreamDecoder turns
// generated ids into text without ever splitting a UTF-8 character.
//
// Other tokenizer.json features (WordPiece or Unigram models, BERT
// normalizers, ...) are refused by Load with an error that wraps
// ErrUnsupported and names the file and field.
//
// The results are checked against the Rust tokenizers library (the one
// transformers uses) and Tokenizers.js on real tokenizer files and on small
// generated ones: see testdata/refgen. They agree with both on every
// encoding; decoding follows Tokenizers.js where the two differ (invalid
// UTF-8 spelled by byte-fallback tokens becomes one U+FFFD per ill-formed
// sequence, not one per byte).
//
// A Go string that is not valid UTF-8 is encoded byte for byte (byte-level
// tokens or <0xNN> fallback tokens), so nothing is lost; the references only
// ever see valid text.
package tokenizer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrUnsupported is wrapped by the errors of Load and FromJSON for files
// that use a feature this package does not implement.
var ErrUnsupported = errors.New("not supported")

// File names in a model directory.
const (
	TokenizerFile = "tokenizer.json"
	ConfigFile    = "tokenizer_config.json"
)

// Tokenizer encodes and decodes text for one model. It is immutable after
// Load and safe for concurrent use.
type Tokenizer struct {
	tokens  []string       // by id; "" where no token has the id
	ids     map[string]int // model vocabulary and added tokens
	special []bool         // by id
	added   []bool         // by id: an added token

	rawAdded  *addedMatcher // added tokens matched in the input; nil if none
	normAdded *addedMatcher // added tokens matched after normalization; nil if none
	norm      normalizer    // nil if none
	pre       preTokenizer  // nil if none
	model     *bpe

	prefix, suffix []int // what the post-processor puts around the text
	dec            decoding

	bos int // -1 if none
	eos []int
}

// Load reads tokenizer.json and, if present, tokenizer_config.json from a
// model directory.
func Load(dir string) (*Tokenizer, error) {
	tokPath := filepath.Join(dir, TokenizerFile)
	tokJSON, err := os.ReadFile(tokPath)
	if err != nil {
		return nil, fmt.Errorf("read tokenizer: %w", err)
	}
	cfgPath := filepath.Join(dir, ConfigFile)
	cfgJSON, err := os.ReadFile(cfgPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read tokenizer config: %w", err)
	}
	return build(tokJSON, cfgJSON, tokPath, cfgPath)
}

// FromJSON builds a Tokenizer from the contents of tokenizer.json and
// tokenizer_config.json (nil or empty when there is none).
func FromJSON(tokenizerJSON, tokenizerConfigJSON []byte) (*Tokenizer, error) {
	return build(tokenizerJSON, tokenizerConfigJSON, TokenizerFile, ConfigFile)
}

// Encode turns text into token ids. Added and special tokens written in the
// text (such as "<|im_start|>") become their ids, wherever they are: text
// that holds a request's strings (a rendered chat prompt) goes through
// EncodeSegments instead. With addSpecial the post-processor's tokens are
// added around the text (Llama's BOS).
func (t *Tokenizer) Encode(text string, addSpecial bool) []int {
	ids := make([]int, 0, len(text)/3+len(t.prefix)+len(t.suffix)+1)
	if addSpecial {
		ids = append(ids, t.prefix...)
	}
	e := encoder{t: t, ids: ids}
	if t.rawAdded == nil {
		e.section(text, 0)
	} else {
		t.rawAdded.split(text, e.section, e.token)
	}
	if addSpecial {
		e.ids = append(e.ids, t.suffix...)
	}
	return e.ids
}

// encoder holds the ids of one Encode call.
type encoder struct {
	t   *Tokenizer
	ids []int
	// allowed, when not nil, are the byte ranges of the input where added
	// tokens may be matched (EncodeSegments); nil allows the whole input.
	allowed []span
}

// section encodes text that holds no raw added token; lo is its offset in
// the input.
func (e *encoder) section(s string, lo int) {
	raw := s
	if e.t.norm != nil {
		s = e.t.norm.normalize(s)
	}
	if e.t.normAdded == nil {
		e.words(s, lo == 0)
		return
	}
	var within func(int) int
	if !e.allowsAll(raw, lo) {
		within = e.normWithin(raw, lo, s)
	}
	e.t.normAdded.splitWithin(s, within, func(piece string, plo int) {
		e.words(piece, lo == 0 && plo == 0)
	}, e.token)
}

func (e *encoder) token(tok *addedToken) { e.ids = append(e.ids, tok.ID) }

// words pre-tokenizes normalized text and encodes each word.
func (e *encoder) words(s string, first bool) {
	if e.t.pre == nil {
		e.ids = e.t.model.appendWord(e.ids, s)
		return
	}
	e.t.pre.split(s, first, e.word)
}

func (e *encoder) word(w string, _ bool) { e.ids = e.t.model.appendWord(e.ids, w) }

// TokenID returns the id of a token (of the vocabulary, or added), given as
// tokenizer.json writes it ("Ġthe", "▁the", "<|eot_id|>").
func (t *Tokenizer) TokenID(s string) (int, bool) {
	id, ok := t.ids[s]
	return id, ok
}

// Token returns the token with the given id as tokenizer.json writes it, or
// "" if no token has it.
func (t *Tokenizer) Token(id int) string {
	if id < 0 || id >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// VocabSize is one more than the highest token id, added tokens included:
// every id the tokenizer produces is below it. (A model's embedding table
// may be larger.)
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// BOS returns the beginning-of-sequence token: tokenizer_config.json's
// bos_token, else the one token the post-processor puts in front.
func (t *Tokenizer) BOS() (int, bool) { return t.bos, t.bos >= 0 }

// EOS returns the end-of-sequence tokens named by tokenizer_config.json
// (generation_config.json may name more).
func (t *Tokenizer) EOS() []int { return append([]int(nil), t.eos...) }

// IsSpecial reports whether id is a special token: an added token marked
// special, or one tokenizer_config.json names (bos, eos, unk, pad,
// additional_special_tokens). Decode can leave these out.
func (t *Tokenizer) IsSpecial(id int) bool {
	return id >= 0 && id < len(t.special) && t.special[id]
}
