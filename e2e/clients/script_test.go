package clients

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// The fakes follow one script, whatever the API. A case's prompt carries a
// tag, [[e2e:text:ID]] or [[e2e:tool:ID]]:
//
//   - text: the answer is a text with the case's marker (textMarker).
//   - tool: when the request offers the client's shell tool and no tool
//     result has come back yet, the answer asks that tool to run a command
//     that writes the case's file; once the result is back, the answer is
//     a text with toolMarker.
//
// A request without a tag (a title, a summary, a quota probe) gets a short
// text; one that forces a tool (tool_choice) or asks for JSON
// (response_format, output_format) gets an object built from its schema.

var tagRE = regexp.MustCompile(`\[\[e2e:(text|tool|object):([a-z0-9-]+)\]\]`)

func textMarker(id string) string { return "E2E-TEXT-" + strings.ToUpper(id) }
func toolMarker(id string) string { return "E2E-TOOL-" + strings.ToUpper(id) }
func fileMarker(id string) string { return "E2E-FILE-" + strings.ToUpper(id) }
func objMarker(id string) string  { return "E2E-OBJ-" + strings.ToUpper(id) }

// shellTools are the names clients give their shell tool, lower case.
var shellTools = []string{"bash", "run_shell_command", "shell", "run_terminal_command", "runterminalcommand", "terminal", "execute_command", "exec_command"}

// tool is a tool the request offers.
type tool struct {
	Name   string
	Schema map[string]any
}

// conversation is a request reduced to what the script needs.
type conversation struct {
	Model       string
	UserTexts   []string // the user turns' text, in order
	ToolResults int      // tool results after the last tagged user turn
	Tools       []tool
	ForcedTool  string         // tool_choice naming one tool
	AnyTool     bool           // tool_choice requiring some tool (any, required)
	JSONSchema  map[string]any // a requested response format's schema
	JSONObject  bool           // a requested JSON object without a schema
}

// reply is what the fake answers, in either API.
type reply struct {
	Text     string
	ToolName string
	ToolArgs map[string]any
	Decision string // for the record: text, tool, final, object, side
	CaseID   string
}

// cases maps a case ID to the directory its tool command writes into.
var cases sync.Map // string -> string

func caseFile(id, dir string) string { return dir + "/e2e-" + id + ".txt" }

// decide is the script.
func decide(c conversation) reply {
	kind, id := lastTag(c.UserTexts)
	if c.ForcedTool == "" && c.AnyTool && kind != "tool" && len(c.Tools) > 0 {
		c.ForcedTool = c.Tools[0].Name // the AI SDK's structured output: one "json" tool, required
	}
	switch {
	case c.ForcedTool != "":
		t := findTool(c.Tools, c.ForcedTool)
		return reply{ToolName: c.ForcedTool, ToolArgs: asObject(example(t.Schema, id)), Decision: "object", CaseID: id}
	case c.JSONSchema != nil && c.JSONSchema["properties"] != nil:
		return reply{Text: jsonString(example(c.JSONSchema, id)), Decision: "object", CaseID: id}
	case c.JSONObject || c.JSONSchema != nil: // any object (a JSON mode translated to a schema-less format)
		return reply{Text: jsonString(map[string]any{"marker": objMarker(id), "count": 3}), Decision: "object", CaseID: id}
	case id == "":
		return reply{Text: "modelbar e2e", Decision: "side"}
	case kind == "text" || kind == "object":
		return reply{Text: "The answer is " + textMarker(id) + ".", Decision: "text", CaseID: id}
	case c.ToolResults > 0:
		return reply{Text: "Done: " + toolMarker(id) + ".", Decision: "final", CaseID: id}
	}
	sh, ok := shellTool(c.Tools)
	if !ok {
		return reply{Text: "No shell tool was offered (" + toolNames(c.Tools) + ").", Decision: "side", CaseID: id}
	}
	dir, _ := cases.Load(id)
	d, _ := dir.(string)
	if d == "" {
		d = "/nonexistent-case-dir"
	}
	cmd := fmt.Sprintf("printf %%s %s > %s", fileMarker(id), caseFile(id, d))
	return reply{Text: "Running the command.", ToolName: sh.Name, ToolArgs: shellArgs(sh, cmd), Decision: "tool", CaseID: id}
}

// lastTag finds the last tag in the user turns.
func lastTag(texts []string) (kind, id string) {
	for i := len(texts) - 1; i >= 0; i-- {
		if m := tagRE.FindAllStringSubmatch(texts[i], -1); len(m) > 0 {
			last := m[len(m)-1]
			return last[1], last[2]
		}
	}
	return "", ""
}

// tagIndex is the index of the last user turn with a tag, or -1.
func tagIndex(texts []string) int {
	for i := len(texts) - 1; i >= 0; i-- {
		if tagRE.MatchString(texts[i]) {
			return i
		}
	}
	return -1
}

func shellTool(ts []tool) (tool, bool) {
	for _, name := range shellTools {
		for _, t := range ts {
			if strings.EqualFold(t.Name, name) {
				return t, true
			}
		}
	}
	return tool{}, false
}

func findTool(ts []tool, name string) tool {
	for _, t := range ts {
		if t.Name == name {
			return t
		}
	}
	return tool{Name: name}
}

func toolNames(ts []tool) string {
	var names []string
	for _, t := range ts {
		names = append(names, t.Name)
	}
	if len(names) == 0 {
		return "no tools"
	}
	return strings.Join(names, ", ")
}

// shellArgs fills the shell tool's arguments: the command, and any other
// required property from its schema (a description, a directory...).
func shellArgs(t tool, cmd string) map[string]any {
	args := map[string]any{}
	props, _ := t.Schema["properties"].(map[string]any)
	req, _ := t.Schema["required"].([]any)
	cmdKey := "command"
	if _, ok := props["command"]; !ok {
		for _, k := range []string{"cmd", "script"} {
			if _, ok := props[k]; ok {
				cmdKey = k
			}
		}
	}
	args[cmdKey] = cmd
	for _, r := range req {
		k, _ := r.(string)
		if _, done := args[k]; done || k == "" {
			continue
		}
		p, _ := props[k].(map[string]any)
		switch {
		case k == "description":
			args[k] = "write the e2e marker file"
		case k == "is_background" || k == "run_in_background":
			args[k] = false
		default:
			args[k] = example(p, "")
		}
	}
	return args
}

// example builds a value that satisfies a JSON schema, with the case's
// object marker in its strings.
func example(schema map[string]any, id string) any {
	if schema == nil {
		return map[string]any{}
	}
	if enum, ok := schema["enum"].([]any); ok && len(enum) > 0 {
		return enum[0]
	}
	if c, ok := schema["const"]; ok {
		return c
	}
	for _, k := range []string{"anyOf", "oneOf", "allOf"} {
		if alts, ok := schema[k].([]any); ok && len(alts) > 0 {
			if m, ok := alts[0].(map[string]any); ok {
				return example(m, id)
			}
		}
	}
	typ := schema["type"]
	if ts, ok := typ.([]any); ok && len(ts) > 0 {
		typ = ts[0]
	}
	switch typ {
	case "object":
		out := map[string]any{}
		props, _ := schema["properties"].(map[string]any)
		for k, p := range props {
			pm, _ := p.(map[string]any)
			out[k] = example(pm, id)
		}
		return out
	case "array":
		item, _ := schema["items"].(map[string]any)
		return []any{example(item, id)}
	case "integer", "number":
		return 3
	case "boolean":
		return true
	case "null":
		return nil
	case "string":
		if id == "" {
			return "e2e"
		}
		return objMarker(id)
	}
	if _, ok := schema["properties"]; ok {
		return example(map[string]any{"type": "object", "properties": schema["properties"]}, id)
	}
	return map[string]any{}
}

func asObject(v any) map[string]any {
	if m, ok := v.(map[string]any); ok {
		return m
	}
	return map[string]any{"value": v}
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "{}"
	}
	return string(b)
}
