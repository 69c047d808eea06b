package protocol

// RequestError is a client request the API refuses; Param names the field.
type RequestError struct {
	Param   string
	Message string
	// Unsupported: the field is valid in the client's API, but the internal
	// model cannot carry it (a document, a server tool). The request can
	// still be relayed untouched to a backend of the client's API.
	Unsupported bool
}

func (e *RequestError) Error() string {
	if e.Param == "" {
		return e.Message
	}
	return e.Param + ": " + e.Message
}
