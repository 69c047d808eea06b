package gateway

import (
	"bytes"
	"encoding/json"

	"github.com/modelbar/modelbar/backend/protocol"
)

// The quirks of remote engines (providers.Preset) that the relay handles.

// withUsage returns a streamed request body that asks for the stream's
// usage (stream_options.include_usage: true), for a provider whose server
// sends it only then, and whether the client asked for it itself. Other
// stream options the client set travel on. A stream_options that is
// neither an object nor null is left for the provider to judge, and the
// body is unchanged.
func withUsage(body []byte) (out []byte, clientAsked bool) {
	var env struct {
		StreamOptions json.RawMessage `json:"stream_options"`
	}
	if json.Unmarshal(body, &env) != nil {
		return body, true
	}
	opts := map[string]json.RawMessage{}
	if raw := bytes.TrimSpace(env.StreamOptions); len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		if json.Unmarshal(raw, &opts) != nil {
			return body, true
		}
	}
	var asked bool
	if json.Unmarshal(opts["include_usage"], &asked) == nil && asked {
		return body, true
	}
	opts["include_usage"] = json.RawMessage("true")
	encoded, err := json.Marshal(opts)
	if err != nil {
		return body, true
	}
	out, err = protocol.SetTopLevelRaw(body, "stream_options", encoded)
	if err != nil {
		return body, true
	}
	return out, false
}

// usageOnlyChunk reports whether a stream event's data is the chunk that
// include_usage adds: usage, and no choices (an empty array or none).
func usageOnlyChunk(data []byte) bool {
	if !bytes.Contains(data, []byte(`"usage"`)) {
		return false
	}
	var chunk struct {
		Choices []json.RawMessage `json:"choices"`
		Usage   json.RawMessage   `json:"usage"`
	}
	if json.Unmarshal(data, &chunk) != nil {
		return false
	}
	u := bytes.TrimSpace(chunk.Usage)
	return len(chunk.Choices) == 0 && len(u) > 0 && u[0] == '{'
}
