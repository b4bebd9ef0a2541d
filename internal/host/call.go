package host

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Call is the invocation a host call comes from. The invoker fills it in
// before the invocation starts; handlers read it and must not change it
// (AddIdle aside).
type Call struct {
	Function     string
	Project      string // the function's project: everything the calls reach is scoped to it
	Version      int
	InvocationID string
	Config       record.FunctionConfig
	Deadline     time.Time // zero: none beyond the context's
	TraceParent  string    // W3C traceparent of the invocation, sent on fetches and events
	// Workflow is the workflow work this invocation does, nil for an
	// invocation outside a workflow.
	Workflow Workflow
	// Object is the durable object this invocation runs an event of
	// (internal/objects), which its storage, alarm and WebSocket host
	// calls act on; nil for any other invocation.
	Object Object

	idle atomic.Int64 // nanoseconds spent waiting on the platform
}

func (c *Call) String() string { return c.Function + "@" + strconv.Itoa(c.Version) }

// AddIdle records that the invocation spent d waiting on the platform
// rather than working: a workflow orchestrator blocked while its steps
// run. Idle time is in the invocation's duration but not in its billed
// time (as Step Functions and Durable Functions do not bill an
// orchestration's waits). On a nil Call it does nothing.
func (c *Call) AddIdle(d time.Duration) {
	if c != nil && d > 0 {
		c.idle.Add(int64(d))
	}
}

// Idle is the time AddIdle recorded.
func (c *Call) Idle() time.Duration { return time.Duration(c.idle.Load()) }

// Workflow is the flow engine's side of an invocation that runs for a
// workflow execution (package flow implements it): an orchestrator pass
// answers the guest's commands (schedule, await), an activity attempt
// its heartbeats. Starting and signalling workflows is open to every
// invocation and is not here.
type Workflow interface {
	FlowCall(ctx context.Context, c *Call, req wire.FlowRequest) (*wire.FlowResponse, error)
}

// Object is the objects engine's side of an invocation that runs an event
// of one durable object: it answers the storage, alarm and WebSocket calls
// of that object (package objects implements it).
type Object interface {
	ObjectCall(ctx context.Context, c *Call, req wire.ObjectRequest) (*wire.ObjectResponse, error)
}
