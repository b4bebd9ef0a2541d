package events

import (
	"context"
	"fmt"
	"strconv"
	"time"

	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/schedule"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/trace"
)

// TypeSchedule is the CloudEvents type of a scheduled fire.
const TypeSchedule = "strata.schedule"

// maxSchedulerSleep bounds the scheduler's sleep, so schedules deployed
// through other nodes and clock changes are noticed.
const maxSchedulerSleep = time.Second

// runScheduler fires due schedules until ctx ends. Each fire is a
// compare-and-set in the store that also enqueues the event in the
// function's async queue: a fire is recorded before it runs, and when
// several nodes (or a restarted node) race for it, exactly one wins.
func (e *Engine) runScheduler(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next, err := e.FireDue(ctx)
		if err != nil && ctx.Err() == nil {
			e.cfg.Logger.Warn("fire schedules", "err", err)
		}
		sleep := maxSchedulerSleep
		if !next.IsZero() {
			sleep = min(max(next.Sub(e.cfg.Clock.Now()), time.Millisecond), maxSchedulerSleep)
		}
		t.Reset(sleep)
	}
}

// FireDue fires every schedule whose time has come and returns the earliest
// next fire time. A schedule that missed several fires while no node ran
// fires once for the first missed time, and the skipped ones are logged:
// catching up on every missed fire of a frequent schedule after an outage
// would flood its function.
func (e *Engine) FireDue(ctx context.Context) (time.Time, error) {
	scheds, err := e.cfg.Store.ScheduleList(ctx)
	if err != nil {
		return time.Time{}, err
	}
	now := e.cfg.Clock.Now()
	var earliest time.Time
	for _, s := range scheds {
		next := s.NextFire
		if !next.After(now) {
			var ferr error
			next, ferr = e.fire(ctx, s, now)
			if ferr != nil {
				e.cfg.Logger.Warn("fire schedule", "schedule", s.Name, "err", ferr)
				continue
			}
		}
		if !next.IsZero() && (earliest.IsZero() || next.Before(earliest)) {
			earliest = next
		}
	}
	return earliest, nil
}

// SpanScheduleFire names the span of a schedule firing.
const SpanScheduleFire = "schedule fire"

func (e *Engine) fire(ctx context.Context, s record.Schedule, now time.Time) (time.Time, error) {
	sched, err := schedule.Parse(s.Spec, s.Timezone)
	if err != nil {
		return time.Time{}, fmt.Errorf("schedule %s: %w", s.Name, err)
	}
	due := s.NextFire
	next := sched.Next(now)
	skipped := 0
	for t := sched.Next(due); !t.IsZero() && !t.After(now) && skipped < 1000; t = sched.Next(t) {
		skipped++
	}
	msg := scheduleMessage(s, due, skipped)
	queue := msg.Queue
	if e.cfg.Tracer != nil {
		// A fire starts a trace: the invocation it causes joins it
		// through the message's traceparent.
		var span oteltrace.Span
		ctx, span = e.cfg.Tracer.Start(ctx, SpanScheduleFire, oteltrace.WithSpanKind(oteltrace.SpanKindProducer),
			oteltrace.WithAttributes(trace.KeyProject.String(s.Project), trace.KeyFunction.String(s.Function),
				trace.KeySchedule.String(s.Name), trace.KeyQueue.String(queue)))
		defer span.End()
		msg.Attributes["traceparent"] = trace.Header(ctx)
	}
	// The dedup id makes a second enqueue of the same fire a no-op even
	// if a compare-and-set were ever retried.
	msg.DedupID = "schedule:" + s.Name + ":" + strconv.FormatInt(due.UnixMilli(), 10)
	fired, err := e.cfg.Store.ScheduleFire(ctx, store.ScheduleFireParams{Name: s.Name, Expected: due, Next: next, Message: msg})
	if err != nil {
		return time.Time{}, err
	}
	if fired {
		if f := e.cfg.OnScheduleFire; f != nil {
			f(s.Project, s.Name, now.Sub(due))
		}
		if skipped > 0 {
			e.cfg.Logger.Warn("schedule missed fires while no node was running; fired once for the first",
				"schedule", s.Name, "first", due, "skipped", skipped)
		}
		e.Notify(queue)
	}
	return next, nil
}
