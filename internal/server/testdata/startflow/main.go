// Command startflow is a test guest: for each event it receives it starts
// an execution of the workflow "count" with the input 20 (twenty
// sequential steps), whose id is "job-" and the event's id, so a
// redelivered message does not start a second one.
package main

import (
	"context"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/flow"
)

func init() {
	strata.HandleEvent(func(ctx context.Context, e strata.Event) error {
		_, err := flow.Start(ctx, "count", "job-"+e.ID, 20)
		return err
	})
}

func main() {}
