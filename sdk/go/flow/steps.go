package flow

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/stratahq/strata/sdk/go/wire"
)

// Call runs function as an activity with in (encoded as JSON) and waits for
// its result, decoded into out (nil: the result is dropped). A failure
// after the retries is a *Error.
func Call(ctx Context, function string, in, out any, opts ...Option) error {
	req := wire.FlowRequest{Op: wire.FlowOpSchedule, Kind: wire.FlowCall, Name: function}
	if err := prepare(&req, in, opts); err != nil {
		return err
	}
	return step(ctx, &req, out)
}

// Future is a step that was scheduled and may not have finished yet.
type Future struct {
	o    *orchestration
	step int
	name string
	err  error // the schedule was refused, or the result's error
	res  json.RawMessage
	done bool
}

// Go schedules function as an activity and returns at once, like a go
// statement but durable: the platform starts the activity right away, and
// Get (or Await for several) waits for it. Use it to run different
// activities concurrently; Map runs one activity over many inputs.
func Go(ctx Context, function string, in any, opts ...Option) *Future {
	o := ctx.orchestration()
	req := wire.FlowRequest{Op: wire.FlowOpSchedule, Kind: wire.FlowCall, Name: function}
	f := &Future{o: o, name: function}
	if f.err = prepare(&req, in, opts); f.err == nil {
		f.step, _, f.err = o.schedule(&req)
	}
	f.done = f.err != nil
	return f
}

// Get waits for the step and decodes its result into out (nil: dropped).
func (f *Future) Get(out any) error {
	if !f.done {
		if err := f.o.await(f); err != nil {
			return err
		}
	}
	if f.err != nil {
		return f.err
	}
	return decodeResult(f, out)
}

// Await waits for all the futures with one wait, which the platform
// answers when the last finishes; their Get then returns at once. The
// error is the first future's failure, in argument order.
func Await(ctx Context, futures ...*Future) error {
	if err := ctx.orchestration().await(futures...); err != nil {
		return err
	}
	for _, f := range futures {
		if f.err != nil {
			return f.err
		}
	}
	return nil
}

// Map runs function once per item, all concurrently, and returns their
// results in item order. All steps are scheduled before the one wait for
// them. If any fail, the error joins their errors (errors.As finds the
// first *Error) and the results of the others are still returned.
func Map[I, O any](ctx Context, items []I, function string, opts ...Option) ([]O, error) {
	o := ctx.orchestration()
	futures := make([]*Future, len(items))
	for i := range items {
		futures[i] = Go(ctx, function, items[i], opts...)
		if err := futures[i].err; err != nil {
			return nil, fmt.Errorf("flow.Map %s: item %d: %w", function, i, err)
		}
	}
	if err := o.await(futures...); err != nil {
		return nil, err
	}
	out := make([]O, len(items))
	var errs []error
	for i, f := range futures {
		if err := f.Get(&out[i]); err != nil {
			errs = append(errs, err)
		}
	}
	switch len(errs) {
	case 0:
		return out, nil
	case 1:
		return out, errs[0]
	}
	return out, errors.Join(errs...)
}

// Sleep waits for d on a durable timer: the execution holds nothing while
// it sleeps, and a restart of the platform does not shorten or lengthen
// it. d is rounded up to whole milliseconds; d <= 0 returns at once.
func Sleep(ctx Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	return step(ctx, &wire.FlowRequest{Op: wire.FlowOpSchedule, Kind: wire.FlowSleep, DurationMS: millis(d)}, nil)
}

// WaitSignal waits for the signal name (sent with Signal or `strata
// workflow signal`) and decodes its value into T. Signals sent before the
// wait are buffered, one wait consuming one signal. A timeout > 0 bounds
// the wait: past it, the error matches errors.Is(err, ErrTimeout).
func WaitSignal[T any](ctx Context, name string, timeout time.Duration) (T, error) {
	var v T
	if timeout < 0 {
		return v, fmt.Errorf("flow.WaitSignal %s: negative timeout %v", name, timeout)
	}
	err := step(ctx, &wire.FlowRequest{Op: wire.FlowOpSchedule, Kind: wire.FlowSignal, Name: name, DurationMS: millis(timeout)}, &v)
	return v, err
}

// Child runs workflow as a child execution with in and waits for its
// output. Its id is the one the ID option gives, or one derived from this
// execution's; canceling this execution cancels the child.
func Child[O any](ctx Context, workflow string, in any, opts ...Option) (O, error) {
	var out O
	req := wire.FlowRequest{Op: wire.FlowOpSchedule, Kind: wire.FlowChild, Name: workflow}
	if err := prepare(&req, in, opts); err != nil {
		return out, err
	}
	return out, step(ctx, &req, &out)
}

// step schedules req and waits for its result.
func step(ctx Context, req *wire.FlowRequest, out any) error {
	o := ctx.orchestration()
	f := Future{o: o, name: req.Name}
	var err error
	if f.step, _, err = o.schedule(req); err != nil {
		return err
	}
	return f.Get(out)
}

// prepare sets a call's or child's input and options.
func prepare(req *wire.FlowRequest, in any, opts []Option) error {
	if err := applyOptions(req, opts); err != nil {
		return err
	}
	if err := encodeInput(req, in); err != nil {
		return fmt.Errorf("flow: %s %s: %w", req.Kind, req.Name, err)
	}
	return nil
}

// Now returns the current time, recorded on first use: every replay of
// this step returns the same time. Use it instead of time.Now.
func Now(ctx Context) time.Time {
	v := ctx.orchestration().value(&wire.FlowRequest{Op: wire.FlowOpSchedule, Kind: wire.FlowNow})
	s, err := unquote(v)
	if err == nil {
		var t time.Time
		if t, err = time.Parse(time.RFC3339Nano, s); err == nil {
			return t
		}
	}
	panic(badValue(wire.FlowNow, v, err))
}

// Random returns a random number, recorded on first use. Use it instead of
// math/rand; seed a local generator with it for many numbers.
func Random(ctx Context) uint64 {
	v := ctx.orchestration().value(&wire.FlowRequest{Op: wire.FlowOpSchedule, Kind: wire.FlowRandom})
	s, err := unquote(v) // a number, or a string for clients without 64-bit integers
	if err == nil {
		var n uint64
		if n, err = strconv.ParseUint(s, 10, 64); err == nil {
			return n
		}
	}
	panic(badValue(wire.FlowRandom, v, err))
}

// NewID returns a new UUID, recorded on first use.
func NewID(ctx Context) string {
	v := ctx.orchestration().value(&wire.FlowRequest{Op: wire.FlowOpSchedule, Kind: wire.FlowUUID})
	s, err := unquote(v)
	if err != nil || s == "" {
		panic(badValue(wire.FlowUUID, v, err))
	}
	return s
}

// Version returns the version of change, in [min, max]: max where the
// execution reaches this point for the first time, the version it
// recorded then on every replay, and min for an execution that passed this
// point before the Version call was added. See the package documentation.
func Version(ctx Context, change string, min, max int) int {
	if change == "" || min > max || min < 0 {
		panic(failure{&wire.FlowError{Type: "WorkflowError", Message: fmt.Sprintf("flow.Version(%q, %d, %d): want a name and 0 <= min <= max", change, min, max)}})
	}
	v := ctx.orchestration().value(&wire.FlowRequest{Op: wire.FlowOpSchedule, Kind: wire.FlowVersion, Name: change, Min: min, Max: max})
	s, err := unquote(v)
	if err == nil {
		var n int
		if n, err = strconv.Atoi(s); err == nil {
			return n
		}
	}
	panic(badValue(wire.FlowVersion, v, err))
}

// unquote returns a JSON scalar's text: a string's content, or a number as
// written.
func unquote(v json.RawMessage) (string, error) {
	if len(v) > 0 && v[0] == '"' {
		var s string
		err := json.Unmarshal(v, &s)
		return s, err
	}
	return string(v), nil
}

func badValue(kind string, v json.RawMessage, err error) failure {
	return failure{&wire.FlowError{Type: "WorkflowError", Message: fmt.Sprintf("flow: %s step: bad value %q from the host: %v", kind, v, err)}}
}

// schedule records (or replays) one command and returns its step.
func (o *orchestration) schedule(req *wire.FlowRequest) (int, json.RawMessage, error) {
	resp, err := o.call(req)
	if err != nil {
		return 0, nil, err
	}
	if resp.Error != nil {
		e := fromWire(resp.Error)
		if e.Name == "" {
			e.Name = req.Name
		}
		return 0, nil, e
	}
	return resp.Step, resp.Value, nil
}

// value schedules a command that answers at once (now, random, uuid,
// version). A refusal fails the execution: these calls have no error.
func (o *orchestration) value(req *wire.FlowRequest) json.RawMessage {
	_, v, err := o.schedule(req)
	if err != nil {
		var fe *Error
		if errors.As(err, &fe) {
			panic(failure{fe.wire()})
		}
		panic(failure{&wire.FlowError{Type: "WorkflowError", Message: err.Error()}})
	}
	return v
}

// await waits for the futures not done yet, with one host call, and stores
// their results. A cancellation fails the call (not the futures: they can
// be waited for again).
func (o *orchestration) await(futures ...*Future) error {
	steps := o.steps[:0]
	for _, f := range futures {
		if !f.done {
			steps = append(steps, f.step)
		}
	}
	o.steps = steps
	if len(steps) == 0 {
		return nil
	}
	resp, err := o.call(&wire.FlowRequest{Op: wire.FlowOpAwait, Steps: steps})
	if err != nil {
		return err
	}
	if resp.Error != nil {
		return fromWire(resp.Error)
	}
	if resp.Canceled {
		e := &Error{Type: wire.FlowErrCanceled, Message: "the execution was canceled"}
		if len(steps) == 1 {
			e.Step = steps[0]
			e.Name = futures[0].name
		}
		return e
	}
	for _, f := range futures {
		if f.done {
			continue
		}
		for i := range resp.Results {
			if r := &resp.Results[i]; r.Step == f.step {
				f.done = true
				if r.Error != nil {
					e := fromWire(r.Error)
					if e.Step == 0 {
						e.Step = f.step
					}
					if e.Name == "" {
						e.Name = f.name
					}
					f.err = e
				} else {
					f.res = r.Output
				}
				break
			}
		}
		if !f.done {
			return fmt.Errorf("flow: the host answered no result for step %d", f.step)
		}
	}
	return nil
}

// call makes one flow host call for workflow code, unwinding the workflow
// function when the host says Suspend. The answer is valid until the next
// call; its raw values (Value, Output) are copies that stay valid.
func (o *orchestration) call(req *wire.FlowRequest) (*wire.FlowResponse, error) {
	if o.suspended {
		panic(suspend{})
	}
	if o.encode == nil {
		o.encode = func(dst []byte) ([]byte, error) { return appendRequest(dst, &o.req), nil }
		o.decode = func(answer []byte) error { return decodeResponse(answer, &o.resp) }
	}
	o.req = *req
	err := hostFlow(o.encode, o.decode)
	o.req = wire.FlowRequest{} // drop references to the step's input
	resp := &o.resp
	if err != nil {
		return nil, fmt.Errorf("flow: %s %s: %w", req.Op, req.Kind, err)
	}
	if resp.Suspend {
		o.suspended = true
		panic(suspend{})
	}
	return resp, nil
}

func decodeResult(f *Future, out any) error {
	if out == nil || len(f.res) == 0 {
		return nil
	}
	if err := json.Unmarshal(f.res, out); err != nil {
		return fmt.Errorf("flow: step %d %s: decode result: %w", f.step, f.name, err)
	}
	return nil
}
