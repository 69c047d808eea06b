package responses

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/modelbar/modelbar/backend/protocol"
)

// What a stored response needs (the gateway keeps responses it answered
// itself): the request's input as items with ids, its answer's output
// items, and a later request continued from them.

// InputItems returns the input of a request body as the API lists it
// (GET /v1/responses/{id}/input_items): a string input is one user
// message; a message without a type is typed "message" and its string
// content becomes one input_text part (output_text for the assistant's);
// an item without an id gets newID(its type).
func InputItems(body []byte, newID func(itemType string) string) ([]json.RawMessage, error) {
	var doc struct {
		Input json.RawMessage `json:"input"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, errorf("", "request body is not valid JSON: %v", err)
	}
	if protocol.IsNull(doc.Input) {
		return []json.RawMessage{}, nil
	}
	var raws []json.RawMessage
	var text string
	if json.Unmarshal(doc.Input, &text) == nil {
		raws = []json.RawMessage{mustMarshal(map[string]any{"type": "message", "role": "user", "content": text})}
	} else if json.Unmarshal(doc.Input, &raws) != nil {
		return nil, errorf("input", "must be a string or an array of items")
	}
	out := make([]json.RawMessage, 0, len(raws))
	for i, raw := range raws {
		it, err := inputItem(raw, newID)
		if err != nil {
			return nil, errorf(fmt.Sprintf("input[%d]", i), "%v", err)
		}
		out = append(out, it)
	}
	return out, nil
}

// inputItem is one input item with a type, an id and, for a message,
// content parts.
func inputItem(raw json.RawMessage, newID func(string) string) (json.RawMessage, error) {
	var it map[string]json.RawMessage
	if json.Unmarshal(raw, &it) != nil || it == nil {
		return nil, fmt.Errorf("must be an object")
	}
	var typ, role, id, text string
	json.Unmarshal(it["type"], &typ)
	json.Unmarshal(it["role"], &role)
	json.Unmarshal(it["id"], &id)
	if typ == "" && role != "" {
		typ = "message"
		it["type"] = mustMarshal(typ)
	}
	if typ == "message" && json.Unmarshal(it["content"], &text) == nil {
		partType := "input_text"
		if role == "assistant" {
			partType = "output_text"
		}
		it["content"] = mustMarshal([]map[string]any{{"type": partType, "text": text}})
	}
	if id == "" {
		it["id"] = mustMarshal(newID(typ))
	}
	return json.Marshal(it)
}

// Continue returns a request body with history (input and output items of
// the responses it continues, oldest first) prepended to its input and
// previous_response_id removed: the request as a client sending the whole
// conversation would have made it. Instructions are not carried over, as
// the API does not carry them.
func Continue(body []byte, history []json.RawMessage) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, errorf("", "request body is not valid JSON: %v", err)
	}
	items := append([]json.RawMessage{}, history...)
	var text string
	var own []json.RawMessage
	switch in := doc["input"]; {
	case protocol.IsNull(in):
	case json.Unmarshal(in, &text) == nil:
		items = append(items, mustMarshal(map[string]any{"type": "message", "role": "user", "content": text}))
	case json.Unmarshal(in, &own) == nil:
		items = append(items, own...)
	default:
		return nil, errorf("input", "must be a string or an array of items")
	}
	doc["input"] = mustMarshal(items)
	delete(doc, "previous_response_id")
	return json.Marshal(doc)
}

// Output returns the output items of a response object.
func Output(response []byte) ([]json.RawMessage, error) {
	var doc struct {
		Output []json.RawMessage `json:"output"`
	}
	if err := json.Unmarshal(response, &doc); err != nil {
		return nil, fmt.Errorf("response object: %w", err)
	}
	return doc.Output, nil
}

// FinalResponse returns the response object that a stream's last
// response.completed or response.incomplete event carries; ok is false
// for a stream that did not end so (failed, or broken off).
func FinalResponse(stream []byte) (response json.RawMessage, ok bool) {
	events := protocol.NewEventReader(bytes.NewReader(stream))
	for {
		ev, err := events.Next()
		if err != nil {
			return response, response != nil
		}
		var doc struct {
			Type     string          `json:"type"`
			Response json.RawMessage `json:"response"`
		}
		if json.Unmarshal(protocol.EventData(ev), &doc) != nil {
			continue
		}
		switch doc.Type {
		case "response.completed", "response.incomplete":
			response = doc.Response
		case "response.failed", "error":
			return nil, false
		}
	}
}

func mustMarshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only values that always marshal
	}
	return b
}
