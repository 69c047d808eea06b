package chattemplate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// Values handed to gonja follow one model: dicts are *exec.Dict (gonja's
// ordered dict, so tojson prints keys in the order they came), lists are
// []any, numbers int or float64, and Jinja's None is the typed nil none.

// noneType gives None a Go type of its own. gonja reads a typed nil pointer
// as nil (falsy, `== none`), yet it stays distinguishable from an undefined
// name, whose value is invalid: that is what lets `x is defined` be true and
// `x is none` be false for the right values.
// gonja prints it as "" (as @huggingface/jinja does; Python prints "None").
type noneType struct{}

// none is Jinja's None.
var none = (*noneType)(nil)

// isNone reports whether v is None (not merely undefined).
func isNone(v *exec.Value) bool { return v.Val.IsValid() && v.IsNil() }

// isUndefined reports whether v is an undefined name, attribute or item.
func isUndefined(v *exec.Value) bool { return !v.Val.IsValid() }

// dict builds an ordered template dict.
type dict struct{ d *exec.Dict }

func newDict() dict { return dict{exec.NewDict()} }

func (d dict) set(key string, v any) {
	d.d.Pairs = append(d.d.Pairs, &exec.Pair{Key: exec.AsValue(key), Value: exec.AsValue(v)})
}

// dictPairs returns the pairs of a dict value (ordered for *exec.Dict, by
// key for a Go map), and false when v is not a dict.
func dictPairs(v *exec.Value) ([]*exec.Pair, bool) {
	rv := v.Val
	for rv.IsValid() && (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface) {
		if rv.IsNil() {
			return nil, false
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return nil, false
	}
	if rv.Type() == exec.TypeDict {
		return rv.Interface().(exec.Dict).Pairs, true
	}
	if rv.Kind() != reflect.Map {
		return nil, false
	}
	keys := rv.MapKeys()
	sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
	pairs := make([]*exec.Pair, 0, len(keys))
	for _, k := range keys {
		pairs = append(pairs, &exec.Pair{Key: exec.ToValue(k), Value: exec.ToValue(rv.MapIndex(k))})
	}
	return pairs, true
}

// messagesValue converts messages to the list of dicts templates read.
// The content strings that hold engine text (Message.Tail) are registered
// in engine with their provenance, when engine is not nil.
func messagesValue(msgs []Message, engine *regionSet) []any {
	out := make([]any, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, messageValue(m, engine).d)
	}
	return out
}

func messageValue(m Message, engine *regionSet) dict {
	d := newDict()
	d.set("role", roleValue(m.Role))
	switch {
	case m.Parts != nil:
		d.set("content", partsValue(m.Parts))
	case m.NullContent:
		d.set("content", none)
	default:
		content, runs := m.Tail.after(m.Content)
		if runs != nil && engine != nil {
			engine.add(content, runs)
		}
		d.set("content", content)
	}
	if m.ReasoningContent != "" {
		d.set("reasoning_content", m.ReasoningContent)
	}
	if len(m.ToolCalls) > 0 {
		calls := make([]any, 0, len(m.ToolCalls))
		for _, c := range m.ToolCalls {
			calls = append(calls, toolCallValue(c).d)
		}
		d.set("tool_calls", calls)
	}
	if m.ToolCallID != "" {
		d.set("tool_call_id", m.ToolCallID)
	}
	if m.Name != "" {
		d.set("name", m.Name)
	}
	familyKeys(d, m)
	return d
}

func partsValue(parts []Part) []any {
	out := make([]any, 0, len(parts))
	for _, p := range parts {
		d := newDict()
		d.set("type", p.Type)
		if p.Type == "text" || p.Text != "" {
			d.set("text", p.Text)
		}
		out = append(out, d.d)
	}
	return out
}

func toolCallValue(c ToolCall) dict {
	fn := newDict()
	fn.set("name", c.Function.Name)
	fn.set("arguments", argumentsValue(c.Function.Arguments))
	d := newDict()
	if c.ID != "" {
		d.set("id", c.ID)
	}
	d.set("type", orFunction(c.Type))
	d.set("function", fn.d)
	return d
}

// argumentsValue decodes tool-call arguments (see FunctionCall.Arguments).
func argumentsValue(raw json.RawMessage) any {
	if len(bytes.TrimSpace(raw)) == 0 {
		return newDict().d
	}
	v, err := decodeJSON(raw)
	if err != nil {
		return string(raw)
	}
	return v
}

// toolsValue converts tools to the list of dicts templates read, or None
// when there are none.
func toolsValue(tools []Tool) (any, error) {
	if len(tools) == 0 {
		return none, nil
	}
	out := make([]any, 0, len(tools))
	for _, t := range tools {
		fn := newDict()
		fn.set("name", t.Function.Name)
		if t.Function.Description != "" {
			fn.set("description", t.Function.Description)
		}
		if len(bytes.TrimSpace(t.Function.Parameters)) > 0 {
			params, err := decodeJSON(t.Function.Parameters)
			if err != nil {
				return nil, fmt.Errorf("tool %q parameters: %w", t.Function.Name, err)
			}
			fn.set("parameters", params)
		}
		d := newDict()
		d.set("type", orFunction(t.Type))
		d.set("function", fn.d)
		out = append(out, d.d)
	}
	return out, nil
}

func orFunction(typ string) string {
	if typ == "" {
		return "function"
	}
	return typ
}

// goValue converts an Extra value to the template value model.
func goValue(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return none, nil
	case string, bool, int, float64:
		return x, nil
	case int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return int(reflect.ValueOf(x).Convert(reflect.TypeFor[int64]()).Int()), nil
	case float32:
		return float64(x), nil
	case json.RawMessage:
		return decodeJSON(x)
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			ev, err := goValue(e)
			if err != nil {
				return nil, err
			}
			out = append(out, ev)
		}
		return out, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := newDict()
		for _, k := range keys {
			ev, err := goValue(x[k])
			if err != nil {
				return nil, err
			}
			d.set(k, ev)
		}
		return d.d, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return decodeJSON(b)
}

// decodeJSON decodes one JSON value to the template value model, keeping the
// order of object keys.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeJSONValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid JSON: data after the value")
	}
	return v, nil
}

func decodeJSONValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			return decodeJSONObject(dec)
		}
		return decodeJSONArray(dec)
	case json.Number:
		return jsonNumber(t), nil
	case nil:
		return none, nil
	default: // string, bool
		return t, nil
	}
}

func decodeJSONObject(dec *json.Decoder) (any, error) {
	d := newDict()
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		v, err := decodeJSONValue(dec)
		if err != nil {
			return nil, err
		}
		d.set(tok.(string), v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return d.d, nil
}

func decodeJSONArray(dec *json.Decoder) (any, error) {
	out := []any{}
	for dec.More() {
		v, err := decodeJSONValue(dec)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return out, nil
}

// jsonNumber makes an integer literal an int and anything else a float64,
// as Python's json module does.
func jsonNumber(n json.Number) any {
	s := n.String()
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil && i >= math.MinInt && i <= math.MaxInt {
			return int(i)
		}
	}
	f, _ := n.Float64()
	return f
}
