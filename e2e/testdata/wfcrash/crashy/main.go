// Command crashy registers the workflow "crashy": step A, step B (which
// takes b_ms), a durable timer of timer_ms, the signal "go", step C. Its
// output depends only on its input and the signal's value:
// "C(B(A(<value>))+<signal>)".
package main

import (
	"time"

	"github.com/stratahq/strata/sdk/go/flow"
)

// swapped puts the timer before step B. The test flips it and redeploys
// while an execution waits for its signal, so that the execution's history
// no longer matches the code (a non-determinism error).
const swapped = false

// Input is the workflow's input.
type Input struct {
	Value   string `json:"value"`
	BMillis int    `json:"b_ms"`     // how long step B takes
	TimerMS int    `json:"timer_ms"` // the durable timer after step B
}

// Step is the input of the activity "step".
type Step struct {
	Name    string `json:"name"`
	In      string `json:"in"`
	SleepMS int    `json:"sleep_ms"`
}

func init() { flow.Workflow("crashy", crashy) }

func crashy(ctx flow.Context, in Input) (string, error) {
	// A step whose attempt died with the server is tried again.
	retry := flow.Retry{Max: 5, Backoff: 200 * time.Millisecond}
	var a, b, c string
	if err := flow.Call(ctx, "step", Step{Name: "A", In: in.Value}, &a, retry); err != nil {
		return "", err
	}
	stepB := func() error {
		return flow.Call(ctx, "step", Step{Name: "B", In: a, SleepMS: in.BMillis}, &b, retry)
	}
	timer := func() error { return flow.Sleep(ctx, time.Duration(in.TimerMS)*time.Millisecond) }
	first, second := stepB, timer
	if swapped {
		first, second = timer, stepB
	}
	if err := first(); err != nil {
		return "", err
	}
	if err := second(); err != nil {
		return "", err
	}
	sig, err := flow.WaitSignal[string](ctx, "go", time.Hour)
	if err != nil {
		return "", err
	}
	if err := flow.Call(ctx, "step", Step{Name: "C", In: b + "+" + sig}, &c, retry); err != nil {
		return "", err
	}
	return c, nil
}

func main() {}
