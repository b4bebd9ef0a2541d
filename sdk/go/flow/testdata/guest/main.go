// Command guest is a sample Strata function for the flow SDK (wasm_test.go
// runs it in the real runtime): it registers the workflows "greet" and
// "count" and serves their steps as an Activity, so one module is both the
// orchestrator and the activity "greeter" it calls.
package main

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/stratahq/strata/sdk/go/flow"
)

func init() {
	flow.Workflow("greet", func(ctx flow.Context, names []string) (string, error) {
		var first string
		if err := flow.Call(ctx, "greeter", names[0], &first, flow.Retry{Max: 3}); err != nil {
			return "", err
		}
		rest, err := flow.Map[string, string](ctx, names[1:], "greeter")
		if err != nil {
			return "", err
		}
		return first + "; " + strings.Join(rest, "; ") + "; " + flow.NewID(ctx), nil
	})
	// count makes n sequential steps: a long history for replay tests.
	flow.Workflow("count", func(ctx flow.Context, n int) (int, error) {
		for i := range n {
			if err := flow.Call(ctx, "greeter", strconv.Itoa(i), nil); err != nil {
				return i, err
			}
		}
		return n, nil
	})
	// parent runs count as a child twice, the second time under its own
	// id, and sleeps a little in between (a durable timer).
	flow.Workflow("parent", func(ctx flow.Context, n int) (int, error) {
		a, err := flow.Child[int](ctx, "count", n)
		if err != nil {
			return 0, err
		}
		if err := flow.Sleep(ctx, 10*time.Millisecond); err != nil {
			return 0, err
		}
		b, err := flow.Child[int](ctx, "count", n+1, flow.ID(ctx.ExecutionID()+"-second"))
		if err != nil {
			return 0, err
		}
		return a + b, nil
	})
	flow.Activity(func(ctx context.Context, name string) (string, error) {
		if name == "" {
			return "", flow.NonRetryable(flow.NewError("NoName", "empty name"))
		}
		return "hello " + name + " (" + flow.IdempotencyKey(ctx) + ")", nil
	})
}

func main() {}
