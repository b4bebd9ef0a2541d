package apitype

import (
	"encoding/json"
	"time"
)

// ExecutionStart is the body of POST /executions.
type ExecutionStart struct {
	Workflow string `json:"workflow"`
	// ID is the execution id and its idempotency key; empty gets a new one.
	ID    string          `json:"id,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
}

// ExecutionInfo is an execution as the API shows it. Input, Output and
// Error are the JSON the engine recorded, embedded as JSON (null when
// absent).
type ExecutionInfo struct {
	ID         string          `json:"id"`
	Workflow   string          `json:"workflow"`
	Function   string          `json:"function"`
	Project    string          `json:"project"`
	Run        int             `json:"run"`
	Status     string          `json:"status"`
	Input      json.RawMessage `json:"input"`
	Output     json.RawMessage `json:"output"`
	Error      json.RawMessage `json:"error"`
	TraceID    string          `json:"trace_id"`
	ParentID   string          `json:"parent_id"`
	ParentStep int             `json:"parent_step"`
	HistoryLen int             `json:"history_len"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
	ClosedAt   time.Time       `json:"closed_at,omitzero"` // absent while running
}

// ExecutionList answers GET /executions, newest first.
type ExecutionList struct {
	Executions []ExecutionInfo `json:"executions"`
}

// ExecutionEvent is one history event.
type ExecutionEvent struct {
	Seq  int             `json:"seq"`
	Type string          `json:"type"`
	Step int             `json:"step"`
	Name string          `json:"name"`
	Data json.RawMessage `json:"data"`
	Time time.Time       `json:"time"`
}

// ExecutionHistory answers GET /executions/{id}/history, oldest first.
type ExecutionHistory struct {
	Events []ExecutionEvent `json:"events"`
}

// SignalAccepted answers POST /executions/{id}/signals/{name}: the signal
// is stored, and the execution consumes it when its code waits for it.
type SignalAccepted struct {
	ID     string `json:"id"`
	Signal string `json:"signal"`
}

// ExecutionAck answers POST /executions/{id}/cancel ("cancel requested")
// and /terminate ("terminated").
type ExecutionAck struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// ReasonRequest is the body of POST /executions/{id}/cancel and
// /terminate (optional).
type ReasonRequest struct {
	Reason string `json:"reason"`
}

// RestartRequest is the body of POST /executions/{id}/restart (optional).
type RestartRequest struct {
	FromFailure bool `json:"from_failure"`
}
