package providers

import "testing"

func TestAdaptiveThinking(t *testing.T) {
	c := &Client{}
	for model, want := range map[string]bool{
		"claude-opus-4-6": true, "claude-sonnet-4-6": true, "claude-opus-4-7-20260101": true, "claude-sonnet-5": true,
		"claude-opus-5-1": true, "anthropic/claude-opus-4-6": true,
		"claude-sonnet-4-5": false, "claude-sonnet-4-5-20250929": false, "claude-opus-4-1": false, "claude-3-7-sonnet-latest": false,
		"claude-haiku-4-5": false, "claude-opus-4": false, "claude-sonnet-4-20250514": false, "gpt-5": false,
	} {
		if got := c.AdaptiveThinking(model); got != want {
			t.Errorf("AdaptiveThinking(%q) = %v, want %v", model, got, want)
		}
	}
}
