package gateway

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelbar/modelbar/backend/engine"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
	"github.com/modelbar/modelbar/backend/engine/tensor/cpu"
	"github.com/modelbar/modelbar/backend/protocol"
)

// estimateBound never claims a fit the estimate would refuse: for every
// request it is at least its estimate plus its output, and it is a bound
// when it can read the output asked for. The requests are those where the bound is tightest:
// tiny messages, short image URLs, tool calls, CJK and escaped text.
func TestEstimateBound_BoundsTheEstimate(t *testing.T) {
	tinyMessages := make([]string, 200)
	for i := range tinyMessages {
		tinyMessages[i] = `{"role":"user","content":"a"}`
	}
	for _, tt := range []struct {
		name string
		ep   endpoint
		body string
	}{
		{"OpenAI, tiny messages", chatCompletions, `{"model":"m","messages":[` + strings.Join(tinyMessages, ",") + `]}`},
		{"OpenAI, images by short URL", chatCompletions, `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[` +
			strings.Repeat(`{"type":"image_url","image_url":{"url":"http://a/b.png"}},`, 9) + `{"type":"text","text":"what?"}]}]}`},
		{"OpenAI, tool calls", chatCompletions, `{"model":"m","max_completion_tokens":100,"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],` +
			`"messages":[{"role":"user","content":"x"},{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},` +
			`{"role":"tool","tool_call_id":"c","content":"1"}]}`},
		{"OpenAI, CJK and escaped text", chatCompletions, `{"model":"m","messages":[{"role":"system","content":"\u4f60\u597d"},{"role":"user","content":"` +
			strings.Repeat("你好世界", 50) + `"}]}`},
		{"OpenAI, max_tokens null", chatCompletions, `{"model":"m","max_tokens":null,"messages":[{"role":"user","content":"hi"}]}`},
		{"Anthropic, images and tools", messages, `{"model":"m","max_tokens":20,"system":"s","tools":[{"name":"t","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":[` +
			strings.Repeat(`{"type":"image","source":{"type":"url","url":"http://a"}},`, 5) + `{"type":"text","text":"?"}]}]}`},
		{"Responses, image input", responsesEndpoint, `{"model":"m","max_output_tokens":3,"instructions":"be brief","input":[{"role":"user","content":[` +
			`{"type":"input_image","image_url":"http://a"},{"type":"input_text","text":"hi"}]}]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := dialects[tt.ep.protocol].decodeRequest([]byte(tt.body))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			need := protocol.EstimateTokens(req) + max(req.MaxTokens, 1)
			c := &call{endpoint: tt.ep, body: []byte(tt.body)}
			if got, _ := c.estimateBound(); got < need {
				t.Errorf("bound %d; the estimate and output are %d", got, need)
			}
		})
	}
	// An output the scan cannot read as a whole number (the decoder refuses
	// 1e3; a future API might not) is left to the decoded request.
	if c := (&call{endpoint: chatCompletions, body: []byte(`{"model":"m","max_tokens":1e3,"messages":[]}`)}); boundOf(c.estimateBound()) != -1 {
		t.Errorf("max_tokens 1e3: bound %d; want -1 (unknown)", boundOf(c.estimateBound()))
	}
	stored := &call{endpoint: responsesEndpoint, body: []byte(`{"model":"m","input":"hi"}`),
		decode: func([]byte) (protocol.Request, error) { return protocol.Request{}, fmt.Errorf("unused") }}
	if got, _ := stored.estimateBound(); got != -1 {
		t.Errorf("a request continuing a stored response: bound %d; want -1 (its body is not all of it)", got)
	}
}

func boundOf(bound, _ int) int { return bound }

// The local bound surelyFits uses — twice the body plus
// localTemplateBytes — is never below the count of the local model's own
// template and tokenizer, for the requests where the count is largest
// against the body: tiny messages (the template's markers dominate),
// tools, CJK and escaped text.
func TestLocalBound_BoundsTheCount(t *testing.T) {
	dir := t.TempDir()
	if err := testmodel.Write(filepath.Join(dir, "models", "m"), testmodel.Spec{Architecture: "qwen2", MaxPositionEmbeddings: 1 << 20, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	b := cpu.New()
	e := engine.New(engine.Options{Roots: []modelfile.Root{modelfile.ModelsRoot(dir)}, Budget: 1 << 30, Backend: b})
	defer func() { e.Close(); b.Close() }()
	tiny := make([]string, 300)
	for i := range tiny {
		tiny[i] = `{"role":"user","content":"a"}`
	}
	for _, tt := range []struct {
		name string
		ep   endpoint
		body string
	}{
		{"tiny messages", chatCompletions, `{"model":"m","messages":[` + strings.Join(tiny, ",") + `]}`},
		{"one short message", chatCompletions, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`},
		{"tools", chatCompletions, `{"model":"m","tools":[` + strings.Repeat(`{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"array","items":{"type":"integer"}}}}}},`, 20) +
			`{"type":"function","function":{"name":"g","parameters":{}}}],"messages":[{"role":"user","content":"x"}]}`},
		{"CJK and escapes", chatCompletions, `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat(`你好\u4e16\u754c\n\t`, 300) + `"}]}`},
		{"Anthropic", messages, `{"model":"m","max_tokens":10,"system":"s","messages":[` + strings.Repeat(`{"role":"user","content":"a"},{"role":"assistant","content":"b"},`, 100) + `{"role":"user","content":"c"}]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := dialects[tt.ep.protocol].decodeRequest([]byte(tt.body))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			req.Model = "m"
			n, err := e.CountPrompt(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if bound := 2*len(tt.body) + localTemplateBytes; n > bound {
				t.Errorf("%d tokens; the bound is %d", n, bound)
			}
		})
	}
}
