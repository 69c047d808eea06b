package chattemplate

// familyKeys adds the message keys that only some families' templates
// read (issue 16): gpt-oss's thinking and Phi-4-mini's tools on the system
// turn. They come last in the dict, after the keys every template sees.
func familyKeys(d dict, m Message) {
	if m.Thinking != "" {
		d.set("thinking", m.Thinking)
	}
	if m.ToolsJSON != "" {
		d.set("tools", m.ToolsJSON)
	}
}
