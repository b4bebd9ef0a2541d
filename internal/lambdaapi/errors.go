package lambdaapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// apiError is an error as Lambda's REST-JSON protocol carries it: the type
// in X-Amzn-ErrorType (which the SDKs turn into their typed errors) and
// in the body, with a message and an HTTP status.
type apiError struct {
	Type    string
	Message string
	Status  int
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

func errorf(status int, typ, format string, args ...any) *apiError {
	return &apiError{Type: typ, Message: fmt.Sprintf(format, args...), Status: status}
}

// Error types of Lambda's Invoke (its API reference), and the client
// errors every AWS API shares.
const (
	errNotFound           = "ResourceNotFoundException"
	errInvalidContent     = "InvalidRequestContentException"
	errInvalidParameter   = "InvalidParameterValueException"
	errTooLarge           = "RequestTooLargeException" // what the SDKs know (the older docs said RequestEntityTooLargeException)
	errTooManyRequests    = "TooManyRequestsException"
	errNotReady           = "ResourceNotReadyException"
	errValidation         = "ValidationException"
	errUnknownOperation   = "UnknownOperationException"
	errUnrecognizedClient = "UnrecognizedClientException"
	errAccessDenied       = "AccessDeniedException"
	errService            = "ServiceException"
)

// writeError answers e; nil is an internal failure (500) whose cause is
// logged, not shown.
func writeError(w http.ResponseWriter, e *apiError) {
	if e == nil {
		e = &apiError{Type: errService, Message: "internal failure", Status: http.StatusInternalServerError}
	}
	typ := "User"
	if e.Status >= 500 {
		typ = "Service"
	}
	b, _ := json.Marshal(struct {
		Type    string `json:"Type"`
		Message string `json:"Message"`
	}{typ, e.Message})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set(hdrErrorType, e.Type)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(b)
}
