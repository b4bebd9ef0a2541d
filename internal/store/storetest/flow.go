package storetest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// flowTests are the conformance tests of store.Flow, run by Run. They pass
// time explicitly (now arguments), as the engine's clock does.
var flowTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"FlowStartIsIdempotent", testFlowStart},
	{"FlowStartHeld", testFlowStartHeld},
	{"FlowStartBatch", testFlowStartBatch},
	{"FlowClaim", testFlowClaim},
	{"FlowCommitLeaseLost", testFlowCommitLeaseLost},
	{"FlowCommitKeepsLease", testFlowCommitKeep},
	{"FlowRelease", testFlowRelease},
	{"FlowSend", testFlowSend},
	{"FlowClose", testFlowClose},
	{"FlowNewRun", testFlowNewRun},
	{"FlowChildrenAndSends", testFlowChildren},
	{"FlowTerminate", testFlowTerminate},
	{"FlowReopen", testFlowReopen},
	{"FlowRenew", testFlowRenew},
	{"FlowNextDue", testFlowNextDue},
	{"FlowList", testFlowList},
	{"FlowHistoryPaging", testFlowHistoryPaging},
	{"FlowSweep", testFlowSweep},
	{"FlowClaimRace", func(t *testing.T, s store.Store) { FlowClaimRace(t, []store.Store{s}) }},
	{"FlowSendReleaseRace", func(t *testing.T, s store.Store) { FlowSendReleaseRace(t, []store.Store{s}) }},
	{"RouteWorkflow", testRouteWorkflow},
}

const leaseFor = 30 * time.Second

// fev is an event of type typ at step with name and JSON data ("" for nil).
func fev(typ string, step int, name, data string) record.FlowEvent {
	ev := record.FlowEvent{Type: typ, Step: step, Name: name, Time: t0}
	if data != "" {
		ev.Data = []byte(data)
	}
	return ev
}

func flowExec(id string) record.FlowExecution {
	return record.FlowExecution{ID: id, Project: "p", Workflow: "wf", Function: "p-fn",
		Input: []byte(`{"n": 1,  "a":[true]}`), TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"}
}

// flowStart starts execution id with one "started" event, due at now.
func flowStart(t testing.TB, s store.Store, id string, now time.Time) *record.FlowExecution {
	t.Helper()
	e, created, err := s.FlowStart(context.Background(), store.FlowStartParams{
		Execution: flowExec(id),
		Events:    []record.FlowEvent{fev("started", 0, "wf", `{"n":1}`)},
		DueAt:     now,
	}, now)
	require.NoError(t, err)
	require.True(t, created)
	return e
}

// claimAll claims every task due at now, at most 100.
func claimAll(t testing.TB, s store.Store, now time.Time) []record.FlowTask {
	t.Helper()
	got, err := s.FlowClaim(context.Background(), "node-a", now, leaseFor, 100)
	require.NoError(t, err)
	return got
}

// claimIDs claims every task due at now and returns their execution ids.
func claimIDs(t testing.TB, s store.Store, now time.Time) []string {
	t.Helper()
	var ids []string
	for _, task := range claimAll(t, s, now) {
		ids = append(ids, task.ExecutionID)
	}
	return ids
}

// claimOne claims the due tasks at now, requiring exactly id's.
func claimOne(t testing.TB, s store.Store, id string, now time.Time) record.FlowTask {
	t.Helper()
	got := claimAll(t, s, now)
	require.Len(t, got, 1, "tasks due at %v", now)
	require.Equal(t, id, got[0].ExecutionID)
	return got[0]
}

func commit(s store.Store, c store.FlowCommit, now time.Time) error {
	return s.FlowCommitBatch(context.Background(), []store.FlowCommit{c}, now)[0]
}

func flowGet(t testing.TB, s store.Store, id string) *record.FlowExecution {
	t.Helper()
	e, err := s.FlowGet(context.Background(), id)
	require.NoError(t, err)
	return e
}

func history(t testing.TB, s store.Store, id string, run int) []record.FlowEvent {
	t.Helper()
	evs, err := s.FlowHistory(context.Background(), id, run, 0, 0)
	require.NoError(t, err)
	return evs
}

// evTypes lists events as "seq:type".
func evTypes(evs []record.FlowEvent) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, fmt.Sprintf("%d:%s", ev.Seq, ev.Type))
	}
	return out
}

func inbox(t testing.TB, s store.Store, id string) []record.FlowInbox {
	t.Helper()
	got, err := s.FlowInboxList(context.Background(), id)
	require.NoError(t, err)
	return got
}

func signal(id, name, data string) record.FlowInbox {
	return record.FlowInbox{ExecutionID: id, Kind: record.InboxSignal, Name: name, Data: []byte(data)}
}

func requireTime(t testing.TB, want, got time.Time, msg string) {
	t.Helper()
	require.True(t, want.Equal(got), "%s: want %v, got %v", msg, want, got)
	require.Equal(t, time.UTC, got.Location(), "%s: times come back in UTC", msg)
}

func testFlowStart(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.FlowGet(ctx, "order-42")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.FlowHistory(ctx, "order-42", 1, 0, 0)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.FlowInboxList(ctx, "order-42")
	require.ErrorIs(t, err, store.ErrNotFound)

	p := store.FlowStartParams{
		Execution: record.FlowExecution{ID: "order-42", Project: "p", Workflow: "fulfil", Function: "p-fn",
			Input: []byte(`{"b": 1,  "a":2}`), TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", ParentID: "parent", ParentStep: 7,
			// Set by the store, whatever the caller says:
			Run: 9, Status: record.FlowFailed, HistoryLen: 99, Output: []byte(`1`)},
		Events: []record.FlowEvent{fev("started", 0, "fulfil", `{"b": 1,  "a":2}`), fev("marker", 0, "v", "")},
		DueAt:  t0,
	}
	e, created, err := s.FlowStart(ctx, p, t0)
	require.NoError(t, err)
	require.True(t, created)
	want := record.FlowExecution{ID: "order-42", Project: "p", Workflow: "fulfil", Function: "p-fn", Run: 1,
		Status: record.FlowRunning, Input: []byte(`{"b": 1,  "a":2}`), TraceID: "4bf92f3577b34da6a3ce929d0e0e4736",
		ParentID: "parent", ParentStep: 7, HistoryLen: 2, CreatedAt: t0, UpdatedAt: t0}
	require.Equal(t, want, *e)
	require.Equal(t, want, *flowGet(t, s, "order-42"))

	evs := history(t, s, "order-42", 1)
	require.Equal(t, []string{"1:started", "2:marker"}, evTypes(evs))
	require.Equal(t, []byte(`{"b": 1,  "a":2}`), evs[0].Data, "JSON bytes are kept exactly")
	require.Equal(t, "fulfil", evs[0].Name)
	require.Nil(t, evs[1].Data, "nil data stays nil")
	requireTime(t, t0, evs[0].Time, "event time")
	require.Empty(t, inbox(t, s, "order-42"))

	// Starting the id again writes nothing and returns the execution.
	again := p
	again.Execution.Workflow = "other"
	again.Events = []record.FlowEvent{fev("started", 0, "other", "")}
	e, created, err = s.FlowStart(ctx, again, t0.Add(time.Minute))
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, want, *e)
	require.Len(t, history(t, s, "order-42", 1), 2)

	// It has exactly one task, due at DueAt.
	require.Empty(t, claimAll(t, s, t0.Add(-time.Second)), "not due before DueAt")
	task := claimOne(t, s, "order-42", t0)
	require.Equal(t, 1, task.Attempts)

	// A start without a due time is due at once.
	_, created, err = s.FlowStart(ctx, store.FlowStartParams{Execution: flowExec("nodue")}, t0)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, 0, flowGet(t, s, "nodue").HistoryLen)
	claimOne(t, s, "nodue", t0)
}

func testFlowStartHeld(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, created, err := s.FlowStart(ctx, store.FlowStartParams{
		Execution: flowExec("held"), Events: []record.FlowEvent{fev("started", 0, "wf", "")},
		DueAt: t0, Lease: "starter/1", LeaseUntil: t0.Add(leaseFor),
	}, t0)
	require.NoError(t, err)
	require.True(t, created)
	require.Empty(t, claimAll(t, s, t0.Add(leaseFor-time.Second)), "held until LeaseUntil")

	// The starter commits under its lease.
	require.NoError(t, commit(s, store.FlowCommit{ExecutionID: "held", Lease: "starter/1", FromSeq: 1,
		Events: []record.FlowEvent{fev("scheduled", 1, "f", "")}, LeaseUntil: t0.Add(leaseFor)}, t0.Add(time.Second)))

	// Should the starter die, the task is claimed once the lease ends.
	task := claimOne(t, s, "held", t0.Add(leaseFor))
	require.NotEqual(t, "starter/1", task.Lease)
	require.Equal(t, 2, task.Attempts, "the start's lease counted as an attempt")
	require.ErrorIs(t, commit(s, store.FlowCommit{ExecutionID: "held", Lease: "starter/1", FromSeq: 2}, t0.Add(leaseFor)), store.ErrLeaseLost)
}

func testFlowClaim(t *testing.T, s store.Store) {
	ctx := context.Background()
	// Due in the order c, a, b, d; e never (released without a due time).
	for id, due := range map[string]time.Duration{"a": 2, "b": 3, "c": 1, "d": 10} {
		_, _, err := s.FlowStart(ctx, store.FlowStartParams{Execution: flowExec(id), DueAt: t0.Add(due * time.Second)}, t0)
		require.NoError(t, err)
	}
	got, err := s.FlowClaim(ctx, "node-a", t0, leaseFor, 10)
	require.NoError(t, err)
	require.Empty(t, got, "nothing due yet")

	now := t0.Add(5 * time.Second)
	got, err = s.FlowClaim(ctx, "node-a", now, leaseFor, 2)
	require.NoError(t, err)
	require.Len(t, got, 2, "limit")
	require.Equal(t, "c", got[0].ExecutionID, "oldest due first")
	require.Equal(t, "a", got[1].ExecutionID)
	for _, task := range got {
		requireTime(t, now.Add(leaseFor), task.LeaseUntil, "lease until")
		require.Equal(t, 1, task.Attempts)
		require.NotEmpty(t, task.Lease)
	}
	require.NotEqual(t, got[0].Lease, got[1].Lease, "each task its own lease")

	got2, err := s.FlowClaim(ctx, "node-b", now.Add(time.Second), leaseFor, 10)
	require.NoError(t, err)
	require.Len(t, got2, 1, "held tasks and tasks not due are not claimed")
	require.Equal(t, "b", got2[0].ExecutionID)

	// Leases run out: c and a can be claimed again, with new leases.
	later := now.Add(leaseFor)
	got3, err := s.FlowClaim(ctx, "node-b", later, leaseFor, 10)
	require.NoError(t, err)
	ids := []string{}
	for _, task := range got3 {
		ids = append(ids, task.ExecutionID)
	}
	require.Equal(t, []string{"c", "a", "d"}, ids)
	require.NotEqual(t, got[0].Lease, got3[0].Lease)
	require.Equal(t, 2, got3[0].Attempts, "attempts count claims since the last release")
	require.Equal(t, 1, got3[2].Attempts)
	require.ErrorIs(t, commit(s, store.FlowCommit{ExecutionID: "c", Lease: got[0].Lease, FromSeq: 0}, later), store.ErrLeaseLost,
		"the first holder's lease is lost")
	require.NoError(t, commit(s, store.FlowCommit{ExecutionID: "c", Lease: got3[0].Lease, FromSeq: 0,
		Release: &store.FlowRelease{DueAt: later}}, later))
	task := claimOne(t, s, "c", later)
	require.Equal(t, 1, task.Attempts, "a release resets attempts")

	got, err = s.FlowClaim(ctx, "node-a", later, leaseFor, 0)
	require.NoError(t, err)
	require.Empty(t, got, "limit 0 claims nothing")
}

func testFlowCommitLeaseLost(t *testing.T, s store.Store) {
	ctx := context.Background()
	flowStart(t, s, "x", t0)
	flowStart(t, s, "y", t0)
	tasks := claimAll(t, s, t0)
	require.Len(t, tasks, 2)
	lease := map[string]string{}
	for _, task := range tasks {
		lease[task.ExecutionID] = task.Lease
	}
	now := t0.Add(time.Second)
	good := store.FlowCommit{ExecutionID: "y", Lease: lease["y"], FromSeq: 1,
		Events: []record.FlowEvent{fev("scheduled", 1, "f", `{}`), fev("completed", 1, "f", `"ok"`)}}
	errs := s.FlowCommitBatch(ctx, []store.FlowCommit{
		{ExecutionID: "x", Lease: "not-the-lease", FromSeq: 1, Events: []record.FlowEvent{fev("scheduled", 1, "f", "")}},
		good,
		{ExecutionID: "x", Lease: lease["x"], FromSeq: 0, Events: []record.FlowEvent{fev("scheduled", 1, "f", "")}},
		{ExecutionID: "x", Lease: lease["x"], FromSeq: 2, Events: []record.FlowEvent{fev("scheduled", 1, "f", "")}},
		{ExecutionID: "ghost", Lease: lease["x"], FromSeq: 0},
		{ExecutionID: "x", Lease: "", FromSeq: 1},
	}, now)
	require.Len(t, errs, 6)
	for i, err := range errs {
		if i == 1 {
			require.NoError(t, err)
			continue
		}
		require.ErrorIs(t, err, store.ErrLeaseLost, "commit %d", i)
	}
	require.Equal(t, []string{"1:started"}, evTypes(history(t, s, "x", 1)), "lost commits write nothing")
	x := flowGet(t, s, "x")
	require.Equal(t, 1, x.HistoryLen)
	requireTime(t, t0, x.UpdatedAt, "a lost commit does not touch the execution")
	y := flowGet(t, s, "y")
	require.Equal(t, 3, y.HistoryLen)
	requireTime(t, now, y.UpdatedAt, "updated at")
	evs := history(t, s, "y", 1)
	require.Equal(t, []string{"1:started", "2:scheduled", "3:completed"}, evTypes(evs), "dense seqs from FromSeq")
	require.Equal(t, []byte(`"ok"`), evs[2].Data)
	require.Equal(t, 1, evs[2].Step)

	// A commit applied in the same batch moves FromSeq for the next one.
	errs = s.FlowCommitBatch(ctx, []store.FlowCommit{
		{ExecutionID: "y", Lease: lease["y"], FromSeq: 3, Events: []record.FlowEvent{fev("a", 2, "", "")}},
		{ExecutionID: "y", Lease: lease["y"], FromSeq: 4, Events: []record.FlowEvent{fev("b", 2, "", "")}},
		{ExecutionID: "y", Lease: lease["y"], FromSeq: 4, Events: []record.FlowEvent{fev("c", 2, "", "")}},
	}, now)
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.ErrorIs(t, errs[2], store.ErrLeaseLost)
	require.Equal(t, []string{"1:started", "2:scheduled", "3:completed", "4:a", "5:b"}, evTypes(history(t, s, "y", 1)))
	require.Empty(t, s.FlowCommitBatch(ctx, nil, now))
}

func testFlowCommitKeep(t *testing.T, s store.Store) {
	flowStart(t, s, "x", t0)
	task := claimOne(t, s, "x", t0)
	// No Close, NewRun or Release: the lease is kept and extended.
	require.NoError(t, commit(s, store.FlowCommit{ExecutionID: "x", Lease: task.Lease, FromSeq: 1,
		Events: []record.FlowEvent{fev("scheduled", 1, "f", "")}, LeaseUntil: t0.Add(2 * leaseFor)}, t0.Add(time.Second)))
	require.Empty(t, claimAll(t, s, t0.Add(leaseFor)), "the lease was extended")
	require.NoError(t, commit(s, store.FlowCommit{ExecutionID: "x", Lease: task.Lease, FromSeq: 2,
		Events: []record.FlowEvent{fev("completed", 1, "f", "")}}, t0.Add(leaseFor)))
	again := claimOne(t, s, "x", t0.Add(2*leaseFor))
	require.Equal(t, 2, again.Attempts)
	require.Equal(t, 3, flowGet(t, s, "x").HistoryLen)
}

func testFlowRelease(t *testing.T, s store.Store) {
	ctx := context.Background()
	flowStart(t, s, "x", t0)
	task := claimOne(t, s, "x", t0)
	timer := t0.Add(time.Hour)
	require.NoError(t, commit(s, store.FlowCommit{ExecutionID: "x", Lease: task.Lease, FromSeq: 1,
		Events:  []record.FlowEvent{fev("timer-started", 1, "t", "")},
		Release: &store.FlowRelease{DueAt: timer}}, t0))
	require.Empty(t, claimAll(t, s, t0.Add(leaseFor+time.Second)), "released: not due before DueAt, lease or not")
	task = claimOne(t, s, "x", timer)
	require.Equal(t, 1, task.Attempts)

	// A message that came while the task was held and that the commit
	// did not consume leaves the task due now.
	m1, err := s.FlowSend(ctx, signal("x", "go", `1`), timer)
	require.NoError(t, err)
	require.NoError(t, commit(s, store.FlowCommit{ExecutionID: "x", Lease: task.Lease, FromSeq: 2,
		Release: &store.FlowRelease{DueAt: timer.Add(time.Hour)}}, timer.Add(time.Second)))
	task = claimOne(t, s, "x", timer.Add(time.Second))

	// Consumed, it does not; with no DueAt the task is never due.
	require.NoError(t, commit(s, store.FlowCommit{ExecutionID: "x", Lease: task.Lease, FromSeq: 2,
		Events: []record.FlowEvent{fev("signaled", 0, "go", `1`)}, ConsumeInbox: []int64{m1},
		Release: &store.FlowRelease{}}, timer.Add(2*time.Second)))
	require.Empty(t, inbox(t, s, "x"))
	require.Empty(t, claimAll(t, s, timer.Add(24*365*time.Hour)))
	_, ok, err := s.FlowNextDue(ctx)
	require.NoError(t, err)
	require.False(t, ok, "nothing is due ever")
	require.Equal(t, 3, flowGet(t, s, "x").HistoryLen)
}

func testFlowSend(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.FlowSend(ctx, signal("ghost", "go", `1`), t0)
	require.ErrorIs(t, err, store.ErrNotFound)

	flowStart(t, s, "x", t0)
	task := claimOne(t, s, "x", t0)
	require.NoError(t, commit(s, store.FlowCommit{ExecutionID: "x", Lease: task.Lease, FromSeq: 1, Release: &store.FlowRelease{}}, t0))
	require.Empty(t, claimAll(t, s, t0.Add(time.Hour)), "waiting for a message")

	// A message wakes the released task.
	now := t0.Add(time.Hour)
	id1, err := s.FlowSend(ctx, signal("x", "approval", `true`), now)
	require.NoError(t, err)
	id2, err := s.FlowSend(ctx, record.FlowInbox{ExecutionID: "x", Kind: record.InboxCancel}, now.Add(time.Second))
	require.NoError(t, err)
	require.Greater(t, id2, id1, "ids increase in arrival order")
	got := inbox(t, s, "x")
	require.Len(t, got, 2)
	require.Equal(t, record.FlowInbox{ID: id1, ExecutionID: "x", Kind: record.InboxSignal, Name: "approval", Data: []byte(`true`), Time: now}, got[0])
	require.Equal(t, record.InboxCancel, got[1].Kind)
	require.Nil(t, got[1].Data, "nil data stays nil")
	task = claimOne(t, s, "x", now)

	// A held task keeps its lease: a message does not make it claimable.
	_, err = s.FlowSend(ctx, signal("x", "more", `2`), now.Add(2*time.Second))
	require.NoError(t, err)
	require.Empty(t, claimAll(t, s, now.Add(3*time.Second)))

	// Consuming deletes just those messages.
	require.NoError(t, commit(s, store.FlowCommit{ExecutionID: "x", Lease: task.Lease, FromSeq: 1,
		Events: []record.FlowEvent{fev("signaled", 0, "approval", `true`)}, ConsumeInbox: []int64{id1},
		LeaseUntil: now.Add(leaseFor)}, now.Add(3*time.Second)))
	got = inbox(t, s, "x")
	require.Len(t, got, 2)
	require.Equal(t, id2, got[0].ID)
	require.Equal(t, "more", got[1].Name)

	// Releasing with the messages left seen (a signal nobody waits for
	// yet) does not wake the task; one that arrives after does.
	seen := got[1].ID
	require.NoError(t, commit(s, store.FlowCommit{ExecutionID: "x", Lease: task.Lease, FromSeq: 2,
		Release: &store.FlowRelease{InboxSeen: seen}}, now.Add(3*time.Second)))
	require.Empty(t, claimAll(t, s, now.Add(time.Hour)), "messages already seen woke the task")
	_, err = s.FlowSend(ctx, signal("x", "new", `3`), now.Add(time.Hour))
	require.NoError(t, err)
	task = claimOne(t, s, "x", now.Add(time.Hour))
	require.NoError(t, commit(s, store.FlowCommit{ExecutionID: "x", Lease: task.Lease, FromSeq: 2,
		Release: &store.FlowRelease{InboxSeen: seen}}, now.Add(time.Hour)))
	require.Len(t, claimAll(t, s, now.Add(time.Hour)), 1, "a message the holder had not seen must leave the task due")
	task = claimOne(t, s, "x", now.Add(2*time.Hour))

	// Closed executions refuse messages.
	require.NoError(t, commit(s, store.FlowCommit{ExecutionID: "x", Lease: task.Lease, FromSeq: 2,
		Close: &store.FlowClose{Status: record.FlowCanceled, Error: []byte(`{"message":"canceled"}`), RetainUntil: now.Add(time.Hour)}}, now.Add(4*time.Second)))
	_, err = s.FlowSend(ctx, signal("x", "late", `1`), now.Add(5*time.Second))
	require.ErrorIs(t, err, store.ErrClosed)
	require.Empty(t, inbox(t, s, "x"))
}

func testFlowClose(t *testing.T, s store.Store) {
	ctx := context.Background()
	flowStart(t, s, "x", t0)
	task := claimOne(t, s, "x", t0)
	_, err := s.FlowSend(ctx, signal("x", "ignored", `1`), t0)
	require.NoError(t, err)
	now := t0.Add(time.Minute)
	require.NoError(t, commit(s, store.FlowCommit{ExecutionID: "x", Lease: task.Lease, FromSeq: 1,
		Events: []record.FlowEvent{fev("completed", 0, "", `{"ok":true}`)},
		Close:  &store.FlowClose{Status: record.FlowCompleted, Output: []byte(`{"ok": true}`), RetainUntil: now.Add(24 * time.Hour)}}, now))
	e := flowGet(t, s, "x")
	require.Equal(t, record.FlowCompleted, e.Status)
	require.Equal(t, []byte(`{"ok": true}`), e.Output)
	require.Nil(t, e.Error)
	require.Equal(t, 2, e.HistoryLen)
	requireTime(t, now, e.ClosedAt, "closed at")
	requireTime(t, now.Add(24*time.Hour), e.RetainUntil, "retain until")
	require.Empty(t, inbox(t, s, "x"), "closing deletes the inbox")
	require.Empty(t, claimAll(t, s, now.Add(time.Hour)), "and the task")
	_, ok, err := s.FlowNextDue(ctx)
	require.NoError(t, err)
	require.False(t, ok)

	require.ErrorIs(t, commit(s, store.FlowCommit{ExecutionID: "x", Lease: task.Lease, FromSeq: 2,
		Events: []record.FlowEvent{fev("late", 0, "", "")}}, now), store.ErrLeaseLost)
	require.Len(t, history(t, s, "x", 1), 2)

	flowStart(t, s, "y", t0)
	task = claimOne(t, s, "y", t0)
	_, err = s.FlowSend(ctx, signal("y", "approval", `true`), t0)
	require.NoError(t, err)
	_, err = s.FlowSend(ctx, record.FlowInbox{ExecutionID: "y", Kind: record.InboxCancel}, t0)
	require.NoError(t, err)
	require.NoError(t, commit(s, store.FlowCommit{ExecutionID: "y", Lease: task.Lease, FromSeq: 1,
		Close: &store.FlowClose{Status: record.FlowFailed, Error: []byte(`{"step":3}`), RetainUntil: now}}, now))
	e = flowGet(t, s, "y")
	require.Equal(t, record.FlowFailed, e.Status)
	require.Nil(t, e.Output)
	require.Equal(t, []byte(`{"step":3}`), e.Error)
	// A failed execution keeps its signals for a restart from the failure;
	// other messages go.
	left := inbox(t, s, "y")
	require.Len(t, left, 1)
	require.Equal(t, "approval", left[0].Name)
	_, err = s.FlowReopen(ctx, store.FlowReopenParams{ID: "y"}, now)
	require.NoError(t, err)
	require.Len(t, inbox(t, s, "y"), 1, "reopening keeps them")
}

func testFlowNewRun(t *testing.T, s store.Store) {
	ctx := context.Background()
	flowStart(t, s, "x", t0)
	task := claimOne(t, s, "x", t0)
	now := t0.Add(time.Minute)
	// A signal for the next run stays in the inbox.
	m, err := s.FlowSend(ctx, signal("x", "next", `1`), t0)
	require.NoError(t, err)
	require.NoError(t, commit(s, store.FlowCommit{ExecutionID: "x", Lease: task.Lease, FromSeq: 1,
		Events: []record.FlowEvent{fev("continued", 0, "", "")},
		NewRun: &store.FlowNewRun{Input: []byte(`{"n":2}`), Events: []record.FlowEvent{fev("started", 0, "wf", `{"n":2}`)}}}, now))
	e := flowGet(t, s, "x")
	require.Equal(t, 2, e.Run)
	require.Equal(t, record.FlowRunning, e.Status)
	require.Equal(t, []byte(`{"n":2}`), e.Input)
	require.Equal(t, 1, e.HistoryLen, "the new run's history")
	require.Equal(t, []string{"1:started", "2:continued"}, evTypes(history(t, s, "x", 1)), "the old run stays readable")
	evs := history(t, s, "x", 2)
	require.Equal(t, []string{"1:started"}, evTypes(evs))
	require.Equal(t, []byte(`{"n":2}`), evs[0].Data)
	require.Len(t, inbox(t, s, "x"), 1)

	// Released and due now; the old lease is gone.
	require.ErrorIs(t, commit(s, store.FlowCommit{ExecutionID: "x", Lease: task.Lease, FromSeq: 1}, now), store.ErrLeaseLost)
	task = claimOne(t, s, "x", now)
	require.Equal(t, 1, task.Attempts)
	require.NoError(t, commit(s, store.FlowCommit{ExecutionID: "x", Lease: task.Lease, FromSeq: 1,
		Events: []record.FlowEvent{fev("signaled", 0, "next", `1`)}, ConsumeInbox: []int64{m}}, now))
	require.Equal(t, []string{"1:started", "2:signaled"}, evTypes(history(t, s, "x", 2)))
	require.Len(t, history(t, s, "x", 1), 2)
	require.Empty(t, history(t, s, "x", 3))
}

func testFlowChildren(t *testing.T, s store.Store) {
	ctx := context.Background()
	flowStart(t, s, "parent", t0)
	flowStart(t, s, "other", t0)
	flowStart(t, s, "done", t0)
	tasks := claimAll(t, s, t0)
	require.Len(t, tasks, 3)
	lease := map[string]string{}
	for _, task := range tasks {
		lease[task.ExecutionID] = task.Lease
	}
	require.NoError(t, commit(s, store.FlowCommit{ExecutionID: "done", Lease: lease["done"], FromSeq: 1,
		Close: &store.FlowClose{Status: record.FlowCompleted, RetainUntil: t0.Add(time.Hour)}}, t0))
	require.NoError(t, commit(s, store.FlowCommit{ExecutionID: "other", Lease: lease["other"], FromSeq: 1,
		Release: &store.FlowRelease{}}, t0))

	// A child that exists already is left as it is.
	_, _, err := s.FlowStart(ctx, store.FlowStartParams{Execution: flowExec("parent/2"), Events: []record.FlowEvent{fev("started", 0, "wf", `"first"`)}}, t0)
	require.NoError(t, err)
	child := func(id string, step int) store.FlowStartParams {
		e := flowExec(id)
		e.ParentID, e.ParentStep, e.Workflow = "parent", step, "child"
		return store.FlowStartParams{Execution: e, Events: []record.FlowEvent{fev("started", 0, "child", `"second"`)}, DueAt: t0.Add(time.Second)}
	}
	now := t0.Add(time.Second)
	require.NoError(t, commit(s, store.FlowCommit{ExecutionID: "parent", Lease: lease["parent"], FromSeq: 1,
		Events: []record.FlowEvent{fev("child-started", 1, "child", ""), fev("child-started", 2, "child", "")},
		Start:  []store.FlowStartParams{child("parent/1", 1), child("parent/2", 2)},
		Send: []record.FlowInbox{signal("other", "hello", `"from parent"`), signal("done", "hello", `1`), signal("ghost", "hello", `1`),
			signal("parent/1", "hi", `1`)},
		Release: &store.FlowRelease{}}, now))

	c1 := flowGet(t, s, "parent/1")
	require.Equal(t, "parent", c1.ParentID)
	require.Equal(t, 1, c1.ParentStep)
	require.Equal(t, "child", c1.Workflow)
	require.Equal(t, record.FlowRunning, c1.Status)
	require.Equal(t, []byte(`"second"`), history(t, s, "parent/1", 1)[0].Data)
	require.Equal(t, "", flowGet(t, s, "parent/2").ParentID, "an existing child is not overwritten")
	require.Equal(t, []byte(`"first"`), history(t, s, "parent/2", 1)[0].Data)

	got := inbox(t, s, "other")
	require.Len(t, got, 1)
	require.Equal(t, []byte(`"from parent"`), got[0].Data)
	require.Len(t, inbox(t, s, "parent/1"), 1, "a child started in the commit can be sent to")
	require.Empty(t, inbox(t, s, "done"), "closed targets are skipped")
	_, err = s.FlowGet(ctx, "ghost")
	require.ErrorIs(t, err, store.ErrNotFound)

	// "other" woke; the children are due (parent/2 since its start).
	ids := claimIDs(t, s, now)
	sort.Strings(ids)
	require.Equal(t, []string{"other", "parent/1", "parent/2"}, ids)

	list, err := s.FlowList(ctx, store.FlowListParams{ParentID: "parent"})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "parent/1", list[0].ID)
}

func testFlowTerminate(t *testing.T, s store.Store) {
	ctx := context.Background()
	ev := fev("terminated", 0, "", `{"reason":"ops"}`)
	c := store.FlowClose{Status: record.FlowTerminated, Error: []byte(`{"reason":"ops"}`), RetainUntil: t0.Add(time.Hour)}
	require.ErrorIs(t, s.FlowTerminate(ctx, "ghost", ev, c, t0), store.ErrNotFound)

	flowStart(t, s, "x", t0)
	task := claimOne(t, s, "x", t0)
	_, err := s.FlowSend(ctx, signal("x", "s", `1`), t0)
	require.NoError(t, err)
	now := t0.Add(time.Second)
	require.NoError(t, s.FlowTerminate(ctx, "x", ev, c, now))
	e := flowGet(t, s, "x")
	require.Equal(t, record.FlowTerminated, e.Status)
	require.Equal(t, []byte(`{"reason":"ops"}`), e.Error)
	require.Equal(t, 2, e.HistoryLen)
	requireTime(t, now, e.ClosedAt, "closed at")
	require.Equal(t, []string{"1:started", "2:terminated"}, evTypes(history(t, s, "x", 1)))
	require.Empty(t, inbox(t, s, "x"))
	require.Empty(t, claimAll(t, s, now.Add(time.Hour)))
	require.ErrorIs(t, commit(s, store.FlowCommit{ExecutionID: "x", Lease: task.Lease, FromSeq: 1}, now), store.ErrLeaseLost,
		"the holder of a terminated execution has lost its lease")

	require.ErrorIs(t, s.FlowTerminate(ctx, "x", ev, c, now), store.ErrClosed)
	require.Len(t, history(t, s, "x", 1), 2)
}

func testFlowReopen(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.FlowReopen(ctx, store.FlowReopenParams{ID: "ghost"}, t0)
	require.ErrorIs(t, err, store.ErrNotFound)

	flowStart(t, s, "x", t0)
	_, err = s.FlowReopen(ctx, store.FlowReopenParams{ID: "x"}, t0)
	require.ErrorIs(t, err, store.ErrRunning)
	task := claimOne(t, s, "x", t0)
	require.NoError(t, commit(s, store.FlowCommit{ExecutionID: "x", Lease: task.Lease, FromSeq: 1,
		Events: []record.FlowEvent{fev("failed", 2, "f", "")},
		Close:  &store.FlowClose{Status: record.FlowFailed, Error: []byte(`{"step":2}`), RetainUntil: t0.Add(time.Hour)}}, t0))

	// Restart from the failure: events go on in the current run.
	now := t0.Add(time.Minute)
	e, err := s.FlowReopen(ctx, store.FlowReopenParams{ID: "x", Events: []record.FlowEvent{fev("restarted", 0, "", `{"forget":[2]}`)}}, now)
	require.NoError(t, err)
	require.Equal(t, record.FlowRunning, e.Status)
	require.Equal(t, 1, e.Run)
	require.Equal(t, 3, e.HistoryLen)
	require.Nil(t, e.Error)
	require.True(t, e.ClosedAt.IsZero())
	require.True(t, e.RetainUntil.IsZero())
	requireTime(t, now, e.UpdatedAt, "updated at")
	require.Equal(t, *e, *flowGet(t, s, "x"))
	require.Equal(t, []string{"1:started", "2:failed", "3:restarted"}, evTypes(history(t, s, "x", 1)))
	_, err = s.FlowReopen(ctx, store.FlowReopenParams{ID: "x"}, now)
	require.ErrorIs(t, err, store.ErrRunning)
	_, err = s.FlowSend(ctx, signal("x", "s", `1`), now)
	require.NoError(t, err, "running again: it takes messages")

	task = claimOne(t, s, "x", now)
	require.Equal(t, 1, task.Attempts)
	require.NoError(t, commit(s, store.FlowCommit{ExecutionID: "x", Lease: task.Lease, FromSeq: 3,
		Close: &store.FlowClose{Status: record.FlowCompleted, Output: []byte(`1`), RetainUntil: now.Add(time.Hour)}}, now))

	// A full restart begins a new run.
	e, err = s.FlowReopen(ctx, store.FlowReopenParams{ID: "x", NewRun: &store.FlowNewRun{Input: []byte(`{"n":3}`),
		Events: []record.FlowEvent{fev("started", 0, "wf", `{"n":3}`)}}}, now)
	require.NoError(t, err)
	require.Equal(t, 2, e.Run)
	require.Equal(t, 1, e.HistoryLen)
	require.Nil(t, e.Output)
	require.Equal(t, []byte(`{"n":3}`), e.Input)
	require.Equal(t, []string{"1:started"}, evTypes(history(t, s, "x", 2)))
	require.Len(t, history(t, s, "x", 1), 3)
	claimOne(t, s, "x", now)
}

func testFlowRenew(t *testing.T, s store.Store) {
	ctx := context.Background()
	flowStart(t, s, "x", t0)
	flowStart(t, s, "y", t0)
	flowStart(t, s, "z", t0)
	tasks := claimAll(t, s, t0)
	require.Len(t, tasks, 3)
	held := map[string]record.FlowTask{}
	for _, task := range tasks {
		held[task.ExecutionID] = task
	}
	// y's lease runs out and another node takes it; z is terminated.
	later := t0.Add(leaseFor)
	lost, err := s.FlowRenew(ctx, []record.FlowTask{held["x"], held["z"]}, later.Add(leaseFor))
	require.NoError(t, err)
	require.Empty(t, lost)
	taken := claimOne(t, s, "y", later)
	require.NoError(t, s.FlowTerminate(ctx, "z", fev("terminated", 0, "", ""), store.FlowClose{Status: record.FlowTerminated}, later))

	lost, err = s.FlowRenew(ctx, []record.FlowTask{held["x"], held["y"], held["z"], {ExecutionID: "ghost", Lease: "l"}}, later.Add(2*leaseFor))
	require.NoError(t, err)
	sort.Strings(lost)
	require.Equal(t, []string{"ghost", "y", "z"}, lost)
	require.Empty(t, claimAll(t, s, later.Add(leaseFor-time.Second)), "x renewed, y held by the other node")
	require.NoError(t, commit(s, store.FlowCommit{ExecutionID: "y", Lease: taken.Lease, FromSeq: 1, Release: &store.FlowRelease{}}, later))
	claimOne(t, s, "x", later.Add(2*leaseFor))
	lost, err = s.FlowRenew(ctx, nil, later)
	require.NoError(t, err)
	require.Empty(t, lost)
}

func testFlowNextDue(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, ok, err := s.FlowNextDue(ctx)
	require.NoError(t, err)
	require.False(t, ok, "no tasks")

	for id, due := range map[string]time.Duration{"a": 10 * time.Second, "b": time.Hour, "c": 5 * time.Second} {
		_, _, err := s.FlowStart(ctx, store.FlowStartParams{Execution: flowExec(id), DueAt: t0.Add(due)}, t0)
		require.NoError(t, err)
	}
	next, ok, err := s.FlowNextDue(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	requireTime(t, t0.Add(5*time.Second), next, "earliest due")

	// Held tasks count from the end of their lease.
	now := t0.Add(10 * time.Second)
	require.Len(t, claimAll(t, s, now), 2)
	next, ok, err = s.FlowNextDue(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	requireTime(t, now.Add(leaseFor), next, "a held task is claimable once its lease ends")
	require.Len(t, claimAll(t, s, next), 2)
	next, _, err = s.FlowNextDue(ctx)
	require.NoError(t, err)
	requireTime(t, next, now.Add(2*leaseFor), "renewed by the new claim")

	require.NoError(t, s.FlowTerminate(ctx, "a", fev("terminated", 0, "", ""), store.FlowClose{Status: record.FlowTerminated}, now))
	require.NoError(t, s.FlowTerminate(ctx, "c", fev("terminated", 0, "", ""), store.FlowClose{Status: record.FlowTerminated}, now))
	next, ok, err = s.FlowNextDue(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	requireTime(t, t0.Add(time.Hour), next, "b is left")
}

func testFlowList(t *testing.T, s store.Store) {
	ctx := context.Background()
	// Created a second apart, except two at the same time (ordered by id).
	starts := []struct {
		id, project, workflow string
		at                    time.Duration
	}{
		{"e1", "p", "wf", 1}, {"e2", "p", "other", 2}, {"e3", "q", "wf", 3}, {"e4b", "p", "wf", 4}, {"e4a", "p", "wf", 4}, {"e5", "p", "wf", 5},
	}
	for _, st := range starts {
		e := flowExec(st.id)
		e.Project, e.Workflow = st.project, st.workflow
		_, _, err := s.FlowStart(ctx, store.FlowStartParams{Execution: e}, t0.Add(st.at*time.Second))
		require.NoError(t, err)
	}
	task := claimAll(t, s, t0.Add(time.Minute))
	for _, task := range task {
		if task.ExecutionID == "e2" || task.ExecutionID == "e4a" {
			require.NoError(t, commit(s, store.FlowCommit{ExecutionID: task.ExecutionID, Lease: task.Lease,
				Close: &store.FlowClose{Status: record.FlowCompleted, RetainUntil: t0.Add(time.Hour)}}, t0.Add(time.Minute)))
		}
	}
	ids := func(p store.FlowListParams) []string {
		t.Helper()
		got, err := s.FlowList(ctx, p)
		require.NoError(t, err)
		out := []string{}
		for _, e := range got {
			out = append(out, e.ID)
		}
		return out
	}
	require.Equal(t, []string{"e5", "e4b", "e4a", "e3", "e2", "e1"}, ids(store.FlowListParams{}), "newest first, then by id")
	require.Equal(t, []string{"e5", "e4b", "e4a", "e2", "e1"}, ids(store.FlowListParams{Project: "p"}))
	require.Equal(t, []string{"e5", "e4b", "e4a", "e3", "e1"}, ids(store.FlowListParams{Workflow: "wf"}))
	require.Equal(t, []string{"e4a", "e2"}, ids(store.FlowListParams{Status: record.FlowCompleted}))
	require.Equal(t, []string{"e5", "e4b", "e1"}, ids(store.FlowListParams{Project: "p", Workflow: "wf", Status: record.FlowRunning}))
	require.Equal(t, []string{}, ids(store.FlowListParams{ParentID: "nobody"}))

	counts, err := s.FlowCount(ctx)
	require.NoError(t, err)
	require.Equal(t, []store.FlowCount{
		{Project: "p", Workflow: "other", Status: record.FlowCompleted, N: 1},
		{Project: "p", Workflow: "wf", Status: record.FlowCompleted, N: 1},
		{Project: "p", Workflow: "wf", Status: record.FlowRunning, N: 3},
		{Project: "q", Workflow: "wf", Status: record.FlowRunning, N: 1},
	}, counts, "by project, workflow and status")

	// Paging with Before walks the same order without repeats.
	var pages [][]string
	before := ""
	for {
		page := ids(store.FlowListParams{Before: before, Limit: 2})
		if len(page) == 0 {
			break
		}
		pages = append(pages, page)
		before = page[len(page)-1]
	}
	require.Equal(t, [][]string{{"e5", "e4b"}, {"e4a", "e3"}, {"e2", "e1"}}, pages)
	require.Equal(t, []string{"e4a", "e1"}, ids(store.FlowListParams{Before: "e4b", Project: "p", Workflow: "wf"}))
	_, err = s.FlowList(ctx, store.FlowListParams{Before: "ghost"})
	require.ErrorIs(t, err, store.ErrNotFound)

	// The default limit is 100.
	for i := range 101 {
		_, _, err := s.FlowStart(ctx, store.FlowStartParams{Execution: flowExec(fmt.Sprintf("bulk-%03d", i))}, t0.Add(time.Hour))
		require.NoError(t, err)
	}
	require.Len(t, ids(store.FlowListParams{}), 100)
}

func testFlowHistoryPaging(t *testing.T, s store.Store) {
	ctx := context.Background()
	flowStart(t, s, "x", t0)
	task := claimOne(t, s, "x", t0)
	var evs []record.FlowEvent
	for i := range 1200 { // more than one insert chunk
		evs = append(evs, fev("step", i, fmt.Sprint("f", i), fmt.Sprint(i)))
	}
	require.NoError(t, commit(s, store.FlowCommit{ExecutionID: "x", Lease: task.Lease, FromSeq: 1, Events: evs}, t0))
	all := history(t, s, "x", 1)
	require.Len(t, all, 1201)
	for i, ev := range all {
		require.Equal(t, i+1, ev.Seq)
	}
	require.Equal(t, []byte("1199"), all[1200].Data)
	page, err := s.FlowHistory(ctx, "x", 1, 1000, 3)
	require.NoError(t, err)
	require.Equal(t, []string{"1001:step", "1002:step", "1003:step"}, evTypes(page))
	require.Equal(t, "f999", page[0].Name)
	page, err = s.FlowHistory(ctx, "x", 1, 1201, 0)
	require.NoError(t, err)
	require.Empty(t, page)
}

func testFlowSweep(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, id := range []string{"old1", "old2", "old3", "fresh", "running"} {
		flowStart(t, s, id, t0)
	}
	retain := map[string]time.Time{"old1": t0.Add(time.Hour), "old2": t0.Add(2 * time.Hour), "old3": t0.Add(3 * time.Hour), "fresh": t0.Add(48 * time.Hour)}
	for _, task := range claimAll(t, s, t0) {
		if r, ok := retain[task.ExecutionID]; ok {
			require.NoError(t, commit(s, store.FlowCommit{ExecutionID: task.ExecutionID, Lease: task.Lease, FromSeq: 1,
				Events: []record.FlowEvent{fev("completed", 0, "", "")},
				Close:  &store.FlowClose{Status: record.FlowCompleted, RetainUntil: r}}, t0))
		}
	}
	now := t0.Add(24 * time.Hour)
	n, err := s.FlowSweep(ctx, now, 2)
	require.NoError(t, err)
	require.Equal(t, 2, n, "limit")
	n, err = s.FlowSweep(ctx, now, 0)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = s.FlowSweep(ctx, now, 10)
	require.NoError(t, err)
	require.Zero(t, n)
	for _, id := range []string{"old1", "old2", "old3"} {
		_, err := s.FlowGet(ctx, id)
		require.ErrorIs(t, err, store.ErrNotFound, id)
		_, err = s.FlowHistory(ctx, id, 1, 0, 0)
		require.ErrorIs(t, err, store.ErrNotFound, "the history goes with %s", id)
	}
	require.Len(t, history(t, s, "fresh", 1), 2)
	require.Equal(t, record.FlowRunning, flowGet(t, s, "running").Status)

	// Reopened, an execution is no longer swept.
	_, err = s.FlowReopen(ctx, store.FlowReopenParams{ID: "fresh"}, now)
	require.NoError(t, err)
	n, err = s.FlowSweep(ctx, now.Add(72*time.Hour), 10)
	require.NoError(t, err)
	require.Zero(t, n)
}

// FlowClaimRace has goroutines spread over the given handles (one store, or
// several on one database standing for several nodes) claim the same due
// tasks at once: each task is leased exactly once. The first store must be
// fresh; the others share its database.
func FlowClaimRace(t *testing.T, stores []store.Store) {
	ctx := context.Background()
	const total, racers = 200, 8
	for i := range total {
		_, _, err := stores[0].FlowStart(ctx, store.FlowStartParams{Execution: flowExec(fmt.Sprintf("race-%03d", i)),
			DueAt: t0.Add(time.Duration(i) * time.Millisecond)}, t0)
		require.NoError(t, err)
	}
	now := t0.Add(time.Second) // time stands still: no lease runs out
	var mu sync.Mutex
	seen := map[string]int{}
	leases := map[string]bool{}
	errs := make(chan error, racers)
	var wg sync.WaitGroup
	for r := range racers {
		s := stores[r%len(stores)]
		wg.Go(func() {
			// Bounded: a store that hands tasks out twice must not
			// keep the test looping.
			for range total {
				got, err := s.FlowClaim(ctx, fmt.Sprint("node-", r), now, leaseFor, 7)
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, task := range got {
					seen[task.ExecutionID]++
					leases[task.Lease] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, seen, total, "every task claimed")
	for id, n := range seen {
		require.Equal(t, 1, n, "task %s claimed %d times", id, n)
	}
	require.Len(t, leases, total, "every lease distinct")
}

// FlowSendReleaseRace has a holder release its task (consuming only the
// messages it knew of) while a signal is sent, round after round, through
// the given handles: however they interleave, the signal is never lost, and
// the task is due afterwards. The first store must be fresh.
func FlowSendReleaseRace(t *testing.T, stores []store.Store) {
	ctx := context.Background()
	s0 := stores[0]
	flowStart(t, s0, "x", t0)
	const rounds = 40
	now := t0
	for r := range rounds {
		task := claimOne(t, s0, "x", now)
		known := inbox(t, s0, "x")
		ids := make([]int64, len(known))
		for i, m := range known {
			ids[i] = m.ID
		}
		h := stores[r%len(stores)]
		sender := stores[(r+1)%len(stores)]
		var wg sync.WaitGroup
		var commitErr, sendErr error
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			commitErr = commit(h, store.FlowCommit{ExecutionID: "x", Lease: task.Lease, FromSeq: r + 1,
				Events:       []record.FlowEvent{fev("round", r, "", "")},
				ConsumeInbox: ids, Release: &store.FlowRelease{}}, now)
		})
		wg.Go(func() {
			<-start
			_, sendErr = sender.FlowSend(ctx, signal("x", fmt.Sprint("round-", r), `1`), now)
		})
		close(start)
		wg.Wait()
		require.NoError(t, commitErr, "round %d", r)
		require.NoError(t, sendErr, "round %d", r)
		got := inbox(t, s0, "x")
		require.Len(t, got, 1, "round %d: the new signal waits", r)
		require.Equal(t, fmt.Sprint("round-", r), got[0].Name)
		now = now.Add(time.Second)
		next, ok, err := s0.FlowNextDue(ctx)
		require.NoError(t, err)
		require.True(t, ok, "round %d: the task is due", r)
		require.False(t, next.After(now), "round %d: due at %v, not by %v", r, next, now)
	}
}

func testRouteWorkflow(t *testing.T, s store.Store) {
	ctx := context.Background()
	deploy(t, s, store.DeploymentApplyParams{
		Project:     "p",
		NewVersions: []store.NewVersionParams{{Function: "p-fn", ModuleSHA256: module("p-fn"), Config: cfg(record.KindReactor)}},
		Routes: []record.Route{
			{Method: "POST", Path: "/orders", Function: "p-fn", Workflow: "fulfil"},
			{Method: "GET", Path: "/orders/{id}", Function: "p-fn"},
		},
	})
	routes, err := s.RouteList(ctx)
	require.NoError(t, err)
	require.Equal(t, []record.Route{
		{Project: "p", Method: "POST", Path: "/orders", Function: "p-fn", Workflow: "fulfil"},
		{Project: "p", Method: "GET", Path: "/orders/{id}", Function: "p-fn"},
	}, routes)
}

// BenchFlowCommitBatch measures FlowCommitBatch of size commits, one per
// execution, each appending two events (a step scheduled and completed)
// and keeping its lease: the engine's hot path. It reports commits/s.
func BenchFlowCommitBatch(b *testing.B, s store.Store, size int) {
	ctx := context.Background()
	for i := range size {
		flowStart(b, s, fmt.Sprintf("bench-%04d", i), t0)
	}
	tasks, err := s.FlowClaim(ctx, "bench", t0, time.Hour, size)
	if err != nil || len(tasks) != size {
		b.Fatalf("claim %d tasks: got %d, %v", size, len(tasks), err)
	}
	commits := make([]store.FlowCommit, size)
	for i, task := range tasks {
		commits[i] = store.FlowCommit{ExecutionID: task.ExecutionID, Lease: task.Lease, FromSeq: 1}
	}
	now := t0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		now = now.Add(time.Millisecond)
		for i := range commits {
			commits[i].Events = []record.FlowEvent{
				{Type: "scheduled", Step: commits[i].FromSeq, Name: "charge-card", Data: []byte(`{"order":"o-42","amount":1999}`), Time: now},
				{Type: "completed", Step: commits[i].FromSeq, Name: "charge-card", Data: []byte(`{"payment":"pay-123"}`), Time: now},
			}
			commits[i].LeaseUntil = now.Add(time.Hour)
		}
		for i, err := range s.FlowCommitBatch(ctx, commits, now) {
			if err != nil {
				b.Fatal(err)
			}
			commits[i].FromSeq += 2
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "commits/s")
}

func testFlowStartBatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	flowStart(t, s, "old", t0)
	params := func(id string) store.FlowStartParams {
		return store.FlowStartParams{Execution: flowExec(id), Events: []record.FlowEvent{fev("started", 0, "wf", `{"n":2}`)},
			Lease: "me/" + id, LeaseUntil: t0.Add(leaseFor)}
	}
	got, err := s.FlowStartBatch(ctx, []store.FlowStartParams{params("a"), params("old"), params("b"), params("a")}, t0)
	require.NoError(t, err)
	require.Len(t, got, 4)
	require.True(t, got[0].Created)
	require.False(t, got[1].Created, "an id that exists is returned, not created")
	require.True(t, got[2].Created)
	require.False(t, got[3].Created, "the same id twice in one batch starts once")
	require.Equal(t, "a", got[0].Execution.ID)
	require.Equal(t, record.FlowRunning, got[0].Execution.Status)
	require.Equal(t, 1, got[0].Execution.HistoryLen)
	for _, g := range got {
		require.Equal(t, *flowGet(t, s, g.Execution.ID), *g.Execution, "what a start returns is what is stored")
	}
	hist, err := s.FlowHistory(ctx, "b", 1, 0, 0)
	require.NoError(t, err)
	require.Len(t, hist, 1)
	// Started held: only "old" (not held) is claimable now.
	require.Equal(t, []string{"old"}, claimIDs(t, s, t0))
}
