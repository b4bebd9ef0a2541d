package asl

import (
	"errors"
	"fmt"
	"strings"
)

// Error names defined by the States Language and AWS.
const (
	ErrAll                    = "States.ALL"
	ErrTaskFailed             = "States.TaskFailed"
	ErrTimeout                = "States.Timeout"
	ErrHeartbeatTimeout       = "States.HeartbeatTimeout"
	ErrRuntime                = "States.Runtime"
	ErrBranchFailed           = "States.BranchFailed"
	ErrNoChoiceMatched        = "States.NoChoiceMatched"
	ErrIntrinsicFailure       = "States.IntrinsicFailure"
	ErrResultPathMatchFailure = "States.ResultPathMatchFailure"
	ErrParameterPathFailure   = "States.ParameterPathFailure"
	ErrExceedToleratedFailure = "States.ExceedToleratedFailureThreshold"
	ErrDataLimitExceeded      = "States.DataLimitExceeded"
	ErrPermissions            = "States.Permissions"
	ErrItemReaderFailed       = "States.ItemReaderFailed"
	ErrQueryEvaluationError   = "States.QueryEvaluationError"
	ErrResultWriterFailed     = "States.ResultWriterFailed"
)

// Error is a named failure as Step Functions reports it: Error is the name
// Retry and Catch match, Cause the human text. Tasks return it to fail with
// a chosen name; any other error becomes States.TaskFailed.
type Error struct {
	Name  string
	Cause string
	// bare: the cause is complete as it is; the state-context prefix
	// ("An error occurred while executing the state ...") is not added.
	bare bool
}

func (e *Error) Error() string {
	if e.Cause == "" {
		return e.Name
	}
	return e.Name + ": " + e.Cause
}

// AsError returns err as an *Error, wrapping a foreign error as
// States.TaskFailed with its text as the cause.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Name: ErrTaskFailed, Cause: err.Error()}
}

func newErr(name, format string, args ...any) *Error {
	return &Error{Name: name, Cause: fmt.Sprintf(format, args...)}
}

// Diagnostic is one definition problem, as AWS words it in an
// InvalidDefinition error: a code, a message and a JSON pointer.
type Diagnostic struct {
	Code     string // SCHEMA_VALIDATION_FAILED, MISSING_TRANSITION_TARGET, ...
	Message  string
	Location string // JSON pointer, e.g. /States/X/Next
}

func (d Diagnostic) String() string {
	if d.Location == "" {
		if d.Code == CodeInvalidJSON {
			return d.Code + ": " + d.Message
		}
		// AWS prints a diagnostic without a location as "at null".
		return d.Code + ": " + d.Message + " at null"
	}
	return d.Code + ": " + d.Message + " at " + d.Location
}

// Diagnostic codes AWS uses in InvalidDefinition messages.
const (
	CodeSchema        = "SCHEMA_VALIDATION_FAILED"
	CodeMissingTarget = "MISSING_TRANSITION_TARGET"
	// AWS reports an unreachable state under MISSING_TRANSITION_TARGET
	// (measured: State "C" is not reachable.); there is no code of its own.
	CodeUnreachable     = "MISSING_TRANSITION_TARGET"
	CodeInvalidJSON     = "INVALID_JSON_DESCRIPTION"
	CodeDuplicateState  = "DUPLICATE_STATE_NAME"
	CodeNoTerminalState = "MISSING_END_STATE"
	CodeInvalidResource = "INVALID_RESOURCE"
)

// DefinitionError is every problem found in a definition; its text is the
// message of AWS's InvalidDefinition.
type DefinitionError struct {
	Diagnostics []Diagnostic
}

func (e *DefinitionError) Error() string {
	parts := make([]string, len(e.Diagnostics))
	for i, d := range e.Diagnostics {
		parts[i] = d.String()
	}
	return "Invalid State Machine Definition: '" + strings.Join(parts, ", ") + "'"
}
