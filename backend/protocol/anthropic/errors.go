package anthropic

import "github.com/modelbar/modelbar/backend/protocol"

// errorBody is the API's error body, in its field order.
type errorBody struct {
	Type  string    `json:"type"`
	Error errorInfo `json:"error"`
}

type errorInfo struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// ErrorBody renders the API's error body:
// {"type":"error","error":{"type":errType,"message":message}}.
func ErrorBody(errType, message string) []byte {
	b, _ := protocol.Marshal(errorBody{Type: "error", Error: errorInfo{Type: errType, Message: message}}) // strings always marshal
	return b
}

// ErrorType maps an HTTP status to the API's error type, as its errors
// reference lists them: 400 invalid_request_error, 401
// authentication_error, 402 billing_error, 403 permission_error, 404
// not_found_error, 413 request_too_large, 429 rate_limit_error, 500
// api_error, 504 timeout_error, 529 overloaded_error. Decided here: 408 is
// timeout_error too; 503 (a backend unavailable or overloaded for now) is
// overloaded_error, which clients treat as "try again later"; other 4xx are
// invalid_request_error (the API does the same); 502 and other statuses are
// api_error.
func ErrorType(status int) string {
	switch status {
	case 400:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 402:
		return "billing_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 408, 504:
		return "timeout_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 503, 529:
		return "overloaded_error"
	}
	if status >= 400 && status < 500 {
		return "invalid_request_error"
	}
	return "api_error"
}
