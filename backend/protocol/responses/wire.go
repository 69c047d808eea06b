package responses

import (
	"strings"
	"time"

	"github.com/modelbar/modelbar/backend/protocol"
)

// response is the Response object.
type response struct {
	ID                string      `json:"id"`
	Object            string      `json:"object"`
	CreatedAt         int64       `json:"created_at"`
	Status            string      `json:"status"`
	Error             *respError  `json:"error"`
	IncompleteDetails *incomplete `json:"incomplete_details"`
	Model             string      `json:"model"`
	Output            []item      `json:"output"`
	ParallelToolCalls bool        `json:"parallel_tool_calls"`
	ToolChoice        any         `json:"tool_choice"`
	Tools             []any       `json:"tools"`
	Temperature       *float64    `json:"temperature"`
	TopP              *float64    `json:"top_p"`
	MaxOutputTokens   *int        `json:"max_output_tokens"`
	PreviousResponse  *string     `json:"previous_response_id"`
	Store             bool        `json:"store"`
	Metadata          struct{}    `json:"metadata"`
	Usage             *usage      `json:"usage"`
}

// respError is a failed response's error: code and message as the API
// sends them, and type as SDKs that read its error body shape expect.
type respError struct {
	Code    string `json:"code"`
	Type    string `json:"type"`
	Message string `json:"message"`
}

type incomplete struct {
	Reason string `json:"reason"`
}

type item struct {
	ID               string  `json:"id"`
	Type             string  `json:"type"`
	Status           string  `json:"status,omitempty"`
	Role             string  `json:"role,omitempty"`
	Content          *[]part `json:"content,omitempty"` // message items: always present
	Summary          *[]part `json:"summary,omitempty"` // reasoning items: always present
	EncryptedContent *string `json:"encrypted_content,omitempty"`
	CallID           string  `json:"call_id,omitempty"`
	Name             string  `json:"name,omitempty"`
	Namespace        string  `json:"namespace,omitempty"`
	Arguments        *string `json:"arguments,omitempty"`
	Input            *string `json:"input,omitempty"`
}

// part is an output_text part (Annotations and Logprobs set, empty) or
// a summary_text part (neither).
type part struct {
	Type        string `json:"type"`
	Text        string `json:"text"`
	Annotations *[]any `json:"annotations,omitempty"`
	Logprobs    *[]any `json:"logprobs,omitempty"`
}

func textPart(s string) part {
	return part{Type: "output_text", Text: s, Annotations: &[]any{}, Logprobs: &[]any{}}
}
func summaryPart(s string) part { return part{Type: "summary_text", Text: s} }

type usage struct {
	InputTokens        int `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int `json:"total_tokens"`
}

// usageOf counts as the API does: input_tokens includes cached tokens.
func usageOf(u protocol.Usage) *usage {
	var out usage
	out.InputTokens = u.InputTokens + u.CacheReadTokens + u.CacheWriteTokens
	out.InputTokensDetails.CachedTokens = u.CacheReadTokens
	out.OutputTokens = u.OutputTokens
	out.OutputTokensDetails.ReasoningTokens = u.ReasoningTokens
	out.TotalTokens = out.InputTokens + out.OutputTokens
	return &out
}

// newResponse is the in-progress response to req.
func newResponse(req protocol.Request, created int64) response {
	if created == 0 {
		created = time.Now().Unix()
	}
	r := response{ID: "resp_modelbar", Object: "response", CreatedAt: created, Status: "in_progress", Model: req.Model,
		Output: []item{}, ParallelToolCalls: true, ToolChoice: "auto", Tools: []any{}, Temperature: req.Temperature, TopP: req.TopP}
	if id := namesOf(req).ResponseID; id != "" {
		r.ID = id
	}
	if req.MaxTokens > 0 {
		r.MaxOutputTokens = &req.MaxTokens
	}
	if tc := req.ToolChoice; tc != nil {
		r.ParallelToolCalls = !tc.DisableParallel
		switch tc.Mode {
		case protocol.ToolChoiceTool:
			n := namesOf(req).clientName(tc.Name)
			typ := "function"
			if n.Custom {
				typ = "custom"
			}
			r.ToolChoice = map[string]string{"type": typ, "name": n.Name}
		case "":
		default:
			r.ToolChoice = string(tc.Mode)
		}
	}
	return r
}

// responseID is a backend's message ID as a response ID.
func responseID(id string) string {
	id = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return -1
	}, id)
	if strings.HasPrefix(id, "resp_") {
		return id
	}
	return "resp_" + id
}
