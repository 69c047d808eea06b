package anthropic

import "testing"

func TestStreamMarkers(t *testing.T) {
	if !IsDone([]byte("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")) || IsDone([]byte("event: ping\ndata: {}\n\n")) {
		t.Error("message_stop detection wrong")
	}
	if !IsError([]byte("event: error\ndata: {}\n\n")) {
		t.Error("error event not detected")
	}
	if got := string(ErrorEvent("api_error", "boom")); got != "event: error\ndata: {\"error\":{\"message\":\"boom\",\"type\":\"api_error\"},\"type\":\"error\"}\n\n" {
		t.Errorf("error event = %q", got)
	}
}
