package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// fileJSON is tokenizer.json.
type fileJSON struct {
	AddedTokens   []addedToken `json:"added_tokens"`
	Normalizer    *component   `json:"normalizer"`
	PreTokenizer  *component   `json:"pre_tokenizer"`
	Model         modelJSON    `json:"model"`
	PostProcessor *component   `json:"post_processor"`
	Decoder       *component   `json:"decoder"`
}

// modelJSON is tokenizer.json's model.
type modelJSON struct {
	Type                    string          `json:"type"`
	Vocab                   map[string]int  `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
	UnkToken                *string         `json:"unk_token"`
	ByteFallback            bool            `json:"byte_fallback"`
	FuseUnk                 bool            `json:"fuse_unk"`
	IgnoreMerges            bool            `json:"ignore_merges"`
	Dropout                 *float64        `json:"dropout"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
}

// loadError is an error about one field of one file.
func loadError(file, format string, args ...any) error {
	return fmt.Errorf("%s: "+format, append([]any{file}, args...)...)
}

// build makes a Tokenizer from the two files' contents; the names are used
// in errors.
func build(tokJSON, cfgJSON []byte, tokFile, cfgFile string) (*Tokenizer, error) {
	var f fileJSON
	if err := json.Unmarshal(tokJSON, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", tokFile, err)
	}
	cfg, err := parseConfig(cfgJSON, cfgFile)
	if err != nil {
		return nil, err
	}
	t := &Tokenizer{bos: -1}
	added, err := t.buildVocab(&f, cfg, tokFile)
	if err != nil {
		return nil, err
	}
	c := components{file: tokFile}
	if t.norm, err = c.normalizer(f.Normalizer, "normalizer"); err != nil {
		return nil, err
	}
	t.buildAddedMatchers(added)
	if t.norm != nil {
		t.dec.normalized = make(map[int]string)
		for _, a := range added {
			if a.normalized() {
				t.dec.normalized[a.ID] = t.norm.normalize(a.Content)
			}
		}
	}
	byteLevel := false
	if t.pre, byteLevel, err = c.preTokenizer(f.PreTokenizer); err != nil {
		return nil, err
	}
	if t.model, err = t.buildModel(&f.Model, byteLevel, tokFile); err != nil {
		return nil, err
	}
	if t.prefix, t.suffix, err = c.postProcessor(f.PostProcessor, "post_processor"); err != nil {
		return nil, err
	}
	if err := c.decoder(f.Decoder, &t.dec); err != nil {
		return nil, err
	}
	t.dec.build(t.tokens, t.added)
	if err := t.applyConfig(cfg, cfgFile); err != nil {
		return nil, err
	}
	return t, nil
}

// buildVocab fills the id tables from the model vocabulary and the added
// tokens of both files, and returns the added tokens.
func (t *Tokenizer) buildVocab(f *fileJSON, cfg *configJSON, file string) ([]*addedToken, error) {
	if f.Model.Type != "BPE" {
		if f.Model.Type == "" && f.Model.Vocab == nil {
			return nil, loadError(file, "model is missing")
		}
		return nil, loadError(file, "model.type %q is %w", f.Model.Type, ErrUnsupported)
	}
	added := make([]*addedToken, 0, len(f.AddedTokens))
	seen := make(map[int]bool)
	for i := range f.AddedTokens {
		added = append(added, &f.AddedTokens[i])
		seen[f.AddedTokens[i].ID] = true
	}
	// tokenizer_config.json may name added tokens tokenizer.json lacks.
	for _, tok := range cfg.addedTokens() {
		if !seen[tok.ID] {
			added = append(added, tok)
			seen[tok.ID] = true
		}
	}
	size := 0
	for tok, id := range f.Model.Vocab {
		if id < 0 || tok == "" {
			return nil, loadError(file, "model.vocab: token %q has id %d", tok, id)
		}
		size = max(size, id+1)
	}
	for _, a := range added {
		if a.ID < 0 || a.Content == "" {
			return nil, loadError(file, "added_tokens: token %q has id %d", a.Content, a.ID)
		}
		size = max(size, a.ID+1)
	}
	if size > 1<<24 {
		return nil, loadError(file, "token ids up to %d: too many", size-1)
	}
	t.tokens = make([]string, size)
	t.special = make([]bool, size)
	t.added = make([]bool, size)
	t.ids = make(map[string]int, len(f.Model.Vocab)+len(added))
	for tok, id := range f.Model.Vocab {
		t.tokens[id] = tok
		t.ids[tok] = id
	}
	// By id, so that of two added tokens with the same content the first
	// one wins, whatever the files' order.
	sort.SliceStable(added, func(i, j int) bool { return added[i].ID < added[j].ID })
	isAdded := make(map[string]bool, len(added))
	for _, a := range added {
		t.tokens[a.ID] = a.Content
		t.added[a.ID] = true
		t.special[a.ID] = a.Special
		if !isAdded[a.Content] {
			t.ids[a.Content] = a.ID
			isAdded[a.Content] = true
		}
	}
	return added, nil
}

// buildAddedMatchers prepares the matching of added tokens: those marked
// normalized are looked for, normalized, in the normalized text; the others
// in the input.
func (t *Tokenizer) buildAddedMatchers(added []*addedToken) {
	var raw, norm []*addedToken
	for _, a := range added {
		if a.normalized() {
			norm = append(norm, a)
		} else {
			raw = append(raw, a)
		}
	}
	if len(raw) > 0 {
		t.rawAdded = newAddedMatcher(raw, func(a *addedToken) string { return a.Content })
	}
	if len(norm) > 0 {
		t.normAdded = newAddedMatcher(norm, func(a *addedToken) string {
			if t.norm == nil {
				return a.Content
			}
			return t.norm.normalize(a.Content)
		})
	}
}

// buildModel makes the BPE model.
func (t *Tokenizer) buildModel(m *modelJSON, byteLevel bool, file string) (*bpe, error) {
	if m.Dropout != nil && *m.Dropout > 0 {
		return nil, loadError(file, "model.dropout %v is %w", *m.Dropout, ErrUnsupported)
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" {
		return nil, loadError(file, "model.continuing_subword_prefix %q is %w", *m.ContinuingSubwordPrefix, ErrUnsupported)
	}
	if m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return nil, loadError(file, "model.end_of_word_suffix %q is %w", *m.EndOfWordSuffix, ErrUnsupported)
	}
	b := &bpe{
		byteMode:     byteLevel,
		byteFallback: m.ByteFallback,
		fuseUnk:      m.FuseUnk,
		ignoreMerges: m.IgnoreMerges,
		unk:          -1,
	}
	if m.UnkToken != nil {
		id, ok := m.Vocab[*m.UnkToken]
		if !ok {
			return nil, loadError(file, "model.unk_token %q is not in model.vocab", *m.UnkToken)
		}
		b.unk = int32(id)
	}
	for i := range b.fallbackIDs {
		b.fallbackIDs[i] = -1
		if id, ok := m.Vocab[fmt.Sprintf("<0x%02X>", i)]; ok {
			b.fallbackIDs[i] = int32(id)
		}
		b.byteIDs[i] = -1
		if id, ok := m.Vocab[string(byteToRune[i])]; ok {
			b.byteIDs[i] = int32(id)
		}
	}
	if !byteLevel {
		b.charIDs = make(map[rune]int32)
		for tok, id := range m.Vocab {
			if r, n := utf8.DecodeRuneInString(tok); n == len(tok) && r != utf8.RuneError {
				b.charIDs[r] = int32(id)
			}
		}
	}
	if b.ignoreMerges {
		b.words = make(map[string]int32, len(m.Vocab))
		for tok, id := range m.Vocab {
			w := tok
			if byteLevel {
				raw, ok := byteLevelDecode(tok)
				if !ok {
					continue
				}
				w = string(raw)
			}
			b.words[w] = int32(id)
		}
	}
	merges, err := parseMerges(m.Merges, file)
	if err != nil {
		return nil, err
	}
	b.merges = make(map[uint64]uint64, len(merges))
	var buf []byte
	for rank, pair := range merges {
		a, okA := m.Vocab[pair[0]]
		c, okC := m.Vocab[pair[1]]
		buf = append(append(buf[:0], pair[0]...), pair[1]...)
		merged, okM := m.Vocab[string(buf)]
		if !okA || !okC || !okM {
			return nil, loadError(file, "model.merges[%d] %q: token not in model.vocab", rank, pair[0]+" "+pair[1])
		}
		b.merges[pairKey(int32(a), int32(c))] = uint64(rank)<<32 | uint64(uint32(merged))
	}
	return b, nil
}

// parseMerges reads model.merges in either format: "a b" strings or
// ["a", "b"] pairs.
func parseMerges(raw json.RawMessage, file string) ([][2]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var pairs [][2]string
	if inner := bytes.TrimSpace(bytes.TrimPrefix(raw, []byte("["))); !bytes.HasPrefix(inner, []byte(`"`)) {
		if err := json.Unmarshal(raw, &pairs); err != nil {
			return nil, loadError(file, "model.merges is neither a list of strings nor a list of pairs: %v", err)
		}
		return pairs, nil
	}
	var lines []string
	if err := json.Unmarshal(raw, &lines); err != nil {
		return nil, loadError(file, "model.merges: %v", err)
	}
	pairs = make([][2]string, len(lines))
	for i, l := range lines {
		a, b, ok := strings.Cut(l, " ")
		if !ok || strings.Contains(b, " ") {
			return nil, loadError(file, "model.merges[%d] %q is not two tokens separated by a space", i, l)
		}
		pairs[i] = [2]string{a, b}
	}
	return pairs, nil
}
