package connect

import "strings"

// blocks lays a client's configuration out for a person: the settings to
// enter, the files to write, then the variables to export and the command
// that starts it.
func blocks(c Client) []Block {
	var bs []Block
	if len(c.Steps) > 0 {
		bs = append(bs, Block{Title: "Settings", Lang: "", Text: strings.Join(c.Steps, "\n") + "\n"})
	}
	for _, f := range c.Files {
		bs = append(bs, Block{Title: f.Path, Lang: f.Format, Text: f.Content})
	}
	if sh := shellText(c); sh != "" {
		bs = append(bs, Block{Lang: "sh", Text: sh})
	}
	return bs
}

func shellText(c Client) string {
	var b strings.Builder
	optional := false
	for _, e := range c.Env {
		if e.Optional && !optional {
			b.WriteString("# optional: " + c.OptionalEnv + "\n")
			optional = true
		}
		b.WriteString("export " + e.Name + "=" + shellWord(e.Value) + "\n")
	}
	if c.Run != "" {
		b.WriteString(c.Run + "\n")
	}
	return b.String()
}

// Markdown renders clients as README.md's "Connect your tools" section
// shows them: a heading per client, its blocks, its note and how it is
// tested.
func Markdown(cs []Client) string {
	var b strings.Builder
	for i, c := range cs {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString("### " + c.Name + "\n\n")
		for _, bl := range c.Blocks {
			writeBlock(&b, bl)
		}
		if c.Note != "" {
			b.WriteString(c.Note + "\n\n")
		}
		if c.Tested != "" {
			b.WriteString("Tested by " + c.Suite() + ": " + c.Tested + ".\n")
		} else {
			b.WriteString("Not run by the client suite: " + c.Untested + ".\n")
		}
	}
	return b.String()
}

// Suite names the suite that runs a client's configuration.
func (c Client) Suite() string {
	if c.TestedBy != "" {
		return c.TestedBy
	}
	return "the client suite"
}

func writeBlock(b *strings.Builder, bl Block) {
	if bl.Lang == "" { // settings to enter: a list
		b.WriteString(bl.Title + ":\n\n")
		for _, line := range strings.Split(strings.TrimRight(bl.Text, "\n"), "\n") {
			b.WriteString("- " + line + "\n")
		}
		b.WriteString("\n")
		return
	}
	if bl.Title != "" {
		b.WriteString("`" + bl.Title + "`:\n\n")
	}
	b.WriteString("```" + bl.Lang + "\n" + bl.Text)
	if !strings.HasSuffix(bl.Text, "\n") {
		b.WriteString("\n")
	}
	b.WriteString("```\n\n")
}
