package tokenizer

import (
	"bytes"
	"strconv"
	"strings"
)

// decodeStep is one decoder of tokenizer.json's decoder chain, applied to
// each token on its own: ByteLevel, Replace, ByteFallback, Metaspace, a
// Strip that comes before any Fuse, or Join (no decoder: spaces between
// tokens).
type decodeStep struct {
	kind     string
	replace  replace // Replace; Metaspace (the replacement becomes a space)
	dropLead bool    // Metaspace: the first token loses its replacement characters
	strip    stripEnds
}

// stripEnds removes up to start copies of content from the start of a string
// and up to stop from its end (tokenizers' Strip decoder).
type stripEnds struct {
	content     string
	start, stop int
}

func (st stripEnds) apply(b []byte) []byte {
	if st.content == "" {
		return b
	}
	for i := 0; i < st.start && bytes.HasPrefix(b, []byte(st.content)); i++ {
		b = b[len(st.content):]
	}
	for i := 0; i < st.stop && bytes.HasSuffix(b, []byte(st.content)); i++ {
		b = b[:len(b)-len(st.content)]
	}
	return b
}

// decoding is the compiled decoder: each token's bytes, computed once, and
// what is done to the whole text. Every decoder but Strip acts on each token
// alone in tokenizers too, so the chain runs per token, in order; Fuse only
// decides whether a Strip applies per token or to the whole text. (A
// Replace after a Fuse would see the whole text in tokenizers and each token
// here; no real file has one.) Invalid UTF-8 is replaced at the end, over
// the whole text.
type decoding struct {
	data []byte   // the bytes of all tokens, one after the other
	offs []uint32 // token id's bytes are data[offs[id]:offs[id+1]]

	// normalized holds what the decoder sees of added tokens marked
	// normalized: their content normalized, as tokenizers passes it, so
	// that the decoder undoes the normalization (Llama 2's "▁").
	normalized map[int]string

	// firstDiffers is set when the first token decodes differently
	// (Metaspace); steps are kept to compute it.
	firstDiffers bool
	steps        []decodeStep

	// global is a Strip that comes after a Fuse: it applies to the whole
	// text (SentencePiece's leading space).
	global stripEnds
}

// build computes the bytes of all tokens.
func (d *decoding) build(tokens []string, added []bool) {
	d.offs = make([]uint32, len(tokens)+1)
	for id, tok := range tokens {
		if tok != "" {
			d.data = append(d.data, d.apply(d.token(tokens, id), added[id], false)...)
		}
		d.offs[id+1] = uint32(len(d.data))
	}
}

// token is the string the decoder chain is given for id.
func (d *decoding) token(tokens []string, id int) string {
	if s, ok := d.normalized[id]; ok {
		return s
	}
	return tokens[id]
}

// apply runs the per-token steps on one token.
func (d *decoding) apply(tok string, added, first bool) []byte {
	b := []byte(tok)
	for _, st := range d.steps {
		switch st.kind {
		case "ByteLevel":
			// Added tokens are text already (as in Tokenizers.js); a token
			// with a character outside the alphabet stays as it is (as in
			// tokenizers).
			if !added {
				if raw, ok := byteLevelDecode(string(b)); ok {
					b = raw
				}
			}
		case "ByteFallback":
			if c, ok := parseByteToken(string(b)); ok {
				b = []byte{c}
			}
		case "Metaspace":
			if first && st.dropLead {
				b = bytes.ReplaceAll(b, []byte(st.replace.old), nil)
			} else {
				b = []byte(st.replace.apply(string(b)))
			}
		case "Replace":
			b = []byte(st.replace.apply(string(b)))
		case "Strip":
			b = st.strip.apply(b)
		case "Join": // no decoder: tokens are joined with spaces
			if !first {
				b = append([]byte(" "), b...)
			}
		}
	}
	return b
}

// parseByteToken reads a byte-fallback token, "<0xNN>".
func parseByteToken(tok string) (byte, bool) {
	if len(tok) != 6 || !strings.HasPrefix(tok, "<0x") || tok[5] != '>' {
		return 0, false
	}
	v, err := strconv.ParseUint(tok[3:5], 16, 8)
	return byte(v), err == nil
}

// piece returns the bytes of token id, or ok false when the token is to be
// left out (unknown id, or special and skipped).
func (t *Tokenizer) piece(id int, first, skipSpecial bool) ([]byte, bool) {
	if id < 0 || id >= len(t.tokens) || t.tokens[id] == "" {
		return nil, false
	}
	if skipSpecial && t.special[id] {
		return nil, false
	}
	if first && t.dec.firstDiffers {
		return t.dec.apply(t.dec.token(t.tokens, id), t.added[id], true), true
	}
	return t.dec.data[t.dec.offs[id]:t.dec.offs[id+1]:t.dec.offs[id+1]], true
}

// Decode turns ids into text, as tokenizers' decode does with the
// tokenizer.json decoder: special tokens are left out when skipSpecial is
// set, ids that name no token are ignored, and bytes that do not form
// valid UTF-8 become U+FFFD. transformers' clean_up_tokenization_spaces is
// not applied (it is lossy).
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) string {
	var raw []byte
	first := true
	for _, id := range ids {
		if p, ok := t.piece(id, first, skipSpecial); ok {
			raw = append(raw, p...)
			first = false
		}
	}
	out, _ := appendValidUTF8(nil, t.dec.global.apply(raw), true)
	return string(out)
}

// TokenBytes returns the bytes that token id stands for in the middle of a
// text (a byte-level or byte-fallback token may be part of a character), or
// nil for an unknown id.
func (t *Tokenizer) TokenBytes(id int) []byte {
	if p, ok := t.piece(id, false, false); ok {
		return bytes.Clone(p)
	}
	return nil
}

// StreamDecoder turns ids into text one at a time, as a model generates
// them. Add returns only whole UTF-8 characters, holding back the bytes of
// a character cut across tokens until it is complete; SentencePiece's
// leading space is removed only at the very start. Joined, the strings that
// Add and Flush return are Decode of all the ids.
//
// A StreamDecoder is not safe for concurrent use; make one per stream.
type StreamDecoder struct {
	t           *Tokenizer
	skipSpecial bool
	started     bool   // a token has been decoded since the start
	lead        int    // copies of the global strip still to remove in front
	pending     []byte // bytes not yet returned
	buf         []byte
}

// StreamOption configures a StreamDecoder.
type StreamOption func(*StreamDecoder)

// SkipSpecial leaves special tokens (EOS, <|im_end|>, ...) out of the text.
func SkipSpecial() StreamOption {
	return func(d *StreamDecoder) { d.skipSpecial = true }
}

// NewDecoder returns a StreamDecoder for the tokenizer. By default special
// tokens are decoded like any other, as Decode(ids, false) does.
func (t *Tokenizer) NewDecoder(opts ...StreamOption) *StreamDecoder {
	d := &StreamDecoder{t: t, lead: t.dec.global.start}
	for _, o := range opts {
		o(d)
	}
	return d
}

// Add decodes one more id and returns the text that is now complete,
// possibly "".
func (d *StreamDecoder) Add(id int) string {
	p, ok := d.t.piece(id, !d.started, d.skipSpecial)
	if !ok {
		return ""
	}
	d.started = true
	d.pending = append(d.pending, p...)
	return d.emit(false)
}

// Flush returns what is still held back (an incomplete character becomes
// U+FFFD) and resets the decoder for a new stream.
func (d *StreamDecoder) Flush() string {
	s := d.emit(true)
	d.started, d.lead, d.pending = false, d.t.dec.global.start, d.pending[:0]
	return s
}

func (d *StreamDecoder) emit(final bool) string {
	g := d.t.dec.global
	content := []byte(g.content)
	for d.lead > 0 && len(d.pending) > 0 && len(content) > 0 {
		if bytes.HasPrefix(d.pending, content) {
			d.pending = d.pending[len(content):]
			d.lead--
			continue
		}
		if !final && bytes.HasPrefix(content, d.pending) {
			return "" // may yet become the content
		}
		d.lead = 0
	}
	end := len(d.pending)
	for i := 0; i < g.stop && len(content) > 0 && bytes.HasSuffix(d.pending[:end], content); i++ {
		end -= len(content) // held back: stripped if nothing follows
	}
	if final {
		d.pending = d.pending[:end]
	}
	out, n := appendValidUTF8(d.buf[:0], d.pending[:end], final)
	d.buf = out
	d.pending = append(d.pending[:0], d.pending[n:]...)
	return string(out)
}
