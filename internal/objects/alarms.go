package objects

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/sdk/go/wire"
)

// alarmLoop runs due alarms. An alarm is at-least-once: it is deleted in
// the same commit as its successful run's writes, so a crash before that
// commit runs it again; a failed run is retried with doubling backoff,
// AlarmRetries times, then dropped with an error in the function's logs.
func (e *Engine) alarmLoop() {
	defer e.bg.Done()
	t := time.NewTicker(e.cfg.AlarmPoll)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), e.cfg.AlarmPoll*4+time.Second)
		due, err := e.cfg.Store.ObjectAlarmsDue(ctx, time.Now(), 100)
		cancel()
		if err != nil {
			e.log.Warn("objects: reading due alarms failed", "err", err)
			continue
		}
		for _, a := range due {
			if _, running := e.alarmsRunning.LoadOrStore(a.Key, struct{}{}); running {
				continue
			}
			e.bg.Add(1)
			go func(a record.ObjectAlarm) {
				defer e.bg.Done()
				defer e.alarmsRunning.Delete(a.Key)
				e.runAlarm(a)
			}(a)
		}
	}
}

func (e *Engine) runAlarm(a record.ObjectAlarm) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-e.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	req := &wire.Request{
		Method: "POST", Path: "/", Host: "object", RemoteAddr: "alarm",
		Headers: []wire.Header{{Name: wire.ObjectRetryHeader, Values: []string{strconv.Itoa(a.Attempts)}}},
	}
	res, err := e.run(ctx, a.Key, "", event{kind: wire.ObjectEventAlarm, req: req, alarmAt: a.At})
	if err == nil && res.Response.Status < 300 {
		return
	}
	if errors.Is(err, store.ErrLeaseHeld) {
		return // another node owns the object: its engine runs the alarm
	}
	if err == nil {
		err = fmt.Errorf("the Alarm method answered %d: %s", res.Response.Status, clip(string(res.Response.Body)))
	}
	select {
	case <-e.stop:
		return // shutting down: the alarm stays due and runs after the restart
	default:
	}
	attempts := a.Attempts + 1
	if attempts > e.cfg.AlarmRetries {
		e.log.Error("object alarm dropped after failing every retry", "object", a.Key.String(), "project", a.Key.Project, "attempts", attempts, "err", err)
		e.dropAlarm(a.Key, a.At)
		return
	}
	backoff := min(e.cfg.AlarmBackoff<<(attempts-1), maxAlarmBackoff)
	e.log.Warn("object alarm failed; retrying", "object", a.Key.String(), "project", a.Key.Project, "attempt", attempts, "retry_in", backoff.String(), "err", err)
	if rerr := e.cfg.Store.ObjectAlarmRetry(context.Background(), a.Key, a.At, attempts, time.Now().Add(backoff)); rerr != nil {
		e.log.Warn("objects: recording an alarm retry failed", "object", a.Key.String(), "err", rerr)
	}
}

// dropAlarm deletes an alarm that failed every retry, in the store and
// in the live object's view together: the object's gate is held across
// both, so no event of the object sees the alarm gone from one and set
// in the other.
func (e *Engine) dropAlarm(k record.ObjectKey, at time.Time) {
	e.mu.Lock()
	l := e.live[k]
	e.mu.Unlock()
	if l != nil {
		l.gate <- struct{}{}
		defer func() { <-l.gate }()
	}
	if err := e.cfg.Store.ObjectAlarmDone(context.Background(), k, at); err != nil {
		e.log.Warn("objects: deleting a dropped alarm failed", "object", k.String(), "err", err)
		return
	}
	if l != nil && l.v.alarm.Equal(at) {
		l.v.alarm = time.Time{}
	}
}
