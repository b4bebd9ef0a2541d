// Command starter starts a workflow per event it receives: from the queue
// "jobs" (the message, a number, is the input) and from its schedule
// (input 0). The event id is the execution id, so a redelivered message
// does not start a second execution.
package main

import (
	"context"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/flow"
)

func init() {
	strata.HandleEvent(func(ctx context.Context, e strata.Event) error {
		n, prefix := 0, "tick-"
		if e.Queue == "jobs" {
			if err := e.DataAs(&n); err != nil {
				return err
			}
			prefix = "job-"
		}
		_, err := flow.Start(ctx, "quick", prefix+e.ID, n)
		return err
	})
}

func main() {}
