// Command orch registers the workflows of the wferrors project: each one
// meets one kind of bad input or failure, and the ones that catch an error
// report it in their output so the test can check what the code saw.
package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/stratahq/strata/sdk/go/flow"
)

// Order is the input of typed: a struct, so a JSON string does not fit.
type Order struct {
	ID  string `json:"id"`
	Qty int    `json:"qty"`
}

// Task is the input of the worker activity.
type Task struct {
	Op string `json:"op"`
	N  int    `json:"n"`
}

// Caught is what a workflow that caught a step's error reports.
type Caught struct {
	IsTimeout bool   `json:"is_timeout"` // errors.Is(err, flow.ErrTimeout)
	Type      string `json:"type"`
	Message   string `json:"message"`
	Step      int    `json:"step"`
	Name      string `json:"name"`
	Attempts  int    `json:"attempts"`
	Results   []int  `json:"results,omitempty"`
}

func caught(err error) (Caught, error) {
	var fe *flow.Error
	if !errors.As(err, &fe) {
		return Caught{}, fmt.Errorf("want a *flow.Error, got %T: %w", err, err)
	}
	return Caught{IsTimeout: errors.Is(err, flow.ErrTimeout), Type: fe.Type, Message: fe.Message,
		Step: fe.Step, Name: fe.Name, Attempts: fe.Attempts}, nil
}

// Loop is the state of loop-can, carried from run to run.
type Loop struct {
	Done, Total int
}

// LoopResult is loop-can's output.
type LoopResult struct {
	Done int `json:"done"`
	Run  int `json:"run"`
}

func init() {
	flow.Workflow("typed", func(ctx flow.Context, o Order) (string, error) {
		return fmt.Sprintf("order %s x%d", o.ID, o.Qty), nil
	})
	flow.Workflow("quick", func(ctx flow.Context, n int) (int, error) {
		return n + 1, nil
	})
	// waiter waits (long) for the signal "go" and returns its value.
	flow.Workflow("waiter", func(ctx flow.Context, _ any) (string, error) {
		return flow.WaitSignal[string](ctx, "go", time.Hour)
	})
	flow.Workflow("slow-call", func(ctx flow.Context, _ any) (Caught, error) {
		err := flow.Call(ctx, "worker", Task{Op: "sleep"}, nil,
			flow.Timeouts{StartToClose: time.Second}, flow.Retry{Max: 2, Backoff: 100 * time.Millisecond})
		if err == nil {
			return Caught{}, errors.New("the slow call succeeded")
		}
		return caught(err)
	})
	flow.Workflow("no-heartbeat", func(ctx flow.Context, _ any) (Caught, error) {
		err := flow.Call(ctx, "worker", Task{Op: "quiet"}, nil,
			flow.Timeouts{Heartbeat: 500 * time.Millisecond}, flow.Retry{Max: 2, Backoff: 100 * time.Millisecond})
		if err == nil {
			return Caught{}, errors.New("the quiet call succeeded")
		}
		return caught(err)
	})
	// loop makes n sequential steps in one run.
	flow.Workflow("loop", func(ctx flow.Context, n int) (int, error) {
		for i := range n {
			if err := flow.Call(ctx, "worker", Task{Op: "echo", N: i}, nil); err != nil {
				return i, err
			}
		}
		return n, nil
	})
	// loop-can makes Total steps, 20 per run, continuing as new between.
	flow.Workflow("loop-can", func(ctx flow.Context, l Loop) (LoopResult, error) {
		for i := 0; i < 20 && l.Done < l.Total; i++ {
			if err := flow.Call(ctx, "worker", Task{Op: "echo", N: l.Done}, nil); err != nil {
				return LoopResult{}, err
			}
			l.Done++
		}
		if l.Done < l.Total {
			return LoopResult{}, flow.ContinueAsNew(l)
		}
		return LoopResult{Done: l.Done, Run: ctx.Run()}, nil
	})
	flow.Workflow("panics", func(ctx flow.Context, _ any) (int, error) {
		var n int
		if err := flow.Call(ctx, "worker", Task{Op: "echo", N: 7}, &n); err != nil {
			return 0, err
		}
		var m map[string]int
		m["deliberate"] = n // a nil map write: panics
		return n, nil
	})
	// fanout runs worker over n items; item bad fails without retry.
	flow.Workflow("fanout", func(ctx flow.Context, in struct{ N, Bad int }) (Caught, error) {
		items := make([]Task, in.N)
		for i := range items {
			items[i] = Task{Op: "echo", N: i}
		}
		items[in.Bad].Op = "fail"
		out, err := flow.Map[Task, int](ctx, items, "worker")
		if err == nil {
			return Caught{Results: out}, errors.New("no item failed")
		}
		c, cerr := caught(err)
		c.Results = out
		return c, cerr
	})
}

func main() {}
