package openai

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/modelbar/modelbar/backend/protocol"
)

// rawPart is one content part, its fields kept raw.
type rawPart struct {
	Type     json.RawMessage `json:"type"`
	Text     json.RawMessage `json:"text"`
	ImageURL json.RawMessage `json:"image_url"`
	Refusal  json.RawMessage `json:"refusal"`
}

// contentParts decodes a required content field: a string (returned as the
// one text) or a non-empty array of parts.
func contentParts(p string, raw json.RawMessage) (text *string, parts []json.RawMessage, err error) {
	if protocol.IsNull(raw) {
		return nil, nil, fieldError(p, "is required")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return &s, nil, nil
	}
	if json.Unmarshal(raw, &parts) != nil {
		return nil, nil, fieldError(p, "must be a string or an array of content parts")
	}
	if len(parts) == 0 {
		return nil, nil, fieldError(p, "must not be an empty array")
	}
	return nil, parts, nil
}

// part decodes one content part and its type.
func part(p string, raw json.RawMessage) (rawPart, string, error) {
	var pt rawPart
	if protocol.IsNull(raw) {
		return pt, "", fieldError(p, "must be an object")
	}
	if err := object(p, raw, &pt); err != nil {
		return pt, "", err
	}
	typ, err := reqString(p+".type", pt.Type)
	return pt, typ, err
}

// textContent decodes content that may only hold text: a string, or parts
// of the given types ("text", and "refusal" for assistant messages). It
// returns one text per part.
func textContent(p string, raw json.RawMessage, types ...string) ([]string, error) {
	s, parts, err := contentParts(p, raw)
	if err != nil || s != nil {
		return []string{deref(s)}, err
	}
	texts := make([]string, 0, len(parts))
	for j, r := range parts {
		pp := fmt.Sprintf("%s[%d]", p, j)
		pt, typ, err := part(pp, r)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(types, typ) {
			return nil, fieldError(pp+".type", "must be %s in this message, got %q", strings.Join(types, " or "), typ)
		}
		field := pt.Text
		if typ == "refusal" {
			field = pt.Refusal
		}
		text, err := partString(pp+"."+typ, field)
		if err != nil {
			return nil, err
		}
		texts = append(texts, text)
	}
	return texts, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// partString decodes a required string that may be empty.
func partString(p string, raw json.RawMessage) (string, error) {
	if protocol.IsNull(raw) {
		return "", fieldError(p, "is required")
	}
	return optString(p, raw)
}

// userContent decodes a user message's content: text and image_url parts.
// input_audio and file parts are refused: the internal model has no audio
// or documents (Anthropic's document blocks are not modelled).
func userContent(p string, raw json.RawMessage) ([]protocol.Block, error) {
	s, parts, err := contentParts(p, raw)
	if err != nil || s != nil {
		return []protocol.Block{{Type: protocol.BlockText, Text: deref(s)}}, err
	}
	blocks := make([]protocol.Block, 0, len(parts))
	for j, r := range parts {
		pp := fmt.Sprintf("%s[%d]", p, j)
		b, err := userPart(pp, r)
		if err != nil {
			return nil, err
		}
		blocks = append(blocks, b)
	}
	return blocks, nil
}

func userPart(p string, raw json.RawMessage) (protocol.Block, error) {
	pt, typ, err := part(p, raw)
	if err != nil {
		return protocol.Block{}, err
	}
	switch typ {
	case "text":
		text, err := partString(p+".text", pt.Text)
		return protocol.Block{Type: protocol.BlockText, Text: text}, err
	case "image_url":
		return imageBlock(p+".image_url", pt.ImageURL)
	case "input_audio", "file":
		return protocol.Block{}, fieldError(p+".type", "%s parts are not supported by modelbar's translation for this backend; only text and image_url are", typ)
	}
	return protocol.Block{}, fieldError(p+".type", "must be text or image_url, got %q", typ)
}

// imageBlock decodes an image_url part. A data: URL (base64) becomes an
// inline Image with its media type; an http(s) URL is kept as a URL. The
// detail setting is dropped: Anthropic has no counterpart.
func imageBlock(p string, raw json.RawMessage) (protocol.Block, error) {
	var iu struct {
		URL json.RawMessage `json:"url"`
	}
	if err := object(p, raw, &iu); err != nil {
		return protocol.Block{}, err
	}
	url, err := reqString(p+".url", iu.URL)
	if err != nil {
		return protocol.Block{}, err
	}
	img, err := parseImageURL(p+".url", url)
	return protocol.Block{Type: protocol.BlockImage, Image: img}, err
}

func parseImageURL(p, url string) (*protocol.Image, error) {
	scheme, rest, _ := strings.Cut(url, ":")
	switch strings.ToLower(scheme) {
	case "http", "https":
		return &protocol.Image{URL: url}, nil
	case "data":
		return parseDataURL(p, rest)
	}
	return nil, fieldError(p, "must be an http(s) URL or a base64 data: URL")
}

// parseDataURL parses what follows "data:": a media type, optional
// parameters, ";base64" and the data.
func parseDataURL(p, rest string) (*protocol.Image, error) {
	meta, data, ok := strings.Cut(rest, ",")
	params := strings.Split(meta, ";")
	if !ok || len(params) < 2 || !strings.EqualFold(params[len(params)-1], "base64") {
		return nil, fieldError(p, "must be a base64 data URL (data:image/png;base64,...)")
	}
	mediaType := strings.ToLower(strings.TrimSpace(params[0]))
	if !strings.HasPrefix(mediaType, "image/") {
		return nil, fieldError(p, "must hold an image, got media type %q", mediaType)
	}
	if data == "" {
		return nil, fieldError(p, "holds no image data")
	}
	return &protocol.Image{MediaType: mediaType, Data: data}, nil
}
