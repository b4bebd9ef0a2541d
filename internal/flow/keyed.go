package flow

import (
	"context"
	"encoding/json"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// EvRecorded is the event of a keyed orchestrator: a value learnt under a
// key (a task's result, when a timer fires, a consumed signal).
const EvRecorded = "recorded" // Name: key; Data: the value

// Keyed orchestrators.
//
// Workflows as code match their commands to the history by position, so
// their code must issue them in one order. An orchestrator written in Go
// inside Strata (the ASL interpreter, package sfn) runs branches and Map
// iterations on goroutines whose order is not fixed; it names each effect
// by a key that is the same on every replay instead (the branch and the
// count of effects before it in that branch), records what it learns
// under that key, and reads it back when the execution is replayed. Its
// effects (function invocations) run in the orchestrator's own
// goroutines, like Temporal's local activities; what they learn is
// committed before the next effect starts (Commit), so a completed effect
// is never run again, and one cut by a crash runs again (at least once).
// A pass ends (Suspend) when every goroutine of it waits for something
// far away; the next pass replays from the records.
//
// Every method is safe for concurrent use by the pass's goroutines.

// Recorded returns the value recorded under key.
func (r *Run) Recorded(key string) (json.RawMessage, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.recorded[key]
	return v, ok
}

// Record records value (JSON) under key, pending until the next commit.
// It returns false when the pass must end (suspended, aborted or failed):
// nothing was recorded, and the goroutine should stop.
func (r *Run) Record(key string, value json.RawMessage) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped() {
		return false
	}
	if _, ok := r.recorded[key]; ok {
		return true // first record wins: a replay may learn a key twice
	}
	r.appendEvent(record.FlowEvent{Type: EvRecorded, Name: key, Data: orNull(value)})
	return r.failure == nil
}

// Commit makes what the run has recorded durable, sharing a group commit
// with other runs: called before an effect that depends on it starts.
func (r *Run) Commit(ctx context.Context) error {
	// One commit at a time: a commit releases r.mu while the store
	// works, and a second one from the same base would conflict with it.
	// The second waits and then commits what was learnt meanwhile.
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped() {
		return errAborted
	}
	// Nothing takes effect before the execution's own start has
	// committed (a new execution's first pass runs while it commits).
	if !r.startDurable() {
		return errAborted
	}
	if !r.needFlush {
		return nil
	}
	// No lease extension in the commit: the run's renew loop keeps the
	// lease, and a keyed orchestrator commits once per Task, often.
	return r.commitLocked(ctx, store.FlowCommit{})
}

// TakeSignal consumes the oldest signal called name in the execution's
// inbox and records its value under key (consumed and recorded in one
// commit). ok is false when none has arrived.
func (r *Run) TakeSignal(ctx context.Context, key, name string) (json.RawMessage, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped() {
		return nil, false
	}
	if v, ok := r.recorded[key]; ok {
		return v, true
	}
	if r.inboxNew {
		r.reloadInbox(ctx)
	}
	m, ok := r.take(record.InboxSignal, name)
	if !ok {
		return nil, false
	}
	r.appendEvent(record.FlowEvent{Type: EvRecorded, Name: key, Data: orNull(m.Data)})
	return m.Data, r.failure == nil
}

// WaitChange waits until the inbox may have changed (a signal sent here,
// or a second passed: another node may have sent one), until until (zero:
// no limit), or until ctx ends.
func (r *Run) WaitChange(ctx context.Context, until time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped() {
		return
	}
	r.waitLocked(ctx, nil, until, true)
}

// Suspend ends the pass: the run gives its task back until wake (zero:
// until a signal or cancel arrives), or runs the next pass at once when
// wake is within the engine's Hold.
func (r *Run) Suspend(wake time.Time) {
	r.mu.Lock()
	r.suspended, r.wakeAt = true, wake
	r.mu.Unlock()
	r.wakeUp()
}

// Stopped reports whether the pass must end.
func (r *Run) Stopped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopped()
}

// Now is the engine's clock.
func (r *Run) Now() time.Time { return r.e.now() }

// Hold is how far ahead a wait keeps the run in memory instead of
// giving its task back.
func (r *Run) Hold() time.Duration { return r.e.cfg.Hold }

// StartTime is when the execution started (its first event).
func (r *Run) StartTime() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.hist) > 0 {
		return r.hist[0].Time
	}
	return r.e.now()
}

// Restarts reports how many times the run was reopened where it ended
// (Engine.Redrive, Engine.Restart from its failure), and when last.
func (r *Run) Restarts() (int, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.restarts, r.restarted
}

// Poke wakes a WaitChange of this run: a goroutine of the pass changed
// what the pass waits for.
func (r *Run) Poke() { r.wakeUp() }
