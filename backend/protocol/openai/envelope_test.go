package openai

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/protocol"
)

func TestParseEnvelope(t *testing.T) {
	tests := []struct {
		name      string
		endpoint  Endpoint
		body      string
		want      Envelope
		wantParam string // "" with wantErr: a body-level error
		wantErr   bool
	}{
		{"chat", ChatCompletions, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, Envelope{Model: "m"}, "", false},
		{"chat stream usage", ChatCompletions, `{"model":"m","messages":[{}],"stream":true,"stream_options":{"include_usage":true}}`, Envelope{Model: "m", Stream: true, IncludeUsage: true}, "", false},
		{"completion", Completions, `{"model":"m","prompt":"def f(","suffix":"\n"}`, Envelope{Model: "m"}, "", false},
		{"embeddings", Embeddings, `{"model":"m","input":["a"]}`, Envelope{Model: "m"}, "", false},
		{"empty body", ChatCompletions, ``, Envelope{}, "", true},
		{"array body", ChatCompletions, `[]`, Envelope{}, "", true},
		{"broken json", ChatCompletions, `{"model":"m",`, Envelope{}, "", true},
		{"missing model", ChatCompletions, `{"messages":[{}]}`, Envelope{}, "model", true},
		{"empty model", ChatCompletions, `{"model":"","messages":[{}]}`, Envelope{}, "model", true},
		{"number model", ChatCompletions, `{"model":4,"messages":[{}]}`, Envelope{}, "model", true},
		{"missing messages", ChatCompletions, `{"model":"m"}`, Envelope{}, "messages", true},
		{"empty messages", ChatCompletions, `{"model":"m","messages":[]}`, Envelope{}, "messages", true},
		{"messages object", ChatCompletions, `{"model":"m","messages":{}}`, Envelope{}, "messages", true},
		{"stream string", ChatCompletions, `{"model":"m","messages":[{}],"stream":"yes"}`, Envelope{}, "stream", true},
		{"missing prompt", Completions, `{"model":"m"}`, Envelope{}, "prompt", true},
		{"missing input", Embeddings, `{"model":"m"}`, Envelope{}, "input", true},
	}
	for _, tt := range tests {
		got, err := ParseEnvelope(tt.endpoint, []byte(tt.body))
		if tt.wantErr {
			var re *protocol.RequestError
			if !errors.As(err, &re) {
				t.Errorf("%s: error %v, want a *RequestError", tt.name, err)
			} else if re.Param != tt.wantParam {
				t.Errorf("%s: param %q, want %q (%v)", tt.name, re.Param, tt.wantParam, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}
