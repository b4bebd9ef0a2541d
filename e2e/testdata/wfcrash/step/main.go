// Command step is the activity of the workflow "crashy". Every attempt
// first records itself (execution, step, name, attempt) in the database
// bound as "db", committed before it does anything else, then sleeps
// sleep_ms and answers "<name>(<in>)". The rows are the durable record of
// what ran, which the crash tests count.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/stratahq/strata/sdk/go/db"
	"github.com/stratahq/strata/sdk/go/flow"
)

// Step is the activity's input.
type Step struct {
	Name    string `json:"name"`
	In      string `json:"in"`
	SleepMS int    `json:"sleep_ms"`
}

var trace = db.Open("db")

func init() {
	flow.Activity(func(ctx context.Context, s Step) (string, error) {
		info, ok := flow.ActivityInfo(ctx)
		if !ok {
			return "", flow.NonRetryable(flow.NewError("NotAStep", "step runs as a workflow step only"))
		}
		if _, err := trace.Exec(ctx, `create table if not exists attempts (
			id integer primary key autoincrement,
			execution text not null, step integer not null, name text not null,
			attempt integer not null, at_ns integer not null)`); err != nil {
			return "", fmt.Errorf("create the trace table: %w", err)
		}
		if _, err := trace.Exec(ctx, `insert into attempts (execution, step, name, attempt, at_ns) values ($1, $2, $3, $4, $5)`,
			info.Execution, info.Step, s.Name, info.Attempt, time.Now().UnixNano()); err != nil {
			return "", fmt.Errorf("record the attempt: %w", err)
		}
		time.Sleep(time.Duration(s.SleepMS) * time.Millisecond)
		return s.Name + "(" + s.In + ")", nil
	})
}

func main() {}
