package responses

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/modelbar/modelbar/backend/protocol"
)

// upResponse is a provider's Response object, the fields read.
type upResponse struct {
	ID                string      `json:"id"`
	CreatedAt         int64       `json:"created_at"`
	Model             string      `json:"model"`
	Status            string      `json:"status"`
	Error             *upError    `json:"error"`
	IncompleteDetails *incomplete `json:"incomplete_details"`
	Output            []upItem    `json:"output"`
	Usage             *upUsage    `json:"usage"`
}

type upError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// upItem is an output item: message, reasoning, function_call or
// custom_tool_call; other types (hosted tools' calls) are skipped.
type upItem struct {
	Type             string    `json:"type"`
	Content          []rawPart `json:"content"`
	Summary          []rawPart `json:"summary"`
	EncryptedContent string    `json:"encrypted_content"`
	CallID           string    `json:"call_id"`
	Name             string    `json:"name"`
	Arguments        string    `json:"arguments"`
	Input            string    `json:"input"`
}

type upUsage struct {
	InputTokens        int `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
}

// internal counts as Anthropic does: input tokens without the cached ones.
func (u *upUsage) internal() protocol.Usage {
	if u == nil {
		return protocol.Usage{}
	}
	cached := min(u.InputTokensDetails.CachedTokens, u.InputTokens)
	return protocol.Usage{InputTokens: u.InputTokens - cached, CacheReadTokens: cached,
		OutputTokens: u.OutputTokens, ReasoningTokens: u.OutputTokensDetails.ReasoningTokens}
}

// ErrFailed is a response the provider reports as failed.
var ErrFailed = errors.New("the response failed")

// DecodeResponse converts a provider's Response object. A message item
// becomes one text block (its output_text and refusal parts joined), a
// reasoning item a thinking block (its summaries joined by a blank line;
// its encrypted_content, if any, kept in Signature to go back next turn;
// none when it has neither),
// a function_call a tool_use block; the calls of hosted tools are
// skipped. A failed response is an error wrapping ErrFailed.
func DecodeResponse(body []byte) (protocol.Response, error) {
	var r upResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return protocol.Response{}, fmt.Errorf("decode responses answer: %w", err)
	}
	if r.Status == "failed" || r.Error != nil {
		return protocol.Response{}, failure(r.Error)
	}
	out := protocol.Response{ID: r.ID, Model: r.Model, Created: r.CreatedAt, Usage: r.Usage.internal()}
	calls := false
	for _, it := range r.Output {
		b, ok := itemBlock(it)
		if !ok {
			continue
		}
		calls = calls || b.Type == protocol.BlockToolUse
		out.Content = append(out.Content, b)
	}
	out.StopReason = stopReason(r.Status, r.IncompleteDetails, calls)
	return out, nil
}

func failure(e *upError) error {
	if e == nil {
		return ErrFailed
	}
	return fmt.Errorf("%w: %s: %s", ErrFailed, e.Code, e.Message)
}

func stopReason(status string, inc *incomplete, calls bool) protocol.StopReason {
	switch {
	case status == "incomplete" && inc != nil && inc.Reason == "content_filter":
		return protocol.StopRefusal
	case status == "incomplete":
		return protocol.StopMaxTokens
	case calls:
		return protocol.StopToolUse
	}
	return protocol.StopEndTurn
}

func itemBlock(it upItem) (protocol.Block, bool) {
	switch it.Type {
	case "message":
		var sb strings.Builder
		for _, p := range it.Content {
			sb.WriteString(p.Text + p.Refusal)
		}
		return protocol.Block{Type: protocol.BlockText, Text: sb.String()}, true
	case "reasoning":
		var texts []string
		for _, p := range it.Summary {
			texts = append(texts, p.Text)
		}
		b := protocol.Block{Type: protocol.BlockThinking, Text: strings.Join(texts, "\n\n")}
		if it.EncryptedContent != "" {
			b.Signature = reasoningSealPrefix + it.EncryptedContent
		}
		return b, b.Text != "" || b.Signature != "" // nothing to show or give back: no block
	case "function_call":
		return protocol.Block{Type: protocol.BlockToolUse, ID: it.CallID, Name: it.Name, Input: arguments(it.Arguments)}, true
	case "custom_tool_call":
		input, _ := protocol.Marshal(map[string]string{CustomInput: it.Input})
		return protocol.Block{Type: protocol.BlockToolUse, ID: it.CallID, Name: it.Name, Input: input}, true
	}
	return protocol.Block{}, false
}

func arguments(s string) json.RawMessage {
	if strings.TrimSpace(s) == "" {
		return json.RawMessage("{}")
	}
	return json.RawMessage(s)
}
