// Command worker is the activity of the wferrors workflows. Its input says
// what to do: echo, sleep past the caller's start-to-close timeout,
// heartbeat a few times and then go quiet, or fail without retry. It logs
// each attempt of the slow operations, and "done" when one ran to its end.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/stratahq/strata/sdk/go/flow"
)

// Task is the activity's input.
type Task struct {
	Op string `json:"op"` // "echo", "sleep", "quiet" or "fail"
	N  int    `json:"n"`
}

func init() {
	flow.Activity(func(ctx context.Context, t Task) (int, error) {
		info, _ := flow.ActivityInfo(ctx)
		switch t.Op {
		case "echo":
			return t.N, nil
		case "sleep": // never answers within a 1s start-to-close timeout
			fmt.Printf("sleep %s attempt %d\n", info.Execution, info.Attempt)
			time.Sleep(5 * time.Second)
			fmt.Printf("sleep done %s attempt %d\n", info.Execution, info.Attempt)
			return t.N, nil
		case "quiet": // heartbeats three times, then stops
			fmt.Printf("quiet %s attempt %d\n", info.Execution, info.Attempt)
			for i := range 3 {
				if err := flow.Heartbeat(ctx, i); err != nil {
					return 0, err
				}
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(5 * time.Second)
			fmt.Printf("quiet done %s attempt %d\n", info.Execution, info.Attempt)
			return t.N, nil
		case "fail":
			return 0, flow.NonRetryable(flow.NewError("ItemRejected", fmt.Sprintf("item %d is rejected", t.N)))
		}
		return 0, flow.NonRetryable(flow.NewError("UnknownOp", "op "+t.Op))
	})
}

func main() {}
