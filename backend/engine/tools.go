package engine

import (
	"github.com/modelbar/modelbar/backend/engine/chattemplate"
	"github.com/modelbar/modelbar/backend/engine/modelfile"
	"github.com/modelbar/modelbar/backend/engine/toolcall"
)

// toolsAnswer is a cached answer of toolUse for one model directory, valid
// while the directory's size on disk is unchanged.
type toolsAnswer struct {
	size  int64
	tools bool
}

// toolUse reports whether a local model can be given tools: its chat
// template renders them and the engine reads the tool calls its family
// writes. The answer is cached per directory, so a model list does not
// parse every template each time.
func (e *Engine) toolUse(en modelfile.Entry) bool {
	if !en.Usable() {
		return false
	}
	e.mu.Lock()
	a, ok := e.tools[en.Path]
	e.mu.Unlock()
	if ok && a.size == en.SizeOnDisk {
		return a.tools
	}
	tools := templateTakesTools(en.Path)
	e.mu.Lock()
	if e.tools == nil {
		e.tools = map[string]toolsAnswer{}
	}
	e.tools[en.Path] = toolsAnswer{size: en.SizeOnDisk, tools: tools}
	e.mu.Unlock()
	return tools
}

func templateTakesTools(dir string) bool {
	tpl, err := chattemplate.Load(dir)
	if err != nil {
		return false
	}
	syntax, _ := toolcall.Detect(tpl.Source())
	return tpl.SupportsTools() && syntax != toolcall.None
}
