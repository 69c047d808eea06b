package chattemplate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tokenizerConfig is the part of tokenizer_config.json a chat template
// needs.
type tokenizerConfig struct {
	ChatTemplate json.RawMessage `json:"chat_template"`
	BOS          json.RawMessage `json:"bos_token"`
	EOS          json.RawMessage `json:"eos_token"`
	PAD          json.RawMessage `json:"pad_token"`
	UNK          json.RawMessage `json:"unk_token"`
}

// Load reads the chat template of the model in dir as transformers does:
// chat_template.jinja when present (with the named templates of
// additional_chat_templates/*.jinja, such as tool_use), else the chat_template of
// tokenizer_config.json (a string, or a list of {name, template} of which
// Render uses "default", or "tool_use" when tools are given), else the
// chat_template of a processor's chat_template.json. The special tokens
// (bos_token, eos_token, pad_token, unk_token, each a string or
// {content}) come from tokenizer_config.json. A directory without a
// template gives an error matching ErrNoTemplate.
func Load(dir string) (*Template, error) {
	cfgPath := filepath.Join(dir, "tokenizer_config.json")
	var cfg tokenizerConfig
	if err := readJSON(cfgPath, &cfg); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	specials, err := cfg.specialTokens(cfgPath)
	if err != nil {
		return nil, err
	}

	jinjaPath := filepath.Join(dir, "chat_template.jinja")
	sources, err := jinjaSources(dir, jinjaPath)
	if err != nil {
		return nil, err
	}
	if len(sources) > 0 {
		return parseVariants(jinjaPath, sources, specials)
	}

	if len(cfg.ChatTemplate) > 0 && string(cfg.ChatTemplate) != "null" {
		return parseField(cfgPath, cfg.ChatTemplate, specials)
	}

	procPath := filepath.Join(dir, "chat_template.json")
	var proc struct {
		ChatTemplate json.RawMessage `json:"chat_template"`
	}
	if err := readJSON(procPath, &proc); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if len(proc.ChatTemplate) > 0 && string(proc.ChatTemplate) != "null" {
		return parseField(procPath, proc.ChatTemplate, specials)
	}
	return nil, fmt.Errorf("%s: %w", dir, ErrNoTemplate)
}

// jinjaSources reads chat_template.jinja as "default" and the files of
// additional_chat_templates/ under their names; none when there is no
// chat_template.jinja.
func jinjaSources(dir, jinjaPath string) (map[string]string, error) {
	src, err := os.ReadFile(jinjaPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read chat template: %w", err)
	}
	sources := map[string]string{"default": string(src)}
	extra, err := filepath.Glob(filepath.Join(dir, "additional_chat_templates", "*.jinja"))
	if err != nil {
		return nil, err
	}
	for _, path := range extra {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read chat template: %w", err)
		}
		sources[strings.TrimSuffix(filepath.Base(path), ".jinja")] = string(b)
	}
	return sources, nil
}

// parseField parses a chat_template field: a string or a list of
// {name, template}.
func parseField(path string, field json.RawMessage, specials map[string]string) (*Template, error) {
	var src string
	if err := json.Unmarshal(field, &src); err == nil {
		return parseVariants(path, map[string]string{"default": src}, specials)
	}
	var named []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(field, &named); err != nil {
		return nil, fmt.Errorf("%s: chat_template is neither a string nor a list of {name, template}", path)
	}
	sources := map[string]string{}
	for _, n := range named {
		sources[n.Name] = n.Template
	}
	if len(sources) == 0 {
		return nil, fmt.Errorf("%s: chat_template is an empty list: %w", path, ErrNoTemplate)
	}
	return parseVariants(path, sources, specials)
}

func (c tokenizerConfig) specialTokens(path string) (map[string]string, error) {
	out := map[string]string{}
	for name, raw := range map[string]json.RawMessage{
		"bos_token": c.BOS, "eos_token": c.EOS, "pad_token": c.PAD, "unk_token": c.UNK,
	} {
		tok, err := specialToken(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, name, err)
		}
		out[name] = tok
	}
	return out, nil
}

// specialToken reads a token that is null, a string or an AddedToken
// object {content, ...}.
func specialToken(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var added struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(raw, &added); err != nil || added.Content == nil {
		return "", errors.New("neither a string nor {content}")
	}
	return *added.Content, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
