package flow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/sdk/go/wire"
)

type order struct {
	ID    string `json:"id"`
	Items int    `json:"items"`
}

type payment struct {
	Amount int `json:"amount"`
}

// charge is an activity of the fake host: 10 per item, declined above 5.
func charge(in json.RawMessage) (json.RawMessage, *wire.FlowError) {
	var o order
	if err := json.Unmarshal(in, &o); err != nil {
		return nil, &wire.FlowError{Type: wire.FlowErrBadInput, Message: err.Error()}
	}
	if o.Items > 5 {
		return nil, &wire.FlowError{Type: "CardDeclined", Message: "limit exceeded", Attempts: 3}
	}
	return json.RawMessage(fmt.Sprintf(`{"amount":%d}`, 10*o.Items)), nil
}

func TestCallReturnsOutputsAndReplays(t *testing.T) {
	h := newFakeHost(t)
	h.activities["charge"] = charge
	h.activities["ship"] = func(json.RawMessage) (json.RawMessage, *wire.FlowError) { return json.RawMessage(`"parcel-7"`), nil }
	var reachedEnd int
	register(t, "fulfil", func(ctx Context, o order) (string, error) {
		require.Equal(t, "exec-1", ctx.ExecutionID())
		require.Equal(t, "fulfil", ctx.Workflow())
		require.Equal(t, 1, ctx.Run())
		var p payment
		if err := Call(ctx, "charge", o, &p, Retry{Max: 5, Backoff: time.Second}); err != nil {
			return "", err
		}
		var parcel string
		if err := Call(ctx, "ship", p, &parcel); err != nil {
			return "", err
		}
		reachedEnd++
		return fmt.Sprintf("%s paid %d, %s", o.ID, p.Amount, parcel), nil
	})

	out := h.runToEnd("fulfil", `{"id":"o-1","items":3}`)
	require.Nil(t, out.Error)
	require.JSONEq(t, `"o-1 paid 30, parcel-7"`, string(out.Output))
	// Two steps: suspended at each, then the run that completes replays both.
	require.Equal(t, 3, h.runs)
	require.Equal(t, 1, reachedEnd, "code after a waiting step runs only once it has a result")
	require.Equal(t, map[string]int{"charge": 1, "ship": 1}, h.executed, "replay returns recorded results")
	require.Len(t, h.history, 2)
	require.Equal(t, wire.FlowRequest{Op: wire.FlowOpSchedule, Kind: wire.FlowCall, Name: "charge",
		Input: json.RawMessage(`{"id":"o-1","items":3}`), Retry: &wire.FlowRetry{MaxAttempts: 5, InitialMS: 1000}}, h.history[0].req)
	require.JSONEq(t, `{"amount":30}`, string(h.history[1].req.Input))
	// The final run: schedule, await, schedule, await.
	require.Len(t, h.log, 4)
	require.Equal(t, []int{1}, h.log[1].Steps)
	require.Equal(t, []int{2}, h.log[3].Steps)
}

func TestActivityFailureIsTyped(t *testing.T) {
	h := newFakeHost(t)
	h.activities["charge"] = charge
	h.activities["release"] = func(json.RawMessage) (json.RawMessage, *wire.FlowError) { return nil, nil }
	var caught *Error
	register(t, "saga", func(ctx Context, o order) (int, error) {
		err := Call(ctx, "charge", o, nil)
		if !errors.As(err, &caught) {
			return 0, err
		}
		if err := Call(ctx, "release", o, nil); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("fulfil %s: %w", o.ID, err)
	})
	out := h.runToEnd("saga", `{"id":"o-2","items":9}`)
	require.Equal(t, &Error{Type: "CardDeclined", Message: "limit exceeded", Step: 1, Name: "charge", Attempts: 3}, caught)
	require.Equal(t, "step 1 charge: CardDeclined: limit exceeded (after 3 attempts)", caught.Error())
	require.Equal(t, 1, h.executed["release"], "compensation ran")
	// A wrapped *Error keeps its type and step; the message is the chain's.
	require.Equal(t, &wire.FlowError{Type: "CardDeclined", Step: 1, Name: "charge", Attempts: 3,
		Message: "fulfil o-2: step 1 charge: CardDeclined: limit exceeded (after 3 attempts)"}, out.Error)
}

func TestWorkflowErrors(t *testing.T) {
	h := newFakeHost(t)
	register(t, "plain", func(ctx Context, in string) (string, error) { return "", errors.New("no stock for " + in) })
	register(t, "typed", func(ctx Context, in string) (string, error) { return "", NewError("OutOfStock", in) })
	register(t, "panics", func(ctx Context, in []int) (int, error) { return in[3], nil })
	var logs bytes.Buffer
	prev := stderr
	stderr = &logs
	t.Cleanup(func() { stderr = prev })

	require.Equal(t, &wire.FlowError{Type: "WorkflowError", Message: "no stock for x"}, h.invoke("plain", `"x"`).Error)
	require.Equal(t, &wire.FlowError{Type: "OutOfStock", Message: "x"}, h.invoke("typed", `"x"`).Error)

	out := h.invoke("panics", `[1]`)
	require.Equal(t, wire.FlowErrPanic, out.Error.Type)
	require.Contains(t, out.Error.Message, "index out of range [3] with length 1")
	require.Contains(t, logs.String(), "workflow panics (execution exec-1) panicked")
	require.Contains(t, logs.String(), "workflow_test.go", "the stack names the panicking line")

	out = h.invoke("typed", `{"not":"a string"}`)
	require.Equal(t, wire.FlowErrBadInput, out.Error.Type)
	require.True(t, out.Error.NonRetryable)
	require.Contains(t, out.Error.Message, "workflow typed: decode input")

	out = h.invoke("missing", `1`)
	require.Equal(t, wire.FlowErrUnknown, out.Error.Type)
	require.Contains(t, out.Error.Message, `"missing"`)

	out = orchestrateRaw(t, []byte(`{"workflow":`))
	require.Equal(t, wire.FlowErrBadInput, out.Error.Type)
	require.Empty(t, h.history, "no step was recorded")
}

func TestMapSchedulesAllThenOneAwait(t *testing.T) {
	h := newFakeHost(t)
	h.activities["charge"] = charge
	register(t, "fanout", func(ctx Context, orders []order) ([]payment, error) {
		return Map[order, payment](ctx, orders, "charge", Timeouts{StartToClose: time.Minute})
	})
	out := h.runToEnd("fanout", `[{"items":1},{"items":2},{"items":3}]`)
	require.Nil(t, out.Error)
	require.JSONEq(t, `[{"amount":10},{"amount":20},{"amount":30}]`, string(out.Output))
	require.Equal(t, 2, h.runs, "one wait for all steps")
	require.Len(t, h.log, 4)
	for i, r := range h.log[:3] {
		require.Equal(t, wire.FlowOpSchedule, r.Op)
		require.Equal(t, &wire.FlowTimeouts{StartToCloseMS: 60000}, r.Timeouts)
		require.Equal(t, i+1, h.history[i].step)
	}
	require.Equal(t, wire.FlowRequest{Op: wire.FlowOpAwait, Steps: []int{1, 2, 3}}, h.log[3])

	// Failures: the others' results are still there; errors.As finds the first.
	h = newFakeHost(t)
	h.activities["charge"] = charge
	var got []payment
	var mapErr error
	register(t, "fanout-fail", func(ctx Context, orders []order) (int, error) {
		got, mapErr = Map[order, payment](ctx, orders, "charge")
		return 0, nil
	})
	h.runToEnd("fanout-fail", `[{"items":7},{"items":2},{"items":8}]`)
	require.Equal(t, []payment{{}, {20}, {}}, got)
	var fe *Error
	require.ErrorAs(t, mapErr, &fe)
	require.Equal(t, 1, fe.Step)
	require.Contains(t, mapErr.Error(), "step 3 charge: CardDeclined")
}

func TestGoAndAwait(t *testing.T) {
	h := newFakeHost(t)
	h.activities["charge"] = charge
	h.activities["ship"] = func(json.RawMessage) (json.RawMessage, *wire.FlowError) { return json.RawMessage(`"p"`), nil }
	register(t, "async", func(ctx Context, o order) (string, error) {
		a := Go(ctx, "charge", o)
		b := Go(ctx, "ship", nil)
		if err := Await(ctx, a, b); err != nil {
			return "", err
		}
		var p payment
		var parcel string
		if err := a.Get(&p); err != nil {
			return "", err
		}
		if err := b.Get(&parcel); err != nil {
			return "", err
		}
		return fmt.Sprint(p.Amount, parcel), nil
	})
	out := h.runToEnd("async", `{"items":2}`)
	require.JSONEq(t, `"20p"`, string(out.Output))
	require.Len(t, h.log, 3, "Get after Await makes no host call")
	require.Empty(t, h.log[1].Input, "a nil input is sent as no input")
}

func TestSuspendStopsWorkflowCode(t *testing.T) {
	h := newFakeHost(t)
	h.activities["charge"] = charge
	var after, swallowed int
	register(t, "stops", func(ctx Context, o order) (int, error) {
		func() {
			defer func() {
				if recover() != nil {
					swallowed++ // workflow code that recovers what it should not
				}
			}()
			_ = Call(ctx, "charge", o, nil)
		}()
		after++
		_ = Call(ctx, "charge", o, nil) // unwinds again without a host call
		return 1, nil
	})
	calls := 0
	h.refuse = func(*wire.FlowRequest) *wire.FlowError { calls++; return nil }
	out := h.invoke("stops", `{"items":1}`)
	require.Equal(t, wire.FlowOutcome{Suspended: true}, out)
	require.Equal(t, 1, swallowed)
	require.Equal(t, 1, after)
	require.Equal(t, 1, calls, "no step after the suspension reached the host")
	require.Len(t, h.log, 2)
}

func TestCanceledSurfacesOnce(t *testing.T) {
	h := newFakeHost(t)
	h.activities["refund"] = func(json.RawMessage) (json.RawMessage, *wire.FlowError) { return json.RawMessage(`true`), nil }
	h.cancelAt = 1
	var sleepErr error
	register(t, "cancel", func(ctx Context, _ any) (bool, error) {
		sleepErr = Sleep(ctx, 90*time.Minute)
		if errors.Is(sleepErr, ErrCanceled) {
			var refunded bool
			if err := Call(ctx, "refund", nil, &refunded); err != nil {
				return false, err
			}
			return refunded, sleepErr
		}
		return false, nil
	})
	out := h.runToEnd("cancel", ``)
	require.ErrorIs(t, sleepErr, ErrCanceled)
	require.NotErrorIs(t, sleepErr, ErrTimeout)
	require.Equal(t, &wire.FlowError{Type: wire.FlowErrCanceled, Message: "the execution was canceled", Step: 1}, out.Error)
	require.Equal(t, 1, h.executed["refund"], "the step after the cancellation ran")
	require.Equal(t, int64(90*60*1000), h.history[0].req.DurationMS)
}

func TestWaitSignal(t *testing.T) {
	type approval struct {
		OK bool   `json:"ok"`
		By string `json:"by"`
	}
	register(t, "approve", func(ctx Context, _ any) (string, error) {
		a, err := WaitSignal[approval](ctx, "approval", 72*time.Hour)
		if errors.Is(err, ErrTimeout) {
			return "escalated", nil
		}
		if err != nil {
			return "", err
		}
		return fmt.Sprint(a.OK, " by ", a.By), nil
	})

	h := newFakeHost(t)
	h.signals["approval"] = []json.RawMessage{json.RawMessage(`{"ok":true,"by":"ann"}`)}
	require.JSONEq(t, `"true by ann"`, string(h.runToEnd("approve", ``).Output))
	require.Equal(t, wire.FlowRequest{Op: wire.FlowOpSchedule, Kind: wire.FlowSignal, Name: "approval", DurationMS: 72 * 3600 * 1000}, h.history[0].req)

	h = newFakeHost(t)
	require.JSONEq(t, `"escalated"`, string(h.runToEnd("approve", ``).Output))

	var err error
	register(t, "bad-timeout", func(ctx Context, _ any) (int, error) {
		_, err = WaitSignal[int](ctx, "x", -time.Second)
		return 0, nil
	})
	h.invoke("bad-timeout", ``)
	require.ErrorContains(t, err, "negative timeout")
}

func TestChild(t *testing.T) {
	h := newFakeHost(t)
	type res struct {
		Child int    `json:"child"`
		ID    string `json:"id"`
	}
	var optErr error
	register(t, "parent", func(ctx Context, n int) (res, error) {
		_, optErr = Child[res](ctx, "kid", n, Retry{Max: 2})
		return Child[res](ctx, "kid", n, ID("kid-1"))
	})
	out := h.runToEnd("parent", `4`)
	require.JSONEq(t, `{"child":4,"id":"kid-1"}`, string(out.Output))
	require.ErrorContains(t, optErr, "flow.Retry applies to calls, not to child")
	require.Equal(t, wire.FlowRequest{Op: wire.FlowOpSchedule, Kind: wire.FlowChild, Name: "kid", ID: "kid-1", Input: json.RawMessage(`4`)}, h.history[0].req)
}

func TestRecordedValues(t *testing.T) {
	h := newFakeHost(t)
	h.versions = map[string]int{"old-change": 0}
	type values struct {
		Now    time.Time
		Random uint64
		ID     string
		V1, V2 int
	}
	var seen []values
	register(t, "values", func(ctx Context, _ any) (values, error) {
		v := values{Now: Now(ctx), Random: Random(ctx), ID: NewID(ctx),
			V1: Version(ctx, "old-change", 0, 2), V2: Version(ctx, "new-change", 1, 3)}
		seen = append(seen, v)
		if err := Sleep(ctx, time.Nanosecond); err != nil { // rounds up to 1 ms
			return v, err
		}
		return v, nil
	})
	out := h.runToEnd("values", ``)
	require.Nil(t, out.Error)
	want := values{Now: time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC), Random: 1<<62 + 2, ID: "uuid-3", V1: 0, V2: 3}
	require.Equal(t, []values{want, want}, seen, "replay returns the recorded values")
	require.Equal(t, wire.FlowRequest{Op: wire.FlowOpSchedule, Kind: wire.FlowVersion, Name: "new-change", Min: 1, Max: 3}, h.history[4].req)
	require.Equal(t, int64(1), h.history[5].req.DurationMS)

	// A refused value step fails the execution with the host's error.
	h = newFakeHost(t)
	h.refuse = func(r *wire.FlowRequest) *wire.FlowError {
		return &wire.FlowError{Type: wire.FlowErrNonDeterminism, Step: 1, Message: "step 1 was call charge, now now"}
	}
	out = h.invoke("values", ``)
	require.Equal(t, &wire.FlowError{Type: wire.FlowErrNonDeterminism, Step: 1, Message: "step 1 was call charge, now now"}, out.Error)
}

func TestNonDeterminismAndRefusals(t *testing.T) {
	h := newFakeHost(t)
	h.activities["a"] = func(json.RawMessage) (json.RawMessage, *wire.FlowError) { return nil, nil }
	h.activities["b"] = h.activities["a"]
	name := "a"
	register(t, "changing", func(ctx Context, _ any) (int, error) {
		return 0, Call(ctx, name, nil, nil)
	})
	require.True(t, h.invoke("changing", ``).Suspended)
	name = "b" // the code changed under a running execution
	out := h.invoke("changing", ``)
	require.Equal(t, wire.FlowErrNonDeterminism, out.Error.Type)
	require.Equal(t, 1, out.Error.Step)
	require.Equal(t, "b", out.Error.Name)

	h = newFakeHost(t)
	h.refuse = func(r *wire.FlowRequest) *wire.FlowError {
		return &wire.FlowError{Type: wire.FlowErrPayloadTooLarge, Message: "input is 3 MiB, over the 2 MiB limit"}
	}
	var callErr error
	register(t, "big", func(ctx Context, _ any) (int, error) {
		callErr = Call(ctx, "a", strings.Repeat("x", 10), nil)
		return 0, callErr
	})
	out = h.invoke("big", ``)
	require.Equal(t, &Error{Type: wire.FlowErrPayloadTooLarge, Name: "a", Message: "input is 3 MiB, over the 2 MiB limit"}, callErr)
	require.Equal(t, wire.FlowErrPayloadTooLarge, out.Error.Type)
}

func TestContinueAsNew(t *testing.T) {
	h := newFakeHost(t)
	register(t, "loop", func(ctx Context, n int) (int, error) {
		if n < 10 {
			return 0, ContinueAsNew(n + 1)
		}
		return n, nil
	})
	require.Equal(t, wire.FlowOutcome{ContinueAsNew: json.RawMessage(`4`)}, h.invoke("loop", `3`))
	require.Equal(t, wire.FlowOutcome{Output: json.RawMessage(`10`)}, h.invoke("loop", `10`))

	register(t, "loop-bad", func(ctx Context, n int) (int, error) { return 0, ContinueAsNew(func() {}) })
	out := h.invoke("loop-bad", `1`)
	require.Equal(t, "WorkflowError", out.Error.Type)
	require.Contains(t, out.Error.Message, "flow.ContinueAsNew: encode input")
}

func TestOutsideStrata(t *testing.T) {
	// With the real host call, outside WebAssembly, steps fail clearly.
	register(t, "outside", func(ctx Context, _ any) (int, error) { return 0, Call(ctx, "a", nil, nil) })
	var task = []byte(`{"workflow":"outside","execution":"e","run":1}`)
	out := orchestrateRaw(t, task)
	require.Equal(t, "WorkflowError", out.Error.Type)
	require.Contains(t, out.Error.Message, "only inside a Strata function")
}
