package openai

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/modelbar/modelbar/backend/protocol"
)

// DecodeChatResponse converts a chat.completion object from a backend. It
// fails when the body is not one: not a JSON object, an error object, or
// no choices. Only the first choice is read (modelbar's clients of the
// other API cannot ask for n > 1).
//
// The message's reasoning_content (or reasoning) becomes a thinking block,
// its content a text block after it, a refusal another text block (and the
// stop reason refusal), its tool_calls tool_use blocks with their IDs; a
// tool call's arguments that are not a JSON object do not fail the answer
// but become {"_invalid_arguments": "<what the model wrote>"} (see
// modelArguments). finish_reason maps as stopReason says, and usage as
// usageFrom says.
func DecodeChatResponse(body []byte) (protocol.Response, error) {
	var doc chatResponseIn
	if err := json.Unmarshal(body, &doc); err != nil {
		return protocol.Response{}, fmt.Errorf("not a chat completion: %w", err)
	}
	if e := inbandError(doc.Error); e != nil {
		return protocol.Response{}, fmt.Errorf("the backend answered with an error (%s): %s", e.Type, e.Message)
	}
	if len(doc.Choices) == 0 || doc.Choices[0].Message == nil {
		return protocol.Response{}, errors.New("not a chat completion: no choices with a message")
	}
	c := doc.Choices[0]
	res := protocol.Response{ID: doc.ID, Model: doc.Model, Created: doc.Created}
	res.Content = messageBlocks(c.Message)
	res.StopReason, res.StopSequence = stopReason(c, hasToolUse(res.Content))
	if c.Message.Refusal != "" {
		res.StopReason = protocol.StopRefusal
	}
	if doc.Usage != nil {
		res.Usage = usageFrom(*doc.Usage)
	}
	return res, nil
}

// messageBlocks converts a response message. Tool calls without an ID (some
// compatible servers omit it) get "call_" and their position.
func messageBlocks(m *messageIn) []protocol.Block {
	var blocks []protocol.Block
	if r := m.reasoning(); r != "" {
		blocks = append(blocks, protocol.Block{Type: protocol.BlockThinking, Text: r})
	}
	blocks = append(blocks, textBlocks(contentTexts(m.Content))...)
	blocks = append(blocks, textBlocks([]string{string(m.Refusal)})...)
	for k, tc := range m.ToolCalls {
		id := tc.ID
		if id == "" {
			id = fmt.Sprintf("call_%d", k)
		}
		blocks = append(blocks, protocol.Block{Type: protocol.BlockToolUse, ID: id,
			Name: string(tc.Function.Name), Input: modelArguments(string(tc.Function.Arguments))})
	}
	if fc := m.FunctionCall; fc != nil && fc.Name != "" {
		blocks = append(blocks, protocol.Block{Type: protocol.BlockToolUse, ID: "call_fn_0",
			Name: string(fc.Name), Input: modelArguments(string(fc.Arguments))})
	}
	return blocks
}

// contentTexts reads a message's content: a string, or (from some
// compatible servers) an array of text parts; anything else is no text.
func contentTexts(raw json.RawMessage) []string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	_ = json.Unmarshal(raw, &parts)
	texts := make([]string, 0, len(parts))
	for _, p := range parts {
		if p.Type == "text" {
			texts = append(texts, p.Text)
		}
	}
	return texts
}

func hasToolUse(blocks []protocol.Block) bool {
	for _, b := range blocks {
		if b.Type == protocol.BlockToolUse {
			return true
		}
	}
	return false
}

// stopReason maps finish_reason: stop → end_turn, length → max_tokens,
// tool_calls and function_call → tool_use, content_filter → refusal;
// anything else, and none, → end_turn. Two repairs: "stop" (or none) with
// tool calls is tool_use, since some servers (older Ollama) say "stop" when
// the model called tools and a client must run them; and "stop" with vLLM's
// stop_reason naming the matched stop string is stop_sequence with it.
func stopReason(c choiceIn, toolUse bool) (protocol.StopReason, string) {
	switch c.FinishReason {
	case "length", "model_context_window_exceeded":
		return protocol.StopMaxTokens, ""
	case "tool_calls", "function_call":
		return protocol.StopToolUse, ""
	case "content_filter":
		return protocol.StopRefusal, ""
	case "stop", "":
		if toolUse {
			return protocol.StopToolUse, ""
		}
		var seq string
		if c.FinishReason == "stop" && json.Unmarshal(c.StopReason, &seq) == nil && seq != "" {
			return protocol.StopSequence, seq
		}
	}
	return protocol.StopEndTurn, ""
}

// finishReason is stopReason's inverse: end_turn, stop_sequence and
// pause_turn → stop, max_tokens → length, tool_use → tool_calls, refusal →
// content_filter.
func finishReason(s protocol.StopReason) string {
	switch s {
	case protocol.StopMaxTokens, "model_context_window_exceeded":
		return "length"
	case protocol.StopToolUse:
		return "tool_calls"
	case protocol.StopRefusal:
		return "content_filter"
	}
	return "stop"
}

// usageFrom converts usage: cached_tokens (or DeepSeek's
// prompt_cache_hit_tokens) is CacheReadTokens and InputTokens the rest of
// prompt_tokens; completion_tokens is OutputTokens, reasoning_tokens
// ReasoningTokens. OpenAI reports no cache writes.
func usageFrom(u usageIO) protocol.Usage {
	var cached, reasoning int
	if u.PromptTokensDetails != nil {
		cached = u.PromptTokensDetails.CachedTokens
	}
	if cached == 0 {
		cached = u.PromptCacheHitTokens
	}
	if u.CompletionTokensDetails != nil {
		reasoning = u.CompletionTokensDetails.ReasoningTokens
	}
	return protocol.Usage{InputTokens: max(u.PromptTokens-cached, 0), OutputTokens: u.CompletionTokens,
		CacheReadTokens: cached, ReasoningTokens: reasoning}
}

// usageOut is usageFrom's inverse: prompt_tokens counts cache reads and
// writes too. prompt_tokens_details is always written, cached_tokens 0
// when nothing was reused, as OpenAI always sends it: clients read
// usage.prompt_tokens_details.cached_tokens without a guard from the
// first turn on. The reasoning details are written when their count is
// known (not 0).
func usageOut(u protocol.Usage) usageIO {
	prompt := u.InputTokens + u.CacheReadTokens + u.CacheWriteTokens
	out := usageIO{PromptTokens: prompt, CompletionTokens: u.OutputTokens, TotalTokens: prompt + u.OutputTokens,
		PromptTokensDetails: &promptDetails{CachedTokens: u.CacheReadTokens}}
	if u.ReasoningTokens > 0 {
		out.CompletionTokensDetails = &completionDetails{ReasoningTokens: u.ReasoningTokens}
	}
	return out
}

// EncodeChatResponse writes r as a chat.completion object: one choice whose
// message holds the text blocks joined by a blank line (content null when
// the answer is only tool calls), the thinking as reasoning_content (an
// extension OpenAI's SDKs ignore and DeepSeek-aware clients show),
// tool_calls, refusal null and logprobs null; finish_reason as
// finishReason says; usage as usageOut says. redacted_thinking is dropped.
// created is r.Created, or the current time when it is unknown (0): the
// Anthropic API has no such field.
func EncodeChatResponse(r protocol.Response) ([]byte, error) {
	created := r.Created
	if created == 0 {
		created = time.Now().Unix()
	}
	out := chatResponseOut{ID: r.ID, Object: "chat.completion", Created: created, Model: r.Model,
		Choices: []responseChoiceOut{{Message: responseMessage(r.Content), FinishReason: finishReason(r.StopReason)}},
		Usage:   usageOut(r.Usage)}
	return protocol.Marshal(out)
}

func responseMessage(blocks []protocol.Block) responseMessageOut {
	var texts, thinking []string
	msg := responseMessageOut{Role: "assistant"}
	for _, b := range blocks {
		switch b.Type {
		case protocol.BlockText:
			texts = append(texts, b.Text)
		case protocol.BlockThinking:
			thinking = append(thinking, b.Text)
		case protocol.BlockToolUse:
			msg.ToolCalls = append(msg.ToolCalls, toolCallOut{ID: b.ID, Type: "function",
				Function: functionOut{Name: b.Name, Arguments: argumentsText(b.Input)}})
		}
	}
	msg.ReasoningContent = joinStrings(thinking)
	if text := joinStrings(texts); text != "" || len(msg.ToolCalls) == 0 {
		msg.Content = &text
	}
	return msg
}

// inbandError reads an OpenAI error object ({"message","type",...}, or a
// bare string from some servers); nil when there is none.
func inbandError(raw json.RawMessage) *protocol.StreamError {
	if protocol.IsNull(raw) {
		return nil
	}
	var e struct {
		Message lenientString `json:"message"`
		Type    lenientString `json:"type"`
	}
	var s string
	switch {
	case json.Unmarshal(raw, &s) == nil:
		e.Message = lenientString(s)
	case json.Unmarshal(raw, &e) != nil:
		e.Message = lenientString(raw)
	}
	se := &protocol.StreamError{Type: string(e.Type), Message: string(e.Message)}
	if se.Type == "" {
		se.Type = "server_error"
	}
	if se.Message == "" {
		se.Message = string(raw)
	}
	return se
}
