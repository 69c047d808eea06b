package gateway

import "testing"

func TestClientBaseURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:11500": "http://127.0.0.1:11500",
		"0.0.0.0:11500":   "http://127.0.0.1:11500",
		"[::]:43449":      "http://127.0.0.1:43449",
		":8080":           "http://127.0.0.1:8080",
		"[::1]:9":         "http://[::1]:9",
		"mac.local:11500": "http://mac.local:11500",
	} {
		if got := ClientBaseURL(addr); got != want {
			t.Errorf("ClientBaseURL(%q) = %q, want %q", addr, got, want)
		}
	}
}
