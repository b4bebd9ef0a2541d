// Package flow is the guest side of Strata's durable workflows: workflows
// written as ordinary Go functions that survive crashes, wait for days,
// retry their steps and resume where they were (docs/workflows.md).
//
// # Orchestrators
//
// A workflow is a function of a flow.Context and an input, registered from
// an init function of a Strata function (built with GOOS=wasip1
// GOARCH=wasm -buildmode=c-shared):
//
//	func init() { flow.Workflow("fulfil", Fulfil) }
//
//	func Fulfil(ctx flow.Context, o Order) (Receipt, error) {
//		if err := flow.Call(ctx, "reserve-stock", o, nil, flow.Retry{Max: 5, Backoff: time.Second}); err != nil {
//			return Receipt{}, err
//		}
//		var pay Payment
//		if err := flow.Call(ctx, "charge-card", o, &pay); err != nil {
//			_ = flow.Call(ctx, "release-stock", o, nil) // compensation
//			return Receipt{}, err
//		}
//		labels, err := flow.Map[Parcel, Label](ctx, o.Parcels, "print-label")
//		...
//	}
//
// Each step (Call, Map, Sleep, WaitSignal, Child, ...) is a command the
// platform records in the execution's history. The platform runs the
// workflow function from the start every time something happens (a step
// finished, a timer fired, a signal arrived): steps already in the history
// return their recorded results at once, without running again, and the
// first step that must wait stops the function until its result is there.
// An orchestrator invocation therefore costs little and holds nothing
// while the workflow waits: a 72-hour WaitSignal or a 24-hour Sleep is a
// row in a table, not a blocked goroutine.
//
// # Determinism
//
// Because the function is replayed, it must make the same steps in the same
// order, with the same names and inputs, every time it runs against the
// same history. Workflow code must therefore not:
//
//   - read the clock (time.Now, time.Since): use flow.Now;
//   - draw random numbers or ids (math/rand, crypto/rand, uuid): use
//     flow.Random and flow.NewID;
//   - depend on map iteration order when it decides which steps to make:
//     sort the keys first;
//   - start goroutines or use channels, select, or time.Sleep: use
//     flow.Go (with Future.Get), Await, Map and Sleep, which the platform runs
//     concurrently and durably;
//   - do I/O directly (HTTP, databases, files, environment variables that
//     change): put it in an activity and Call it;
//   - recover from panics it did not cause: a step that must wait stops the
//     function with a panic that the package recovers. (If workflow code
//     swallows it anyway, the run still ends as suspended.)
//
// Output written to stdout or stderr is repeated on every replay.
//
// A workflow that breaks these rules and no longer matches its history
// fails with a NonDeterminism error naming the step; the history itself
// is not changed.
//
// # Changing a workflow that has running executions
//
// Executions started by the old code replay with the new code. Guard a
// change with Version so both paths stay replayable:
//
//	if flow.Version(ctx, "add-fraud-check", 0, 1) >= 1 {
//		if err := flow.Call(ctx, "fraud-check", o, nil); err != nil { ... }
//	}
//
// An execution that passed this point before the change was recorded with
// version 0 (the minimum) and keeps taking the old path; new executions get
// 1 (the maximum). Once no execution of version 0 is left, raise the
// minimum to 1 and delete the old path.
//
// # Activities
//
// A step is an ordinary invocation of a Strata function. Any function can
// be called; one written for the purpose registers a typed handler:
//
//	func init() {
//		flow.Activity(func(ctx context.Context, o Order) (Payment, error) {
//			return charge(ctx, o, flow.IdempotencyKey(ctx))
//		})
//	}
//
// Activities run at least once: an attempt whose answer was lost (a crash,
// a timeout) is retried under the step's Retry policy. Make their effects
// idempotent, for example by passing IdempotencyKey (stable across
// attempts of one step) to the payment provider. An activity fails with
// the error it returns; NewError gives the error a type the workflow can
// branch on and Retry.NonRetryable can name, and NonRetryable stops the
// retries at once. Long activities call Heartbeat, which also tells them
// when the execution was canceled.
//
// # Errors
//
// A step that fails returns a *Error (use errors.As) carrying the error's
// type, the step, the function and the attempts made. errors.Is(err,
// ErrCanceled) tells a cancellation, errors.Is(err, ErrTimeout) a timeout.
// A workflow that returns an error fails its execution with it; a *Error
// keeps its type, anything else becomes a "WorkflowError". A panic fails
// it with a "Panic" error (and the stack on stderr).
//
// Cancellation is reported to one waiting step only, as an ErrCanceled
// error; the steps after it work normally, so the workflow can run its
// compensation before it returns.
//
// # Starting and signalling
//
// Any function (an HTTP handler, a queue consumer) starts executions with
// Start and signals them with Signal. Inside a workflow, use Child.
//
// The package uses only the standard library and talks to the platform
// through the flow host call (docs/ABI.md); outside a Strata function
// every step fails with an error saying so.
package flow
