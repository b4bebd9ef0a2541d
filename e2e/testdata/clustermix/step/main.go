// Command step is the activity of the workflow "mix". Every attempt first
// records itself (execution, step, name, attempt) in the shared trace
// database, committed before anything else, then takes 100 ms and answers
// "<name>(<in>)".
package main

import (
	"context"
	"time"

	"github.com/stratahq/strata/sdk/go/db"
	"github.com/stratahq/strata/sdk/go/flow"
)

var trace = db.Open("db")

type input struct {
	Name string `json:"name"`
	In   string `json:"in"`
}

func init() {
	flow.Activity(func(ctx context.Context, s input) (string, error) {
		info, ok := flow.ActivityInfo(ctx)
		if !ok {
			return "", flow.NonRetryable(flow.NewError("NotAStep", "step runs as a workflow step only"))
		}
		if _, err := trace.Exec(ctx, `insert into attempts (execution, step, name, attempt, at) values ($1, $2, $3, $4, now())`,
			info.Execution, info.Step, s.Name, info.Attempt); err != nil {
			return "", err
		}
		time.Sleep(100 * time.Millisecond)
		return s.Name + "(" + s.In + ")", nil
	})
}

func main() {}
