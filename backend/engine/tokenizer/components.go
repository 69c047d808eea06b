package tokenizer

import (
	"encoding/json"
	"fmt"

	"golang.org/x/text/unicode/norm"
)

// component is a normalizer, pre-tokenizer, post-processor or decoder of
// tokenizer.json: the fields of all the types this package implements.
type component struct {
	Type string `json:"type"`

	Normalizers   []*component `json:"normalizers"`   // Sequence
	Pretokenizers []*component `json:"pretokenizers"` // Sequence
	Processors    []*component `json:"processors"`    // Sequence
	Decoders      []*component `json:"decoders"`      // Sequence

	Pattern  *pattern `json:"pattern"`  // Replace, Split
	Content  string   `json:"content"`  // Replace, Strip (decoder)
	Behavior string   `json:"behavior"` // Split
	Invert   bool     `json:"invert"`   // Split
	Prepend  string   `json:"prepend"`  // Prepend

	StripLeft  bool `json:"strip_left"`  // Strip (normalizer)
	StripRight bool `json:"strip_right"` // Strip (normalizer)
	Start      int  `json:"start"`       // Strip (decoder)
	Stop       int  `json:"stop"`        // Strip (decoder)

	AddPrefixSpace *bool   `json:"add_prefix_space"` // ByteLevel, Metaspace
	UseRegex       *bool   `json:"use_regex"`        // ByteLevel
	Replacement    *string `json:"replacement"`      // Metaspace
	PrependScheme  string  `json:"prepend_scheme"`   // Metaspace
	Split          *bool   `json:"split"`            // Metaspace

	Single        []templatePiece            `json:"single"`         // TemplateProcessing
	SpecialTokens map[string]templateSpecial `json:"special_tokens"` // TemplateProcessing
	Sep           []json.RawMessage          `json:"sep"`            // BertProcessing, RobertaProcessing
	Cls           []json.RawMessage          `json:"cls"`            // BertProcessing, RobertaProcessing
}

// pattern is a Split or Replace pattern: a literal string or a regular
// expression.
type pattern struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

type templatePiece struct {
	SpecialToken *struct {
		ID string `json:"id"`
	} `json:"SpecialToken"`
	Sequence *struct {
		ID string `json:"id"`
	} `json:"Sequence"`
}

type templateSpecial struct {
	IDs []int `json:"ids"`
}

// components builds the parts of a Tokenizer from tokenizer.json, naming
// file and field in errors.
type components struct {
	file string
}

func (c components) unsupported(path string, comp *component) error {
	return loadError(c.file, "%s.type %q is %w", path, comp.Type, ErrUnsupported)
}

func (c components) normalizer(comp *component, path string) (normalizer, error) {
	if comp == nil {
		return nil, nil
	}
	switch comp.Type {
	case "NFC":
		return unicodeNorm{norm.NFC}, nil
	case "NFD":
		return unicodeNorm{norm.NFD}, nil
	case "NFKC":
		return unicodeNorm{norm.NFKC}, nil
	case "NFKD":
		return unicodeNorm{norm.NFKD}, nil
	case "Lowercase":
		return lowercase{}, nil
	case "Prepend":
		return prepend(comp.Prepend), nil
	case "Strip":
		return strip{comp.StripLeft, comp.StripRight}, nil
	case "Replace":
		return c.replace(comp, path)
	case "Sequence":
		var seq sequenceNorm
		for i, sub := range comp.Normalizers {
			n, err := c.normalizer(sub, fmt.Sprintf("%s.normalizers[%d]", path, i))
			if err != nil {
				return nil, err
			}
			if n != nil {
				seq = append(seq, n)
			}
		}
		return seq, nil
	}
	return nil, c.unsupported(path, comp)
}

func (c components) replace(comp *component, path string) (replace, error) {
	switch p := comp.Pattern; {
	case p != nil && p.String != nil:
		return replace{old: *p.String, new: comp.Content}, nil
	case p != nil && p.Regex != nil:
		re, err := compileRegex(*p.Regex)
		if err != nil {
			return replace{}, loadError(c.file, "%s.pattern: %v", path, err)
		}
		return replace{re: re.re, new: comp.Content}, nil
	}
	return replace{}, loadError(c.file, "%s.pattern is missing", path)
}

// preTokenizer builds the pre-tokenizer; byteLevel reports a ByteLevel
// step, which must be the last.
func (c components) preTokenizer(comp *component) (pre preTokenizer, byteLevel bool, err error) {
	if comp == nil {
		return nil, false, nil
	}
	list, path := []*component{comp}, "pre_tokenizer"
	if comp.Type == "Sequence" {
		list, path = comp.Pretokenizers, "pre_tokenizer.pretokenizers"
	}
	var seq sequencePre
	for i, sub := range list {
		p := path
		if comp.Type == "Sequence" {
			p = fmt.Sprintf("%s[%d]", path, i)
		}
		if byteLevel {
			return nil, false, loadError(c.file, "%s: a pre-tokenizer after ByteLevel is %w", p, ErrUnsupported)
		}
		step, isByteLevel, err := c.preStep(sub, p)
		if err != nil {
			return nil, false, err
		}
		byteLevel = isByteLevel
		if step != nil {
			seq = append(seq, step)
		}
	}
	switch len(seq) {
	case 0:
		return nil, byteLevel, nil
	case 1:
		return seq[0], byteLevel, nil
	}
	return seq, byteLevel, nil
}

// preStep builds one pre-tokenizer; nil for one that changes nothing.
func (c components) preStep(comp *component, path string) (preTokenizer, bool, error) {
	switch comp.Type {
	case "Split":
		p, err := c.split(comp, path)
		return p, false, err
	case "ByteLevel":
		p := byteLevelPre{addPrefixSpace: comp.AddPrefixSpace == nil || *comp.AddPrefixSpace}
		if comp.UseRegex == nil || *comp.UseRegex {
			m, err := compileRegex(gpt2Pattern)
			if err != nil {
				return nil, false, err
			}
			p.gpt2 = &splitPre{m: m, behavior: isolated}
		}
		if !p.addPrefixSpace && p.gpt2 == nil {
			return nil, true, nil
		}
		return p, true, nil
	case "Metaspace":
		return c.metaspace(comp, path)
	}
	return nil, false, c.unsupported(path, comp)
}

func (c components) split(comp *component, path string) (*splitPre, error) {
	behavior, ok := splitBehaviors[comp.Behavior]
	if !ok {
		return nil, loadError(c.file, "%s.behavior %q is %w", path, comp.Behavior, ErrUnsupported)
	}
	p := &splitPre{behavior: behavior, invert: comp.Invert}
	switch pat := comp.Pattern; {
	case pat != nil && pat.String != nil:
		p.m = literal(*pat.String)
	case pat != nil && pat.Regex != nil && *pat.Regex == llama3Pattern:
		p.m = scanner{maxDigits: 3}
	case pat != nil && pat.Regex != nil && *pat.Regex == qwen2Pattern:
		p.m = scanner{maxDigits: 1}
	case pat != nil && pat.Regex != nil:
		m, err := compileRegex(*pat.Regex)
		if err != nil {
			return nil, loadError(c.file, "%s.pattern: %v", path, err)
		}
		p.m = m
	default:
		return nil, loadError(c.file, "%s.pattern is missing", path)
	}
	return p, nil
}

func (c components) metaspace(comp *component, path string) (preTokenizer, bool, error) {
	p := metaspacePre{replacement: "▁"}
	if comp.Replacement != nil && *comp.Replacement != "" {
		p.replacement = *comp.Replacement
	}
	scheme, err := c.prependScheme(comp, path)
	if err != nil {
		return nil, false, err
	}
	p.scheme = scheme
	if comp.Split == nil || *comp.Split {
		p.cut = &splitPre{m: literal(p.replacement), behavior: mergedWithNext}
	}
	return p, false, nil
}

func (c components) prependScheme(comp *component, path string) (prependScheme, error) {
	if comp.AddPrefixSpace != nil && !*comp.AddPrefixSpace {
		return prependNever, nil
	}
	switch comp.PrependScheme {
	case "", "always":
		return prependAlways, nil
	case "first":
		return prependFirst, nil
	case "never":
		return prependNever, nil
	}
	return 0, loadError(c.file, "%s.prepend_scheme %q is %w", path, comp.PrependScheme, ErrUnsupported)
}

// postProcessor returns the ids put before and after the text.
func (c components) postProcessor(comp *component, path string) (prefix, suffix []int, err error) {
	if comp == nil {
		return nil, nil, nil
	}
	switch comp.Type {
	case "ByteLevel":
		return nil, nil, nil
	case "TemplateProcessing":
		return c.template(comp, path)
	case "BertProcessing", "RobertaProcessing":
		cls, errC := c.pairID(comp.Cls, path+".cls")
		sep, errS := c.pairID(comp.Sep, path+".sep")
		if errC != nil || errS != nil {
			return nil, nil, firstErr(errC, errS)
		}
		return []int{cls}, []int{sep}, nil
	case "Sequence":
		for i, sub := range comp.Processors {
			pre, suf, err := c.postProcessor(sub, fmt.Sprintf("%s.processors[%d]", path, i))
			if err != nil {
				return nil, nil, err
			}
			prefix = append(pre, prefix...)
			suffix = append(suffix, suf...)
		}
		return prefix, suffix, nil
	}
	return nil, nil, c.unsupported(path, comp)
}

func (c components) template(comp *component, path string) (prefix, suffix []int, err error) {
	seen := false
	for i, item := range comp.Single {
		switch {
		case item.Sequence != nil:
			if item.Sequence.ID != "A" || seen {
				return nil, nil, loadError(c.file, "%s.single[%d]: sequence %q is %w", path, i, item.Sequence.ID, ErrUnsupported)
			}
			seen = true
		case item.SpecialToken != nil:
			sp, ok := comp.SpecialTokens[item.SpecialToken.ID]
			if !ok {
				return nil, nil, loadError(c.file, "%s.single[%d]: special token %q is not in special_tokens", path, i, item.SpecialToken.ID)
			}
			if seen {
				suffix = append(suffix, sp.IDs...)
			} else {
				prefix = append(prefix, sp.IDs...)
			}
		}
	}
	if !seen {
		return nil, nil, loadError(c.file, "%s.single has no sequence", path)
	}
	return prefix, suffix, nil
}

// pairID reads the id of a ["token", id] pair.
func (c components) pairID(raw []json.RawMessage, path string) (int, error) {
	var id int
	if len(raw) != 2 || json.Unmarshal(raw[1], &id) != nil {
		return 0, loadError(c.file, "%s is not a [token, id] pair", path)
	}
	return id, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// decoder compiles the decoder chain into d.
func (c components) decoder(comp *component, d *decoding) error {
	if comp == nil {
		// tokenizers joins the tokens with spaces when there is no decoder.
		d.steps, d.firstDiffers = []decodeStep{{kind: "Join"}}, true
		return nil
	}
	list, path := []*component{comp}, "decoder"
	if comp.Type == "Sequence" {
		list, path = comp.Decoders, "decoder.decoders"
	}
	fused := false
	for i, sub := range list {
		p := path
		if comp.Type == "Sequence" {
			p = fmt.Sprintf("%s[%d]", path, i)
		}
		if err := c.decodeStep(sub, p, d, &fused); err != nil {
			return err
		}
	}
	return nil
}

func (c components) decodeStep(comp *component, path string, d *decoding, fused *bool) error {
	// After a Fuse the decoders see the whole text as one token: only Strip
	// and Replace act the same as they would per token.
	if *fused && comp.Type != "Strip" && comp.Type != "Replace" && comp.Type != "Fuse" {
		return loadError(c.file, "%s: %s after Fuse is %w", path, comp.Type, ErrUnsupported)
	}
	switch comp.Type {
	case "ByteLevel", "ByteFallback":
		d.steps = append(d.steps, decodeStep{kind: comp.Type})
	case "Fuse":
		*fused = true
	case "Sequence":
		for i, sub := range comp.Decoders {
			if err := c.decodeStep(sub, fmt.Sprintf("%s.decoders[%d]", path, i), d, fused); err != nil {
				return err
			}
		}
	case "Replace":
		r, err := c.replace(comp, path)
		if err != nil {
			return err
		}
		d.steps = append(d.steps, decodeStep{kind: "Replace", replace: r})
	case "Strip":
		st := stripEnds{content: comp.Content, start: comp.Start, stop: comp.Stop}
		if !*fused {
			d.steps = append(d.steps, decodeStep{kind: "Strip", strip: st})
		} else if d.global.content != "" {
			return loadError(c.file, "%s: a second Strip after Fuse is %w", path, ErrUnsupported)
		} else {
			d.global = st
		}
	case "Metaspace":
		repl := "▁"
		if comp.Replacement != nil && *comp.Replacement != "" {
			repl = *comp.Replacement
		}
		scheme, err := c.prependScheme(comp, path)
		if err != nil {
			return err
		}
		st := decodeStep{kind: "Metaspace", replace: replace{old: repl, new: " "}, dropLead: scheme != prependNever}
		d.steps = append(d.steps, st)
		d.firstDiffers = d.firstDiffers || st.dropLead
	default:
		return c.unsupported(path, comp)
	}
	return nil
}
