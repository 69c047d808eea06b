package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelbar/modelbar/backend/protocol"
)

// envelopeSeeds are bodies at the edges of what ParseEnvelope and the
// request decoders accept.
var envelopeSeeds = []string{
	`{"model":"m"}`,
	`{"model":"m","stream":true,"max_tokens":1,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","stream":null,"messages":[{"role":"user","content":[{"type":"document","source":{}}]}]}`,
	`{"model":"m","messages":[{"role":"user","content":"hi"}],"thinking":{"type":"enabled","budget_tokens":2048}}`,
	`{"model":"m","max_tokens":1024,"messages":[{"role":"user","content":"hi"}],"thinking":{"type":"enabled","budget_tokens":2048}}`,
	`{"model":"","stream":"yes"}`, `{"model":1}`, `{"model":"m","model":""}`, `[]`, ``, ` {"model":"m"} `,
}

// FuzzParseEnvelope: a body is refused with a *protocol.RequestError or
// gives a non-empty model; and the envelope is no stricter than the full
// decoders: what DecodeMessagesRequest or DecodeCountTokensRequest accepts,
// ParseEnvelope accepts, with the same model and stream.
func FuzzParseEnvelope(f *testing.F) {
	addSeeds(f, "requests", ".json")
	for _, s := range envelopeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := ParseEnvelope(body)
		if err != nil {
			requestError(t, err)
		} else if env.Model == "" {
			t.Fatalf("accepted with an empty model: %s", body)
		}
		for name, decode := range map[string]func([]byte) (protocol.Request, error){
			"DecodeMessagesRequest": DecodeMessagesRequest, "DecodeCountTokensRequest": DecodeCountTokensRequest,
		} {
			req, derr := decode(body)
			if derr != nil {
				continue
			}
			if err != nil {
				t.Fatalf("%s accepts what the envelope refuses (%v):\n%s", name, err, body)
			}
			if want := (Envelope{Model: req.Model, Stream: req.Stream}); env != want {
				t.Fatalf("envelope %+v, %s says %+v", env, name, want)
			}
		}
	})
}

// FuzzDecodeCountTokensRequest: a count_tokens body is refused with a
// *protocol.RequestError or decodes with MaxTokens 0 to a request whose
// estimate is positive; and it is DecodeMessagesRequest without max_tokens:
// what that accepts, count_tokens accepts as the same request (MaxTokens
// aside), and with the same error, unless it concerns max_tokens or the
// thinking budget (compared with max_tokens), what it refuses.
func FuzzDecodeCountTokensRequest(f *testing.F) {
	addSeeds(f, "requests", ".json")
	for _, s := range envelopeSeeds {
		f.Add([]byte(s))
	}
	for _, c := range requestErrorCases() {
		f.Add([]byte(c.json()))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeCountTokensRequest(body)
		full, fullErr := DecodeMessagesRequest(body)
		if err != nil {
			re := requestError(t, err)
			if fullErr == nil {
				t.Fatalf("count_tokens refuses (%v) what /v1/messages accepts:\n%s", err, body)
			}
			if fre := requestError(t, fullErr); fre.Param != "max_tokens" && fre.Param != "thinking.budget_tokens" && *fre != *re {
				t.Fatalf("count_tokens says %v, /v1/messages %v", err, fullErr)
			}
			return
		}
		if req.MaxTokens != 0 {
			t.Fatalf("MaxTokens %d from count_tokens", req.MaxTokens)
		}
		if n := protocol.EstimateTokens(req); n <= 0 {
			t.Fatalf("estimate %d", n)
		}
		if fullErr == nil {
			full.MaxTokens = 0
			if diff := cmp.Diff(full, req); diff != "" {
				t.Fatalf("count_tokens and /v1/messages differ (-messages +count_tokens):\n%s", diff)
			}
		}
	})
}

func requestError(t *testing.T, err error) *protocol.RequestError {
	t.Helper()
	var re *protocol.RequestError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is a %T, not a *protocol.RequestError", err, err)
	}
	return re
}

// FuzzDecodeMessagesResponse: whatever a backend answers,
// DecodeMessagesResponse either fails (with a zero Response) or gives an
// answer that EncodeMessagesResponse renders as valid JSON decoding to the
// very same answer; the encoder refuses it only for a tool_use whose input
// is not a JSON object, as documented.
func FuzzDecodeMessagesResponse(f *testing.F) {
	addSeeds(f, "responses", ".json")
	for _, s := range []string{
		`{"type":"message","content":[{"type":"text","text":"a","citations":[{}]},{"type":"server_tool_use"},{"type":"redacted_thinking","data":"x"},{"type":"thinking","thinking":"t","signature":""}],"stop_reason":"pause_turn","stop_sequence":null}`,
		`{"type":"message","id":"m","model":"c","content":[{"type":"tool_use","id":"t","name":"f","input":{ "a" : [1, 2] }},{"type":"tool_use","input":null},{"type":"tool_use"}],"usage":{"input_tokens":3,"output_tokens":null,"cache_read_input_tokens":-1}}`,
		`{"type":"message","content":[{"type":"tool_use","input":[1]}]}`,
		`{"type":"message","content":[{"type":"tool_use","input":"{}"}]}`,
		`{"type":"message","content":[{"type":"text","text":1}]}`,
		`{"type":"error","error":{"type":"overloaded_error","message":"busy"}}`,
		`{"type":"error"}`, `{"type":"completion"}`, `null`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r1, err := DecodeMessagesResponse(body)
		if err != nil {
			if diff := cmp.Diff(protocol.Response{}, r1); diff != "" {
				t.Fatalf("an error (%v) and a response:\n%s", err, diff)
			}
			return
		}
		out, err := EncodeMessagesResponse(r1)
		if err != nil {
			if !hasNonObjectInput(r1) {
				t.Fatalf("encode of a decoded response: %v\n%+v", err, r1)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("encoded response is not JSON: %s", out)
		}
		r2, err := DecodeMessagesResponse(out)
		if err != nil {
			t.Fatalf("our own response does not decode: %v\n%s", err, out)
		}
		if diff := cmp.Diff(r1, r2); diff != "" {
			t.Fatalf("round trip (-decoded +re-decoded):\n%s\nencoded: %s", diff, out)
		}
	})
}

// hasNonObjectInput reports whether a tool_use block's input is something
// other than a JSON object, which the encoder must refuse.
func hasNonObjectInput(r protocol.Response) bool {
	for _, b := range r.Content {
		if b.Type != protocol.BlockToolUse {
			continue
		}
		var obj map[string]json.RawMessage
		if t := bytes.TrimSpace(b.Input); len(t) > 0 && (t[0] != '{' || json.Unmarshal(t, &obj) != nil) {
			return true
		}
	}
	return false
}
