package anthropic

import "testing"

func TestErrorBody(t *testing.T) {
	got := string(ErrorBody("not_found_error", `model "x" <not> found`))
	want := `{"type":"error","error":{"type":"not_found_error","message":"model \"x\" <not> found"}}`
	if got != want {
		t.Errorf("ErrorBody = %s\nwant        %s", got, want)
	}
}

func TestErrorType(t *testing.T) {
	tests := map[int]string{
		400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
		403: "permission_error", 404: "not_found_error", 405: "invalid_request_error",
		408: "timeout_error", 409: "invalid_request_error", 413: "request_too_large",
		422: "invalid_request_error", 429: "rate_limit_error", 499: "invalid_request_error",
		500: "api_error", 502: "api_error", 503: "overloaded_error", 504: "timeout_error",
		529: "overloaded_error", 200: "api_error", 0: "api_error",
	}
	for status, want := range tests {
		if got := ErrorType(status); got != want {
			t.Errorf("ErrorType(%d) = %q, want %q", status, got, want)
		}
	}
}
