package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
)

// configJSON is the part of tokenizer_config.json the tokenizer uses.
type configJSON struct {
	AddedTokensDecoder      map[string]addedToken `json:"added_tokens_decoder"`
	BOSToken                tokenRef              `json:"bos_token"`
	EOSToken                tokenRef              `json:"eos_token"`
	UnkToken                tokenRef              `json:"unk_token"`
	PadToken                tokenRef              `json:"pad_token"`
	AdditionalSpecialTokens tokenRef              `json:"additional_special_tokens"`
	AddBOSToken             *bool                 `json:"add_bos_token"`
	AddEOSToken             *bool                 `json:"add_eos_token"`
}

// tokenRef names tokens in tokenizer_config.json: a string, an AddedToken
// object ({"content": ...}), null, or a list of these.
type tokenRef []string

func (r *tokenRef) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*r = nil
		return nil
	case b[0] == '[':
		var list []tokenRef
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		*r = nil
		for _, x := range list {
			*r = append(*r, x...)
		}
		return nil
	case b[0] == '{':
		var obj struct {
			Content string `json:"content"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return err
		}
		*r = tokenRef{obj.Content}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a token must be a string, an object with content, or a list: %s", b)
	}
	*r = tokenRef{s}
	return nil
}

func parseConfig(data []byte, file string) (*configJSON, error) {
	cfg := new(configJSON)
	if len(bytes.TrimSpace(data)) == 0 {
		return cfg, nil
	}
	if err := json.Unmarshal(data, cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	for key, tok := range cfg.AddedTokensDecoder {
		id, err := strconv.Atoi(key)
		if err != nil || id < 0 {
			return nil, loadError(file, "added_tokens_decoder: key %q is not a token id", key)
		}
		tok.ID = id
		cfg.AddedTokensDecoder[key] = tok
	}
	return cfg, nil
}

// addedTokens returns added_tokens_decoder's tokens by id.
func (cfg *configJSON) addedTokens() []*addedToken {
	out := make([]*addedToken, 0, len(cfg.AddedTokensDecoder))
	for _, tok := range cfg.AddedTokensDecoder {
		out = append(out, &tok)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// applyConfig takes BOS, EOS and the other special tokens from
// tokenizer_config.json. When it sets add_bos_token or add_eos_token, those
// decide (as transformers' update_post_processor does) whether Encode with
// addSpecial puts BOS in front and EOS at the end, in place of the
// post-processor's tokens on that side.
func (t *Tokenizer) applyConfig(cfg *configJSON, file string) error {
	bos, err := t.lookup(cfg.BOSToken, file, "bos_token")
	if err != nil {
		return err
	}
	if t.eos, err = t.lookup(cfg.EOSToken, file, "eos_token"); err != nil {
		return err
	}
	switch {
	case len(bos) > 0:
		t.bos = bos[0]
	case len(t.prefix) == 1:
		t.bos = t.prefix[0]
	}
	for _, ref := range []tokenRef{cfg.BOSToken, cfg.EOSToken, cfg.UnkToken, cfg.PadToken, cfg.AdditionalSpecialTokens} {
		for _, s := range ref {
			if id, ok := t.ids[s]; ok {
				t.special[id] = true
			}
		}
	}
	if cfg.AddBOSToken != nil {
		t.prefix = nil
		if *cfg.AddBOSToken && t.bos >= 0 {
			t.prefix = []int{t.bos}
		}
	}
	if cfg.AddEOSToken != nil {
		t.suffix = nil
		if *cfg.AddEOSToken && len(t.eos) > 0 {
			t.suffix = []int{t.eos[0]}
		}
	}
	return nil
}

// lookup finds the ids of the tokens a field names.
func (t *Tokenizer) lookup(ref tokenRef, file, field string) ([]int, error) {
	var ids []int
	for _, s := range ref {
		id, ok := t.ids[s]
		if !ok {
			return nil, loadError(file, "%s %q is not a token of the vocabulary", field, s)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
