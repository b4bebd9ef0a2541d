package sfn

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// apiError is an error as the AWS JSON protocol carries it: a type name
// the SDKs turn into their typed errors, a message, and an HTTP status
// (400 for every client error, as AWS answers).
type apiError struct {
	Type    string
	Message string
	Status  int
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

// errorf returns a 400 error of type typ.
func errorf(typ, format string, args ...any) *apiError {
	return &apiError{Type: typ, Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

// Error types Step Functions answers with (its API reference).
const (
	errInvalidArn            = "InvalidArn"
	errInvalidName           = "InvalidName"
	errInvalidDefinition     = "InvalidDefinition"
	errInvalidToken          = "InvalidToken"
	errInvalidExecutionInput = "InvalidExecutionInput"
	errMissingParameter      = "MissingRequiredParameter"
	errValidation            = "ValidationException"
	errDoesNotExist          = "StateMachineDoesNotExist"
	errAlreadyExists         = "StateMachineAlreadyExists"
	errTypeNotSupported      = "StateMachineTypeNotSupported"
	errUnknownOperation      = "UnknownOperationException"
	errSerialization         = "SerializationException"
	errUnrecognizedClient    = "UnrecognizedClientException"
	errAccessDenied          = "AccessDeniedException"
	errInternal              = "InternalFailure"
)

// writeError answers err in the protocol's shape; an error that is not an
// *apiError is an internal failure (500) whose text is not shown.
func writeError(w http.ResponseWriter, err error) {
	e, ok := err.(*apiError)
	if !ok {
		e = &apiError{Type: errInternal, Message: "internal failure", Status: http.StatusInternalServerError}
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	w.WriteHeader(e.Status)
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Type, e.Message})
	_, _ = w.Write(b)
}
