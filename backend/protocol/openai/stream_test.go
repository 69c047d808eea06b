package openai

import "testing"

func TestStreamMarkers(t *testing.T) {
	if !IsDone([]byte("data: [DONE]\n\n")) || IsDone([]byte("data: {}\n\n")) {
		t.Error("[DONE] detection wrong")
	}
	if !IsError([]byte("data: {\"error\":{\"message\":\"x\"}}\n\n")) || IsError([]byte("data: {\"choices\":[],\"error\":null}\n\n")) ||
		IsError([]byte("data: {\"choices\":[{\"delta\":{\"content\":\"\\\"error\\\"\"}}]}\n\n")) ||
		!IsError([]byte("event: error\ndata: {\"message\":\"CUDA out of memory\"}\n\n")) {
		t.Error("in-band error detection wrong")
	}
	if got := string(ErrorEvent("server_error", "boom")); got != "data: {\"error\":{\"code\":null,\"message\":\"boom\",\"param\":null,\"type\":\"server_error\"}}\n\n" {
		t.Errorf("error event = %q", got)
	}
}

func TestFinishes(t *testing.T) {
	for ev, want := range map[string]bool{
		`data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n":            true,
		`data: {"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}` + "\n\n": false,
		`data: {"choices":[],"usage":{"prompt_tokens":1}}` + "\n\n":                             false,
		`data: {"choices":[{"delta":{"content":"\"finish_reason\":\"stop\""}}]}` + "\n\n":       false,
		"data: [DONE]\n\n": false,
	} {
		if got := Finishes([]byte(ev)); got != want {
			t.Errorf("Finishes(%q) = %v, want %v", ev, got, want)
		}
	}
}
