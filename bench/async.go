package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stratahq/strata/internal/events"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/sdk/go/wire"
)

// targetAsyncStartP50 is the target for an async invoke's start: from
// accepted (stored durably) to the function starting, on an idle system.
const targetAsyncStartP50 = 5 * time.Millisecond

// startStamp is the engine's invoker in the async scenario: it reports the
// moment each delivery enters the invoker (the pool's wait for an instance
// and the guest's own start are the only steps after it) and when it ends.
type startStamp struct {
	next    events.Invoker
	started chan time.Time
	ended   chan error
}

func (s *startStamp) Invoke(ctx context.Context, r invoke.Request) (*invoke.Result, error) {
	t := time.Now()
	select {
	case s.started <- t:
	default: // an earlier start was not collected: not a measured invoke
	}
	res, err := s.next.Invoke(ctx, r)
	if err == nil && res.Response.Status != 200 {
		err = fmt.Errorf("function answered %d", res.Response.Status)
	}
	select {
	case s.ended <- err:
	default:
	}
	return res, err
}

// runAsync measures async invokes one at a time on each store: how long
// InvokeAsync takes to accept (store durably), and how long from then until
// the engine hands the request to the invoker.
func (h *harness) runAsync(ctx context.Context, rep *report) {
	for _, kind := range []string{storeSQLite, storePostgres} {
		if ctx.Err() != nil {
			return
		}
		start := latencyResult{Scenario: scenarioAsync, Name: "accept→start, " + kind,
			Note:        "InvokeAsync returned → the engine calls the invoker for it; one at a time on an idle pipeline",
			TargetP50us: micros(targetAsyncStartP50)}
		accept := latencyResult{Scenario: scenarioAsync, Name: "accept, " + kind,
			Note: "InvokeAsync: the request stored durably in the function's async queue"}
		if kind == storePostgres && h.postgresURL() == "" {
			start.Skipped, accept.Skipped = h.postgresSkip, h.postgresSkip
		} else {
			start, accept = h.asyncOn(ctx, kind, start, accept)
		}
		rep.addLatency(start)
		rep.addLatency(accept)
	}
}

func (h *harness) asyncOn(ctx context.Context, kind string, start, accept latencyResult) (latencyResult, latencyResult) {
	fail := func(err error) (latencyResult, latencyResult) {
		start.Error, accept.Error = err.Error(), err.Error()
		return start, accept
	}
	stamp := &startStamp{started: make(chan time.Time, 1), ended: make(chan error, 1)}
	s, err := h.openEventStack(ctx, kind, stackOptions{wrap: func(next events.Invoker) events.Invoker {
		stamp.next = next
		return stamp
	}})
	if err != nil {
		return fail(err)
	}
	defer s.close(context.WithoutCancel(ctx))
	if err := s.warm(ctx); err != nil {
		return fail(err)
	}
	if err := s.eng.Start(ctx); err != nil {
		return fail(fmt.Errorf("start the events engine: %w", err))
	}
	queue := events.AsyncQueue(noopFunction)
	req := &wire.Request{Method: "POST", Path: "/", Host: "127.0.0.1", Body: []byte(`{"n":1}`),
		Headers: []wire.Header{{Name: "Content-Type", Values: []string{"application/json"}}}}

	n := h.opts.AsyncSamples
	starts := make([]time.Duration, 0, n)
	accepts := make([]time.Duration, 0, n)
	h.log.Info("async invoke latency", "store", kind, "samples", n)
	// One unmeasured invoke first: the first delivery of a queue pays for
	// preparing its statements.
	for i := -1; i < n; i++ {
		acked := s.ack.acked.Load()
		t0 := time.Now()
		if _, err := s.eng.InvokeAsync(ctx, noopFunction, req, ""); err != nil {
			return fail(fmt.Errorf("sample %d: %w", i, err))
		}
		t1 := time.Now()
		var began time.Time
		select {
		case began = <-stamp.started:
		case <-time.After(30 * time.Second):
			return fail(fmt.Errorf("sample %d: the invoke did not start within 30s", i))
		case <-ctx.Done():
			return fail(context.Cause(ctx))
		}
		if err := <-stamp.ended; err != nil {
			return fail(fmt.Errorf("sample %d: %w", i, err))
		}
		// The next sample starts on an idle pipeline: this one acknowledged.
		if err := waitCount(ctx, &s.ack.acked, acked+1, 30*time.Second); err != nil {
			return fail(fmt.Errorf("sample %d: ack: %w", i, err))
		}
		if i >= 0 {
			accepts = append(accepts, t1.Sub(t0))
			// The consumer may wake and start before InvokeAsync has
			// returned to its caller: that counts as no wait at all.
			starts = append(starts, max(began.Sub(t1), 0))
		}
	}
	if err := s.queueEmpty(ctx, queue); err != nil {
		return fail(err)
	}
	fill := func(res latencyResult, d []time.Duration) latencyResult {
		i := 0
		return fillSamples(res, len(d), func() (time.Duration, error) {
			if i >= len(d) {
				return 0, errors.New("no more samples")
			}
			i++
			return d[i-1], nil
		})
	}
	return fill(start, starts), fill(accept, accepts)
}
