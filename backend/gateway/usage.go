package gateway

import (
	"bytes"
	"encoding/json"

	"github.com/modelbar/modelbar/backend/protocol"
)

// Token usage for the request log and metrics, taken from what the backend
// reported: from raw bodies and stream events of either API when relayed
// byte for byte, and from the internal events when translated or answered
// locally. Input counts the whole prompt (cached tokens included); cached
// is the part of it the backend read from its prompt cache (Anthropic's
// cache_read_input_tokens, OpenAI's prompt_tokens_details.cached_tokens,
// the Responses API's input_tokens_details.cached_tokens, the local
// engine's reused prefix).

// noteUsage records the usage of one internal event or response.
func (info *requestInfo) noteUsage(u protocol.Usage) {
	if info == nil {
		return
	}
	if in := int64(u.InputTokens + u.CacheReadTokens + u.CacheWriteTokens); in > 0 {
		info.inputTokens = in
		info.cachedTokens = int64(u.CacheReadTokens)
	}
	if out := int64(u.OutputTokens); out > 0 {
		info.outputTokens = out
	}
}

// wireUsage is the usage object of either API: OpenAI's prompt and
// completion tokens, Anthropic's input, output and cache tokens.
type wireUsage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	InputTokens      int64 `json:"input_tokens"`
	OutputTokens     int64 `json:"output_tokens"`
	CacheRead        int64 `json:"cache_read_input_tokens"`
	CacheCreation    int64 `json:"cache_creation_input_tokens"`
	PromptDetails    *struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	InputDetails *struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
}

// cached is the part of the input read from the prompt cache, in
// whichever API's terms the usage came.
func (u *wireUsage) cached() int64 {
	switch {
	case u.CacheRead > 0:
		return u.CacheRead
	case u.PromptDetails != nil && u.PromptDetails.CachedTokens > 0:
		return u.PromptDetails.CachedTokens
	case u.InputDetails != nil:
		return u.InputDetails.CachedTokens
	}
	return 0
}

// noteWireUsage records the usage found in a JSON body or stream event
// (OpenAI's "usage", Anthropic's "usage" or message_start's
// "message.usage", the Responses API's "usage" or response.completed's
// "response.usage"); anything else is ignored.
func (info *requestInfo) noteWireUsage(data []byte) {
	if info == nil || !bytes.Contains(data, []byte(`"usage"`)) {
		return
	}
	var doc struct {
		Usage   *wireUsage `json:"usage"`
		Message *struct {
			Usage *wireUsage `json:"usage"`
		} `json:"message"`
		Response *struct {
			Usage *wireUsage `json:"usage"`
		} `json:"response"`
	}
	if json.Unmarshal(data, &doc) != nil {
		return
	}
	u := doc.Usage
	if u == nil && doc.Message != nil {
		u = doc.Message.Usage
	}
	if u == nil && doc.Response != nil {
		u = doc.Response.Usage
	}
	if u == nil {
		return
	}
	if in := u.PromptTokens + u.InputTokens + u.CacheRead + u.CacheCreation; in > 0 {
		info.inputTokens = in
		info.cachedTokens = u.cached()
	}
	if out := u.CompletionTokens + u.OutputTokens; out > 0 {
		info.outputTokens = out
	}
}

// usageEncoder notes the usage of the events it encodes.
type usageEncoder struct {
	streamEncoder
	info *requestInfo
}

func (e usageEncoder) Encode(ev protocol.Event) []byte {
	if ev.Type == protocol.EventStart || ev.Type == protocol.EventStop {
		e.info.noteUsage(ev.Usage)
	}
	e.info.noteDelta(ev)
	return e.streamEncoder.Encode(ev)
}
