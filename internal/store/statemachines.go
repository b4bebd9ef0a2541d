package store

import (
	"context"

	"github.com/stratahq/strata/internal/record"
)

// StateMachinesListParams pages a project's state machines by name.
type StateMachinesListParams struct {
	Project string
	After   string // name of the last machine of the previous page ("": from the first)
	Limit   int    // 0: 100
}

// StateMachines is the storage of Step Functions state machines. Part of
// Store; both backends implement it and storetest specifies it. Every
// method is scoped by project: a name is unique within its project only.
type StateMachines interface {
	// StateMachineCreate stores m (Revision 1, created and updated now)
	// and returns it as stored; a machine of that name in the project
	// already: an error wrapping ErrConflict.
	StateMachineCreate(ctx context.Context, m record.StateMachine) (*record.StateMachine, error)
	// StateMachineGet returns a machine; none: a *NotFoundError.
	StateMachineGet(ctx context.Context, project, name string) (*record.StateMachine, error)
	// StateMachineUpdate replaces a machine's definition and role,
	// raising its revision, and returns it; none: a *NotFoundError.
	StateMachineUpdate(ctx context.Context, project, name, definition, roleArn string) (*record.StateMachine, error)
	// StateMachinesList returns a project's machines by name (byte order).
	StateMachinesList(ctx context.Context, p StateMachinesListParams) ([]record.StateMachine, error)
	// StateMachineDelete removes a machine and reports whether it existed.
	StateMachineDelete(ctx context.Context, project, name string) (bool, error)
}
