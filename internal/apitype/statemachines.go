package apitype

import (
	"encoding/json"
	"time"
)

// StateMachineInfo is a state machine of a project, as GET
// /state-machines lists it and GET /state-machines/{name} shows it (with
// its definition).
type StateMachineInfo struct {
	Project    string    `json:"project"`
	Name       string    `json:"name"`
	Arn        string    `json:"arn"`
	Type       string    `json:"type"` // STANDARD or EXPRESS
	Revision   int64     `json:"revision"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	Definition string    `json:"definition,omitempty"` // show only
}

// StateMachineList answers GET /state-machines.
type StateMachineList struct {
	StateMachines []StateMachineInfo `json:"state_machines"`
}

// StateMachineValidate is the body of POST /state-machines/validate: a
// definition as JSON.
type StateMachineValidate struct {
	Definition string `json:"definition"`
}

// StateMachineDiagnostic is one problem of a definition, as Step
// Functions' ValidateStateMachineDefinition reports it.
type StateMachineDiagnostic struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Location string `json:"location,omitempty"` // a JSON pointer
}

// StateMachineValidation answers POST /state-machines/validate: OK, or
// the diagnostics and the message CreateStateMachine would fail with.
type StateMachineValidation struct {
	Result      string                   `json:"result"` // OK or FAIL
	Diagnostics []StateMachineDiagnostic `json:"diagnostics,omitempty"`
	Message     string                   `json:"message,omitempty"`
}

// StateMachineStart is the body of POST /state-machines/{name}/start.
// Input is the execution's input (JSON; absent: {}). Sync runs it to its
// end and answers its result; otherwise it runs in the background.
type StateMachineStart struct {
	Input json.RawMessage `json:"input,omitempty"`
	Name  string          `json:"name,omitempty"` // of the execution; "": generated
	Sync  bool            `json:"sync,omitempty"`
}

// StateMachineExecution answers a start: the execution's ARN and name
// and, for a sync start, its status and output or error and cause.
type StateMachineExecution struct {
	ExecutionArn string          `json:"execution_arn"`
	Name         string          `json:"name"`
	Status       string          `json:"status"` // RUNNING (not sync), SUCCEEDED, FAILED, TIMED_OUT, ABORTED
	Output       json.RawMessage `json:"output,omitempty"`
	Error        string          `json:"error,omitempty"`
	Cause        string          `json:"cause,omitempty"`
	StartDate    time.Time       `json:"start_date"`
	StopDate     *time.Time      `json:"stop_date,omitempty"`
}
