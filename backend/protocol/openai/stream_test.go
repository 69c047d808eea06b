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
