package record

import "time"

// State machine types, as Step Functions names them.
const (
	StateMachineStandard = "STANDARD"
	StateMachineExpress  = "EXPRESS"
)

// StateMachine is a Step Functions state machine of a project: its
// Amazon States Language definition as the client sent it, and what
// DescribeStateMachine reports. Revision starts at 1 and grows with each
// update.
type StateMachine struct {
	Project    string
	Name       string
	Type       string // StateMachineStandard or StateMachineExpress
	Definition string
	RoleArn    string // stored and reported, never used
	Revision   int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}
