package openai

import (
	"encoding/json"
	"fmt"

	"github.com/modelbar/modelbar/backend/protocol"
)

// CompletionRequest is a legacy /v1/completions request as a local engine
// serves it: one text prompt continued.
type CompletionRequest struct {
	Model        string
	Prompt       string
	MaxTokens    int // OpenAI's default is 16
	Temperature  *float64
	TopP         *float64
	Stop         []string
	Seed         *int64
	Stream       bool
	IncludeUsage bool
}

// DecodeCompletionRequest validates a completions request for a backend
// that continues one text: prompt must be a string (or a one-string list);
// token-id prompts, several prompts, n > 1, echo, best_of, logprobs and
// suffix (fill-in-the-middle) are refused naming the field.
func DecodeCompletionRequest(body []byte) (CompletionRequest, error) {
	var doc struct {
		Model         json.RawMessage `json:"model"`
		Prompt        json.RawMessage `json:"prompt"`
		MaxTokens     json.RawMessage `json:"max_tokens"`
		Temperature   json.RawMessage `json:"temperature"`
		TopP          json.RawMessage `json:"top_p"`
		Stop          json.RawMessage `json:"stop"`
		Seed          json.RawMessage `json:"seed"`
		Stream        json.RawMessage `json:"stream"`
		StreamOptions json.RawMessage `json:"stream_options"`
		N             json.RawMessage `json:"n"`
		Echo          json.RawMessage `json:"echo"`
		BestOf        json.RawMessage `json:"best_of"`
		Logprobs      json.RawMessage `json:"logprobs"`
		Suffix        json.RawMessage `json:"suffix"`
	}
	if err := protocol.DecodeObject(body, &doc); err != nil {
		return CompletionRequest{}, err
	}
	var r CompletionRequest
	var err error
	if r.Model, err = reqString("model", doc.Model); err != nil {
		return r, err
	}
	if r.Prompt, err = completionPrompt(doc.Prompt); err != nil {
		return r, err
	}
	for name, raw := range map[string]json.RawMessage{"echo": doc.Echo, "suffix": doc.Suffix, "logprobs": doc.Logprobs} {
		if !protocol.IsNull(raw) && string(raw) != "false" && string(raw) != `""` && string(raw) != "0" {
			return r, fieldError(name, "is not supported by the local engine")
		}
	}
	for name, raw := range map[string]json.RawMessage{"n": doc.N, "best_of": doc.BestOf} {
		if !protocol.IsNull(raw) && string(raw) != "1" {
			return r, fieldError(name, "must be 1 for the local engine")
		}
	}
	return r, decodeCompletionOptions(&doc.MaxTokens, doc.Temperature, doc.TopP, doc.Stop, doc.Seed, doc.Stream, doc.StreamOptions, &r)
}

func completionPrompt(raw json.RawMessage) (string, error) {
	if protocol.IsNull(raw) { // before Unmarshal, which reads null as ""
		return "", fieldError("prompt", "is required")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil && len(list) == 1 {
		return list[0], nil
	}
	return "", fieldError("prompt", "must be one string: token ids and several prompts are not supported by the local engine")
}

func decodeCompletionOptions(maxTokens *json.RawMessage, temp, topP, stop, seed, stream, streamOptions json.RawMessage, r *CompletionRequest) error {
	n, err := optInt("max_tokens", *maxTokens, 1, 1<<30)
	if err != nil {
		return err
	}
	r.MaxTokens = 16
	if n != nil {
		r.MaxTokens = *n
	}
	if r.Temperature, err = optFloat("temperature", temp, 0, 2); err != nil {
		return err
	}
	if r.TopP, err = optFloat("top_p", topP, 0, 1); err != nil {
		return err
	}
	if r.Stop, err = decodeStop(stop); err != nil {
		return err
	}
	if !protocol.IsNull(seed) {
		var v int64
		if json.Unmarshal(seed, &v) != nil {
			return fieldError("seed", "must be an integer")
		}
		r.Seed = &v
	}
	if err := protocol.BoolField("stream", stream, &r.Stream); err != nil {
		return err
	}
	var so struct {
		IncludeUsage bool `json:"include_usage"`
	}
	if !protocol.IsNull(streamOptions) && json.Unmarshal(streamOptions, &so) != nil {
		return fieldError("stream_options", "must be an object")
	}
	r.IncludeUsage = so.IncludeUsage
	return nil
}

// completionObject is a text_completion response or stream chunk.
type completionObject struct {
	ID      string             `json:"id"`
	Object  string             `json:"object"`
	Created int64              `json:"created"`
	Model   string             `json:"model"`
	Choices []completionChoice `json:"choices"`
	Usage   *usageIO           `json:"usage,omitempty"`
}

type completionChoice struct {
	Text         string  `json:"text"`
	Index        int     `json:"index"`
	Logprobs     *string `json:"logprobs"`
	FinishReason *string `json:"finish_reason"`
}

// CompletionResponse renders a whole text_completion.
func CompletionResponse(id, model string, created int64, text, finish string, u protocol.Usage) []byte {
	b, _ := protocol.Marshal(completionObject{ID: id, Object: "text_completion", Created: created, Model: model,
		Choices: []completionChoice{{Text: text, FinishReason: &finish}}, Usage: completionUsage(u)})
	return b
}

// CompletionChunk renders one streamed text_completion event; finish is ""
// until the last.
func CompletionChunk(id, model string, created int64, text, finish string) []byte {
	c := completionChoice{Text: text}
	if finish != "" {
		c.FinishReason = &finish
	}
	return sseData(completionObject{ID: id, Object: "text_completion", Created: created, Model: model, Choices: []completionChoice{c}})
}

// CompletionUsageChunk renders the final usage event of a stream whose
// client asked for it.
func CompletionUsageChunk(id, model string, created int64, u protocol.Usage) []byte {
	return sseData(completionObject{ID: id, Object: "text_completion", Created: created, Model: model,
		Choices: []completionChoice{}, Usage: completionUsage(u)})
}

func completionUsage(u protocol.Usage) *usageIO {
	out := usageOut(u)
	return &out
}

func sseData(v any) []byte {
	b, err := protocol.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("openai: encode %T: %v", v, err)) // only our own plain structs come here
	}
	return append(append([]byte("data: "), b...), "\n\n"...)
}
