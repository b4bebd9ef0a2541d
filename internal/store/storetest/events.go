package storetest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// ClockSetter is implemented by stores whose clock tests can replace; the
// events tests need it so that visibility and delays pass without sleeping.
type ClockSetter interface {
	SetNow(now func() time.Time)
}

// eventsTests are the conformance tests of store.Events, run by Run.
var eventsTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"EventsDeployAndList", testEventsDeploy},
	{"EventsDeployKeepsAndDropsMessages", testEventsDeployKeepsMessages},
	{"EventsDeployConflicts", testEventsDeployConflicts},
	{"EventsDeployMissingTargets", testEventsDeployMissing},
	{"EventsDeployScheduleKeepsNextFire", testEventsScheduleRedeploy},
	{"MessageSendReceiveAck", testMessageSendReceiveAck},
	{"MessageReceiveCarriesAcks", testMessageReceiveCarriesAcks},
	{"MessageVisibilityExpiryRedelivers", testMessageVisibility},
	{"MessageDelay", testMessageDelay},
	{"MessageBatches", testMessageBatches},
	{"MessageFIFOGroups", testMessageFIFO},
	{"MessageDedup", testMessageDedup},
	{"MessageFailDelayAndDeadLetter", testMessageFail},
	{"MessageReceiveMovesExhausted", testMessageReceiveExhausted},
	{"MessageNoDeadLetterDeletes", testMessageNoDeadLetter},
	{"QueueRedrive", testQueueRedrive},
	{"QueueRedriveToSources", testQueueRedriveToSources},
	{"MessageFailNotAttempted", testMessageFailNotAttempted},
	{"QueueStatsPeekNextVisible", testQueueStats},
	{"TopicPublish", testTopicPublish},
	{"ScheduleFire", testScheduleFire},
	{"ScheduleFireRace", func(t *testing.T, s store.Store) { ScheduleFireRace(t, []store.Store{s}) }},
	{"ReceiveRace", func(t *testing.T, s store.Store) { ReceiveRace(t, []store.Store{s}) }},
}

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// fakeClock gives s a fake clock starting at t0.
func fakeClock(t testing.TB, s store.Store) *clock.Fake {
	t.Helper()
	cs, ok := s.(ClockSetter)
	require.True(t, ok, "%T must implement storetest.ClockSetter for the events tests", s)
	c := clock.NewFake(t0)
	cs.SetNow(c.Now)
	return c
}

// userQueue is a plain queue of project "p" with a 30 s visibility.
func userQueue(name string) record.QueueConfig {
	return record.QueueConfig{Name: name, Kind: record.QueueUser, VisibilityTimeout: 30 * time.Second}
}

// deployEvents deploys project with one function "<project>-fn" and ev.
func deployEvents(t testing.TB, s store.Store, project string, ev store.EventsApplyParams) {
	t.Helper()
	fn := project + "-fn"
	_, err := s.DeploymentApply(context.Background(), store.DeploymentApplyParams{
		Project:     project,
		NewVersions: []store.NewVersionParams{{Function: fn, ModuleSHA256: module(fn), Config: cfg(record.KindReactor)}},
		Events:      &ev,
	})
	require.NoError(t, err)
}

func send(t testing.TB, s store.Store, msgs ...store.MessageSendParams) []store.MessageSendResult {
	t.Helper()
	res, err := s.MessageSend(context.Background(), msgs)
	require.NoError(t, err)
	require.Len(t, res, len(msgs))
	return res
}

func receive(t testing.TB, s store.Store, queue string, max int) []record.Message {
	t.Helper()
	got, err := s.MessageReceive(context.Background(), store.MessageReceiveParams{Queue: queue, Max: max})
	require.NoError(t, err)
	return got
}

func ack(t testing.TB, s store.Store, queue string, msgs ...record.Message) int {
	t.Helper()
	ids, receipts := make([]int64, len(msgs)), make([]string, len(msgs))
	for i, m := range msgs {
		ids[i], receipts[i] = m.ID, m.Receipt
	}
	n, err := s.MessageAck(context.Background(), queue, ids, receipts)
	require.NoError(t, err)
	return n
}

func bodies(msgs []record.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Body)
	}
	return out
}

func msg(queue, body string) store.MessageSendParams {
	return store.MessageSendParams{Queue: queue, Body: []byte(body)}
}

func testEventsDeploy(t *testing.T, s store.Store) {
	ctx := context.Background()
	next := t0.Add(time.Hour)
	_, err := s.DeploymentApply(ctx, store.DeploymentApplyParams{
		Project:     "shop",
		NewVersions: []store.NewVersionParams{{Function: "orders", ModuleSHA256: module("orders"), Config: cfg(record.KindReactor)}},
		Routes: []record.Route{
			{Method: "POST", Path: "/orders", Function: "orders", Async: true, RateLimit: 12.5, RateBurst: 20},
			{Method: "GET", Path: "/orders", Function: "orders"},
		},
		Events: &store.EventsApplyParams{
			Queues: []record.QueueConfig{
				{Name: "jobs", Project: "ignored", Kind: record.QueueUser, VisibilityTimeout: 45 * time.Second, MaxReceives: 3,
					DeadLetter: "jobs-dlq", FIFO: true, Consumer: "orders", BatchSize: 10},
				userQueue("jobs-dlq"),
				{Name: "_async.orders", Kind: record.QueueAsync, VisibilityTimeout: time.Minute, MaxReceives: 3,
					DeadLetter: "jobs-dlq", Consumer: "orders", RetryBase: 1500 * time.Millisecond},
			},
			Topics: []record.TopicConfig{
				{Name: "order-events", Queues: []string{"jobs", "_async.orders"}},
				{Name: "quiet"},
			},
			Schedules: []record.Schedule{{Name: "orders", Function: "orders", Spec: "0 3 * * *", Timezone: "Europe/Paris", NextFire: next}},
		},
	})
	require.NoError(t, err)

	q, err := s.QueueGet(ctx, "jobs")
	require.NoError(t, err)
	require.Equal(t, record.QueueConfig{Name: "jobs", Project: "shop", Kind: record.QueueUser, VisibilityTimeout: 45 * time.Second,
		MaxReceives: 3, DeadLetter: "jobs-dlq", FIFO: true, Consumer: "orders", BatchSize: 10}, *q, "Project is set from the deploy")
	_, err = s.QueueGet(ctx, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)
	qs, err := s.QueueList(ctx)
	require.NoError(t, err)
	require.Len(t, qs, 3)
	require.Equal(t, []string{"_async.orders", "jobs", "jobs-dlq"}, []string{qs[0].Name, qs[1].Name, qs[2].Name})
	require.Equal(t, 1500*time.Millisecond, qs[0].RetryBase)
	require.Equal(t, record.QueueAsync, qs[0].Kind)

	tp, err := s.TopicGet(ctx, "order-events")
	require.NoError(t, err)
	require.Equal(t, record.TopicConfig{Name: "order-events", Project: "shop", Queues: []string{"_async.orders", "jobs"}}, *tp,
		"subscribed queues come back sorted")
	_, err = s.TopicGet(ctx, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)
	ts, err := s.TopicList(ctx)
	require.NoError(t, err)
	require.Equal(t, []record.TopicConfig{*tp, {Name: "quiet", Project: "shop"}}, ts)

	sc, err := s.ScheduleList(ctx)
	require.NoError(t, err)
	require.Len(t, sc, 1)
	require.True(t, sc[0].NextFire.Equal(next))
	require.Equal(t, time.UTC, sc[0].NextFire.Location())
	sc[0].NextFire = next
	require.Equal(t, record.Schedule{Name: "orders", Project: "shop", Function: "orders", Spec: "0 3 * * *",
		Timezone: "Europe/Paris", NextFire: next}, sc[0])

	routes, err := s.RouteList(ctx)
	require.NoError(t, err)
	require.Equal(t, []record.Route{
		{Project: "shop", Method: "GET", Path: "/orders", Function: "orders"},
		{Project: "shop", Method: "POST", Path: "/orders", Function: "orders", Async: true, RateLimit: 12.5, RateBurst: 20},
	}, routes, "routes carry async and rate limits")

	// A deploy without Events leaves them alone; one with empty Events
	// removes them all.
	_, err = s.DeploymentApply(ctx, store.DeploymentApplyParams{Project: "shop", Routes: routes[:1]})
	require.NoError(t, err)
	qs, err = s.QueueList(ctx)
	require.NoError(t, err)
	require.Len(t, qs, 3)
	_, err = s.DeploymentApply(ctx, store.DeploymentApplyParams{Project: "shop", Events: &store.EventsApplyParams{}})
	require.NoError(t, err)
	qs, err = s.QueueList(ctx)
	require.NoError(t, err)
	require.Empty(t, qs)
	ts, err = s.TopicList(ctx)
	require.NoError(t, err)
	require.Empty(t, ts)
	sc, err = s.ScheduleList(ctx)
	require.NoError(t, err)
	require.Empty(t, sc)
}

func testEventsDeployKeepsMessages(t *testing.T, s store.Store) {
	ctx := context.Background()
	fakeClock(t, s)
	deployEvents(t, s, "p", store.EventsApplyParams{
		Queues: []record.QueueConfig{userQueue("keep"), userQueue("drop")},
		Topics: []record.TopicConfig{{Name: "t", Queues: []string{"keep", "drop"}}},
	})
	send(t, s, msg("keep", "k1"), msg("keep", "k2"), msg("drop", "d1"))
	// Redeploy: "keep" stays with a new configuration, "drop" goes.
	kept := userQueue("keep")
	kept.VisibilityTimeout = time.Minute
	kept.MaxReceives = 5
	deployEvents(t, s, "p", store.EventsApplyParams{
		Queues: []record.QueueConfig{kept},
		Topics: []record.TopicConfig{{Name: "t", Queues: []string{"keep"}}},
	})
	q, err := s.QueueGet(ctx, "keep")
	require.NoError(t, err)
	require.Equal(t, time.Minute, q.VisibilityTimeout)
	require.Equal(t, 5, q.MaxReceives)
	got, err := s.MessagePeek(ctx, "keep", 0)
	require.NoError(t, err)
	require.Equal(t, []string{"k1", "k2"}, bodies(got))
	_, err = s.QueueGet(ctx, "drop")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.MessagePeek(ctx, "drop", 0)
	require.ErrorIs(t, err, store.ErrNotFound)
	tp, err := s.TopicGet(ctx, "t")
	require.NoError(t, err)
	require.Equal(t, []string{"keep"}, tp.Queues)

	// A queue created again under a removed name starts empty: the old
	// messages went with the old queue.
	deployEvents(t, s, "p", store.EventsApplyParams{Queues: []record.QueueConfig{kept, userQueue("drop")}})
	got, err = s.MessagePeek(ctx, "drop", 0)
	require.NoError(t, err)
	require.Empty(t, got)
	st, err := s.QueueStats(ctx, "drop")
	require.NoError(t, err)
	require.Zero(t, st.Visible)
}

// requireEventsOfA checks that a failed deploy of project "b" left project
// "a"'s events as deployEventsOfA made them and wrote nothing of b's.
func requireEventsOfA(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	qs, err := s.QueueList(ctx)
	require.NoError(t, err)
	var names []string
	for _, q := range qs {
		require.Equal(t, "a", q.Project)
		names = append(names, q.Name)
	}
	require.Equal(t, []string{"a-dlq", "a-q"}, names)
	ts, err := s.TopicList(ctx)
	require.NoError(t, err)
	require.Equal(t, []record.TopicConfig{{Name: "a-topic", Project: "a", Queues: []string{"a-q"}}}, ts)
	sc, err := s.ScheduleList(ctx)
	require.NoError(t, err)
	require.Len(t, sc, 1)
	require.Equal(t, "a", sc[0].Project)
	got, err := s.MessagePeek(ctx, "a-q", 0)
	require.NoError(t, err)
	require.Equal(t, []string{"precious"}, bodies(got))
	_, err = s.FunctionGet(ctx, "b-fn")
	require.ErrorIs(t, err, store.ErrNotFound, "the failed deploy created no function either")
}

func deployEventsOfA(t *testing.T, s store.Store) {
	q := userQueue("a-q")
	q.DeadLetter = "a-dlq"
	deployEvents(t, s, "a", store.EventsApplyParams{
		Queues:    []record.QueueConfig{q, userQueue("a-dlq")},
		Topics:    []record.TopicConfig{{Name: "a-topic", Queues: []string{"a-q"}}},
		Schedules: []record.Schedule{{Name: "a-sched", Function: "a-fn", Spec: "@every 5m", NextFire: t0}},
	})
	send(t, s, msg("a-q", "precious"))
}

func testEventsDeployConflicts(t *testing.T, s store.Store) {
	deployEventsOfA(t, s)
	tests := []struct {
		name string
		ev   store.EventsApplyParams
	}{
		{"queue of another project", store.EventsApplyParams{Queues: []record.QueueConfig{userQueue("b-q"), userQueue("a-q")}}},
		{"dead-letter queue of another project", store.EventsApplyParams{Queues: []record.QueueConfig{userQueue("b-q"), userQueue("a-dlq")}}},
		{"topic of another project", store.EventsApplyParams{
			Queues: []record.QueueConfig{userQueue("b-q")},
			Topics: []record.TopicConfig{{Name: "b-topic", Queues: []string{"b-q"}}, {Name: "a-topic", Queues: []string{"b-q"}}},
		}},
		{"schedule of another project", store.EventsApplyParams{
			Queues:    []record.QueueConfig{userQueue("b-q")},
			Schedules: []record.Schedule{{Name: "a-sched", Function: "b-fn", Spec: "@every 1m", NextFire: t0}},
		}},
		{"queue listed twice", store.EventsApplyParams{Queues: []record.QueueConfig{userQueue("b-q"), userQueue("b-q")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.DeploymentApply(context.Background(), store.DeploymentApplyParams{
				Project:     "b",
				NewVersions: []store.NewVersionParams{{Function: "b-fn", ModuleSHA256: module("b-fn"), Config: cfg(record.KindReactor)}},
				Events:      &tt.ev,
			})
			require.ErrorIs(t, err, store.ErrConflict)
			requireEventsOfA(t, s)
		})
	}
}

func testEventsDeployMissing(t *testing.T, s store.Store) {
	deployEventsOfA(t, s)
	withDLQ := func(q record.QueueConfig, dlq string) record.QueueConfig { q.DeadLetter = dlq; return q }
	withConsumer := func(q record.QueueConfig, fn string) record.QueueConfig { q.Consumer = fn; return q }
	tests := []struct {
		name string
		ev   store.EventsApplyParams
	}{
		{"dead-letter queue missing", store.EventsApplyParams{Queues: []record.QueueConfig{withDLQ(userQueue("b-q"), "ghost")}}},
		{"dead-letter queue of another project", store.EventsApplyParams{Queues: []record.QueueConfig{withDLQ(userQueue("b-q"), "a-dlq")}}},
		{"subscription to a missing queue", store.EventsApplyParams{
			Queues: []record.QueueConfig{userQueue("b-q")},
			Topics: []record.TopicConfig{{Name: "b-topic", Queues: []string{"b-q", "ghost"}}},
		}},
		// These two pass validation and fail inside the transaction,
		// after the queues were written: all of it must roll back.
		{"consumer missing", store.EventsApplyParams{Queues: []record.QueueConfig{userQueue("b-q"), withConsumer(userQueue("b-q2"), "ghost")}}},
		{"consumer of another project", store.EventsApplyParams{Queues: []record.QueueConfig{userQueue("b-q"), withConsumer(userQueue("b-q2"), "a-fn")}}},
		{"schedule of a missing function", store.EventsApplyParams{
			Queues:    []record.QueueConfig{userQueue("b-q")},
			Topics:    []record.TopicConfig{{Name: "b-topic", Queues: []string{"b-q"}}},
			Schedules: []record.Schedule{{Name: "b-sched", Function: "ghost", Spec: "@every 1m", NextFire: t0}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.DeploymentApply(context.Background(), store.DeploymentApplyParams{
				Project:     "b",
				NewVersions: []store.NewVersionParams{{Function: "b-fn", ModuleSHA256: module("b-fn"), Config: cfg(record.KindReactor)}},
				Events:      &tt.ev,
			})
			require.ErrorIs(t, err, store.ErrNotFound)
			requireEventsOfA(t, s)
		})
	}
}

func testEventsScheduleRedeploy(t *testing.T, s store.Store) {
	ctx := context.Background()
	sched := record.Schedule{Name: "p-fn", Function: "p-fn", Spec: "@every 5m", NextFire: t0}
	deployEvents(t, s, "p", store.EventsApplyParams{Queues: []record.QueueConfig{userQueue("q")}, Schedules: []record.Schedule{sched}})
	fired, err := s.ScheduleFire(ctx, store.ScheduleFireParams{Name: "p-fn", Expected: t0, Next: t0.Add(5 * time.Minute), Message: msg("q", "tick")})
	require.NoError(t, err)
	require.True(t, fired)

	// Same spec and timezone: the deploy's (recomputed) NextFire is
	// ignored and the stored one kept.
	sched.NextFire = t0.Add(time.Minute)
	deployEvents(t, s, "p", store.EventsApplyParams{Queues: []record.QueueConfig{userQueue("q")}, Schedules: []record.Schedule{sched}})
	sc, err := s.ScheduleList(ctx)
	require.NoError(t, err)
	require.True(t, sc[0].NextFire.Equal(t0.Add(5*time.Minute)), "got %v", sc[0].NextFire)

	// A new timezone (or spec) takes the deploy's NextFire.
	sched.Timezone = "Asia/Tokyo"
	deployEvents(t, s, "p", store.EventsApplyParams{Queues: []record.QueueConfig{userQueue("q")}, Schedules: []record.Schedule{sched}})
	sc, err = s.ScheduleList(ctx)
	require.NoError(t, err)
	require.True(t, sc[0].NextFire.Equal(t0.Add(time.Minute)))
	require.Equal(t, "Asia/Tokyo", sc[0].Timezone)
}

func testMessageSendReceiveAck(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := fakeClock(t, s)
	deployEvents(t, s, "p", store.EventsApplyParams{Queues: []record.QueueConfig{userQueue("q"), userQueue("other")}})

	attrs := map[string]string{"type": "order.created", "source": "/shop", "odd": "a\x00b"}
	res := send(t, s,
		store.MessageSendParams{Queue: "q", Body: []byte("\x00binary\xff"), Attributes: attrs, GroupID: "g"},
		store.MessageSendParams{Queue: "q", Body: nil},
	)
	require.Greater(t, res[1].ID, res[0].ID)
	require.False(t, res[0].Duplicate)

	_, err := s.MessageSend(ctx, []store.MessageSendParams{msg("other", "x"), msg("ghost", "y")})
	require.ErrorIs(t, err, store.ErrNotFound, "unknown queue")
	got, err := s.MessagePeek(ctx, "other", 0)
	require.NoError(t, err)
	require.Empty(t, got, "all or nothing")

	c.Advance(time.Second)
	got = receive(t, s, "q", 10)
	require.Len(t, got, 2)
	m := got[0]
	require.Equal(t, res[0].ID, m.ID)
	require.Equal(t, "q", m.Queue)
	require.Equal(t, []byte("\x00binary\xff"), m.Body, "bodies are bytes")
	require.Equal(t, map[string]string{"type": "order.created", "source": "/shop", "odd": "a\uFFFDb"}, m.Attributes)
	require.Equal(t, "g", m.GroupID)
	require.Equal(t, 1, m.ReceiveCount)
	require.NotEmpty(t, m.Receipt)
	require.NotEqual(t, m.Receipt, got[1].Receipt)
	require.Equal(t, t0, m.SentAt)
	require.Equal(t, time.UTC, m.SentAt.Location())
	require.Equal(t, t0.Add(time.Second+30*time.Second), m.VisibleAt, "hidden for the visibility timeout")
	require.Equal(t, []byte{}, got[1].Body)
	require.Nil(t, got[1].Attributes)

	require.Empty(t, receive(t, s, "q", 10), "in flight")
	n, err := s.MessageAck(ctx, "q", []int64{m.ID, got[1].ID}, []string{"wrong", got[1].Receipt})
	require.NoError(t, err)
	require.Equal(t, 1, n, "a wrong receipt acks nothing")
	require.Equal(t, 0, ack(t, s, "other", m), "the queue must match")
	require.Equal(t, 1, ack(t, s, "q", m))
	require.Equal(t, 0, ack(t, s, "q", m), "acking twice")
	c.Advance(time.Hour)
	require.Empty(t, receive(t, s, "q", 10))

	_, err = s.MessageReceive(ctx, store.MessageReceiveParams{Queue: "ghost", Max: 1})
	require.ErrorIs(t, err, store.ErrNotFound)
}

// A receive that carries acks applies them first, in the same write: the
// acked messages are gone, stale receipts ack nothing, and in a FIFO queue
// the message behind an acked head is claimable by that same receive.
func testMessageReceiveCarriesAcks(t *testing.T, s store.Store) {
	ctx := context.Background()
	fakeClock(t, s)
	fifo := userQueue("f")
	fifo.FIFO = true
	deployEvents(t, s, "p", store.EventsApplyParams{Queues: []record.QueueConfig{userQueue("q"), fifo}})
	send(t, s, msg("q", "a"), msg("q", "b"), msg("q", "c"))

	got := receive(t, s, "q", 2)
	require.Len(t, got, 2)
	next, err := s.MessageReceive(ctx, store.MessageReceiveParams{Queue: "q", Max: 10,
		AckIDs: []int64{got[0].ID, got[1].ID}, AckReceipts: []string{got[0].Receipt, "stale"}})
	require.NoError(t, err)
	require.Equal(t, []string{"c"}, bodies(next))
	left, err := s.MessagePeek(ctx, "q", 0)
	require.NoError(t, err)
	require.Equal(t, []string{"b", "c"}, bodies(left), "a acked; b's stale receipt acked nothing")

	// Max 0: only the acks.
	none, err := s.MessageReceive(ctx, store.MessageReceiveParams{Queue: "q",
		AckIDs: []int64{got[1].ID, next[0].ID}, AckReceipts: []string{got[1].Receipt, next[0].Receipt}})
	require.NoError(t, err)
	require.Empty(t, none)
	left, err = s.MessagePeek(ctx, "q", 0)
	require.NoError(t, err)
	require.Empty(t, left)

	send(t, s, store.MessageSendParams{Queue: "f", GroupID: "g", Body: []byte("1")},
		store.MessageSendParams{Queue: "f", GroupID: "g", Body: []byte("2")})
	head := receive(t, s, "f", 10)
	require.Equal(t, []string{"1"}, bodies(head))
	next, err = s.MessageReceive(ctx, store.MessageReceiveParams{Queue: "f", Max: 10,
		AckIDs: []int64{head[0].ID}, AckReceipts: []string{head[0].Receipt}})
	require.NoError(t, err)
	require.Equal(t, []string{"2"}, bodies(next), "the ack ran before the claim")

	_, err = s.MessageReceive(ctx, store.MessageReceiveParams{Queue: "f", Max: 1, AckIDs: []int64{1}})
	require.Error(t, err, "ids and receipts of different lengths")
	_, err = s.MessageReceive(ctx, store.MessageReceiveParams{Queue: "ghost", Max: 1,
		AckIDs: []int64{next[0].ID}, AckReceipts: []string{next[0].Receipt}})
	require.ErrorIs(t, err, store.ErrNotFound)
	left, err = s.MessagePeek(ctx, "f", 0)
	require.NoError(t, err)
	require.Equal(t, []string{"2"}, bodies(left), "a failed receive acked nothing")
}

func testMessageVisibility(t *testing.T, s store.Store) {
	c := fakeClock(t, s)
	deployEvents(t, s, "p", store.EventsApplyParams{Queues: []record.QueueConfig{userQueue("q")}})
	send(t, s, msg("q", "a"))
	first := receive(t, s, "q", 1)
	require.Len(t, first, 1)
	c.Advance(30*time.Second - time.Microsecond)
	require.Empty(t, receive(t, s, "q", 1), "still hidden")
	c.Advance(time.Microsecond)
	again := receive(t, s, "q", 1)
	require.Len(t, again, 1, "redelivered when the visibility timeout ran out")
	require.Equal(t, first[0].ID, again[0].ID)
	require.Equal(t, 2, again[0].ReceiveCount)
	require.NotEqual(t, first[0].Receipt, again[0].Receipt)
	require.Equal(t, 0, ack(t, s, "q", first[0]), "the first receipt is stale")
	require.Equal(t, 1, ack(t, s, "q", again[0]))

	// A receive may ask for its own visibility.
	send(t, s, msg("q", "b"))
	got, err := s.MessageReceive(context.Background(), store.MessageReceiveParams{Queue: "q", Max: 1, Visibility: 2 * time.Second})
	require.NoError(t, err)
	require.Len(t, got, 1)
	c.Advance(2 * time.Second)
	require.Len(t, receive(t, s, "q", 1), 1)
}

func testMessageDelay(t *testing.T, s store.Store) {
	c := fakeClock(t, s)
	deployEvents(t, s, "p", store.EventsApplyParams{Queues: []record.QueueConfig{userQueue("q")}})
	send(t, s, store.MessageSendParams{Queue: "q", Body: []byte("later"), Delay: 10 * time.Second}, msg("q", "now"))
	require.Equal(t, []string{"now"}, bodies(receive(t, s, "q", 10)))
	c.Advance(10 * time.Second)
	got := receive(t, s, "q", 10)
	require.Equal(t, []string{"later"}, bodies(got))
	require.Equal(t, t0, got[0].SentAt)
	_, err := s.MessageSend(context.Background(), []store.MessageSendParams{{Queue: "q", Delay: -time.Second}})
	require.Error(t, err)
}

func testMessageBatches(t *testing.T, s store.Store) {
	c := fakeClock(t, s)
	deployEvents(t, s, "p", store.EventsApplyParams{Queues: []record.QueueConfig{userQueue("q")}})
	var batch []store.MessageSendParams
	for i := range 25 {
		batch = append(batch, msg("q", strconv.Itoa(i)))
	}
	res := send(t, s, batch...)
	for i := 1; i < len(res); i++ {
		require.Greater(t, res[i].ID, res[i-1].ID, "IDs increase in batch order")
	}
	var all []record.Message
	for _, want := range []int{10, 10, 5, 0} {
		got := receive(t, s, "q", 10)
		require.Len(t, got, want)
		all = append(all, got...)
	}
	for i, m := range all {
		require.Equal(t, strconv.Itoa(i), string(m.Body), "oldest first")
		require.Equal(t, res[i].ID, m.ID)
	}
	// Ack a batch where some receipts went stale.
	c.Advance(time.Minute)
	again := receive(t, s, "q", 3)
	require.Equal(t, []string{"0", "1", "2"}, bodies(again))
	require.Equal(t, 22, ack(t, s, "q", all...), "three of 25 were received again since")
	require.Equal(t, 3, ack(t, s, "q", again...))
	require.Empty(t, receive(t, s, "q", 10))
}

func testMessageFIFO(t *testing.T, s store.Store) {
	c := fakeClock(t, s)
	q := userQueue("q.fifo")
	q.FIFO = true
	deployEvents(t, s, "p", store.EventsApplyParams{Queues: []record.QueueConfig{q}})
	g := func(group, body string) store.MessageSendParams {
		return store.MessageSendParams{Queue: "q.fifo", GroupID: group, Body: []byte(body)}
	}
	send(t, s, g("a", "a1"), g("a", "a2"), g("b", "b1"), g("a", "a3"), g("b", "b2"), g("c", "c1"))

	first := receive(t, s, "q.fifo", 10)
	require.Equal(t, []string{"a1", "b1", "c1"}, bodies(first), "one message per group, the oldest")
	require.Empty(t, receive(t, s, "q.fifo", 10), "every group has one in flight")

	// Group b finishes its message; a and c are still busy.
	require.Equal(t, 1, ack(t, s, "q.fifo", first[1]))
	second := receive(t, s, "q.fifo", 10)
	require.Equal(t, []string{"b2"}, bodies(second))

	// a1 fails with a delay: group a waits for it, in order.
	require.NoError(t, s.MessageFail(context.Background(), "q.fifo", []store.MessageFailParams{{ID: first[0].ID, Receipt: first[0].Receipt, Delay: 5 * time.Second, Error: "boom"}}))
	require.Empty(t, receive(t, s, "q.fifo", 10), "a waits for a1's retry")
	c.Advance(5 * time.Second)
	retry := receive(t, s, "q.fifo", 10)
	require.Equal(t, []string{"a1"}, bodies(retry))
	require.Equal(t, 2, retry[0].ReceiveCount)
	require.Equal(t, "boom", retry[0].LastError)
	require.Equal(t, 1, ack(t, s, "q.fifo", retry[0]))
	require.Equal(t, 1, ack(t, s, "q.fifo", first[2]))
	require.Equal(t, 1, ack(t, s, "q.fifo", second[0]))
	require.Equal(t, []string{"a2"}, bodies(receive(t, s, "q.fifo", 10)))

	// A group whose message's visibility ran out delivers it again, still
	// before anything behind it.
	c.Advance(30 * time.Second)
	got := receive(t, s, "q.fifo", 10)
	require.Equal(t, []string{"a2"}, bodies(got))
	require.Equal(t, 2, got[0].ReceiveCount)
	next, err := s.QueueNextVisible(context.Background(), "q.fifo")
	require.NoError(t, err)
	require.Equal(t, got[0].VisibleAt, next, "a3 waits for a2, so the next visible time is a2's")
}

func testMessageDedup(t *testing.T, s store.Store) {
	c := fakeClock(t, s)
	deployEvents(t, s, "p", store.EventsApplyParams{Queues: []record.QueueConfig{userQueue("q"), userQueue("q2")}})
	d := func(queue, body, id string) store.MessageSendParams {
		return store.MessageSendParams{Queue: queue, Body: []byte(body), DedupID: id}
	}
	res := send(t, s, d("q", "first", "x"), msg("q", "plain"), d("q", "dup in batch", "x"), d("q2", "other queue", "x"))
	require.False(t, res[0].Duplicate)
	require.False(t, res[1].Duplicate)
	require.True(t, res[2].Duplicate)
	require.Equal(t, res[0].ID, res[2].ID, "a duplicate reports the original's ID")
	require.False(t, res[3].Duplicate, "dedup ids are per queue")
	require.Greater(t, res[1].ID, res[0].ID)

	// Remembered after the message is acked.
	got := receive(t, s, "q", 10)
	require.Equal(t, []string{"first", "plain"}, bodies(got))
	require.Equal(t, "x", got[0].DedupID)
	require.Equal(t, 2, ack(t, s, "q", got...))
	c.Advance(store.DedupWindow - time.Second)
	res = send(t, s, d("q", "again", "x"))
	require.True(t, res[0].Duplicate)
	require.Empty(t, receive(t, s, "q", 10))

	// Forgotten after the window.
	c.Advance(time.Second)
	res = send(t, s, d("q", "after window", "x"))
	require.False(t, res[0].Duplicate)
	require.Equal(t, []string{"after window"}, bodies(receive(t, s, "q", 10)))
	// ... and the new send starts a new window.
	c.Advance(time.Minute)
	require.True(t, send(t, s, d("q", "again", "x"))[0].Duplicate)
}

func deadLetterQueues(maxReceives int) []record.QueueConfig {
	q := userQueue("work")
	q.MaxReceives = maxReceives
	q.DeadLetter = "dlq"
	return []record.QueueConfig{q, userQueue("dlq")}
}

func testMessageFail(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := fakeClock(t, s)
	deployEvents(t, s, "p", store.EventsApplyParams{Queues: deadLetterQueues(2)})
	send(t, s, store.MessageSendParams{Queue: "work", Body: []byte("job"), Attributes: map[string]string{"type": "t"}, GroupID: "g"})

	m := receive(t, s, "work", 1)[0]
	require.NoError(t, s.MessageFail(ctx, "work", []store.MessageFailParams{{ID: m.ID, Receipt: "stale", Error: "ignored"}}))
	require.Empty(t, receive(t, s, "work", 1), "a stale receipt fails nothing")
	require.NoError(t, s.MessageFail(ctx, "work", []store.MessageFailParams{{ID: m.ID, Receipt: m.Receipt, Delay: 3 * time.Second, Error: "first try"}}))
	require.Equal(t, 0, ack(t, s, "work", m), "failing ends the receipt")
	st, err := s.QueueStats(ctx, "work")
	require.NoError(t, err)
	require.Equal(t, record.QueueStats{Queue: "work", Delayed: 1, OldestSent: t0}, *st)
	c.Advance(3*time.Second - time.Microsecond)
	require.Empty(t, receive(t, s, "work", 1), "not before the delay")
	c.Advance(time.Microsecond)
	m = receive(t, s, "work", 1)[0]
	require.Equal(t, 2, m.ReceiveCount)
	require.Equal(t, "first try", m.LastError)

	// The second failure reaches MaxReceives: to the dead-letter queue.
	require.NoError(t, s.MessageFail(ctx, "work", []store.MessageFailParams{{ID: m.ID, Receipt: m.Receipt, Delay: time.Second, Error: "second try"}}))
	c.Advance(time.Hour)
	require.Empty(t, receive(t, s, "work", 1))
	dead := receive(t, s, "dlq", 10)
	require.Len(t, dead, 1)
	require.Equal(t, []byte("job"), dead[0].Body)
	require.Equal(t, "g", dead[0].GroupID)
	require.Equal(t, map[string]string{"type": "t", "error": "second try", "attempts": "2", "source_queue": "work"}, dead[0].Attributes)
	require.Equal(t, 1, dead[0].ReceiveCount, "counting starts again in the dead-letter queue")
	require.Equal(t, t0, dead[0].SentAt)
}

func testMessageReceiveExhausted(t *testing.T, s store.Store) {
	c := fakeClock(t, s)
	deployEvents(t, s, "p", store.EventsApplyParams{Queues: deadLetterQueues(2)})
	send(t, s, store.MessageSendParams{Queue: "work", Body: []byte("poison"), Attributes: map[string]string{"k": "v"}}, msg("work", "fine"))
	// A consumer that crashes: it never acks or fails, the visibility
	// runs out each time.
	for range 2 {
		got := receive(t, s, "work", 10)
		require.Len(t, got, 2)
		c.Advance(30 * time.Second)
	}
	require.Empty(t, receive(t, s, "work", 10), "both exhausted: moved instead of delivered a third time")
	dead := receive(t, s, "dlq", 10)
	require.Equal(t, []string{"poison", "fine"}, bodies(dead))
	require.Equal(t, map[string]string{"k": "v", "error": "", "attempts": "2", "source_queue": "work"}, dead[0].Attributes)
}

func testMessageNoDeadLetter(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := fakeClock(t, s)
	q := userQueue("work")
	q.MaxReceives = 1
	deployEvents(t, s, "p", store.EventsApplyParams{Queues: []record.QueueConfig{q}})
	send(t, s, msg("work", "a"), msg("work", "b"))
	got := receive(t, s, "work", 10)
	require.Len(t, got, 2)
	require.NoError(t, s.MessageFail(ctx, "work", []store.MessageFailParams{{ID: got[0].ID, Receipt: got[0].Receipt, Error: "x"}}))
	c.Advance(time.Minute) // b's visibility runs out
	require.Empty(t, receive(t, s, "work", 10))
	left, err := s.MessagePeek(ctx, "work", 0)
	require.NoError(t, err)
	require.Empty(t, left, "with no dead-letter queue, exhausted messages are deleted")
}

func testQueueRedrive(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := fakeClock(t, s)
	deployEvents(t, s, "p", store.EventsApplyParams{Queues: deadLetterQueues(1)})
	send(t, s, msg("work", "1"), msg("work", "2"), msg("work", "3"))
	got := receive(t, s, "work", 10)
	fails := make([]store.MessageFailParams, len(got))
	for i, m := range got {
		fails[i] = store.MessageFailParams{ID: m.ID, Receipt: m.Receipt, Error: "e" + string(m.Body)}
	}
	require.NoError(t, s.MessageFail(ctx, "work", fails))
	dead, err := s.MessagePeek(ctx, "dlq", 0)
	require.NoError(t, err)
	require.Equal(t, []string{"1", "2", "3"}, bodies(dead))
	require.Equal(t, "e2", dead[1].Attributes["error"])

	c.Advance(time.Second)
	n, err := s.QueueRedrive(ctx, "dlq", "work", 2)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	back := receive(t, s, "work", 10)
	require.Equal(t, []string{"1", "2"}, bodies(back), "oldest first")
	require.Equal(t, 1, back[0].ReceiveCount, "receive counts start again")
	require.Empty(t, back[0].LastError)
	n, err = s.QueueRedrive(ctx, "dlq", "work", 0)
	require.NoError(t, err)
	require.Equal(t, 1, n, "0 moves the rest")
	_, err = s.QueueRedrive(ctx, "dlq", "ghost", 0)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.QueueRedrive(ctx, "ghost", "dlq", 0)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testQueueStats(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := fakeClock(t, s)
	deployEvents(t, s, "p", store.EventsApplyParams{Queues: []record.QueueConfig{userQueue("q")}})
	next, err := s.QueueNextVisible(ctx, "q")
	require.NoError(t, err)
	require.True(t, next.IsZero(), "empty queue")
	st, err := s.QueueStats(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, record.QueueStats{Queue: "q"}, *st)

	send(t, s, msg("q", "in flight"), msg("q", "visible"))
	c.Advance(time.Second)
	send(t, s, store.MessageSendParams{Queue: "q", Body: []byte("delayed"), Delay: time.Minute})
	require.Len(t, receive(t, s, "q", 1), 1)
	st, err = s.QueueStats(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, record.QueueStats{Queue: "q", Visible: 1, InFlight: 1, Delayed: 1, OldestSent: t0}, *st)

	next, err = s.QueueNextVisible(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, t0, next, "a message is visible already")
	require.Len(t, receive(t, s, "q", 1), 1)
	next, err = s.QueueNextVisible(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, t0.Add(time.Second+30*time.Second), next, "the first in-flight message comes back first")

	peek, err := s.MessagePeek(ctx, "q", 2)
	require.NoError(t, err)
	require.Equal(t, []string{"in flight", "visible"}, bodies(peek), "peek lists by ID, whatever the state")
	require.Equal(t, 1, peek[0].ReceiveCount)
	require.Empty(t, peek[0].Receipt, "peeking hands out no receipt")
	st2, err := s.QueueStats(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, int64(2), st2.InFlight, "peeking receives nothing")

	_, err = s.QueueStats(ctx, "ghost")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.QueueNextVisible(ctx, "ghost")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.MessagePeek(ctx, "ghost", 1)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testTopicPublish(t *testing.T, s store.Store) {
	ctx := context.Background()
	fakeClock(t, s)
	deployEvents(t, s, "p", store.EventsApplyParams{
		Queues: []record.QueueConfig{userQueue("a"), userQueue("b"), userQueue("c")},
		Topics: []record.TopicConfig{{Name: "news", Queues: []string{"a", "b"}}, {Name: "nobody"}},
	})
	n, err := s.TopicPublish(ctx, "news", store.MessageSendParams{Body: []byte("hello"), Attributes: map[string]string{"type": "greeting"}})
	require.NoError(t, err)
	require.Equal(t, 2, n)
	for _, q := range []string{"a", "b"} {
		got := receive(t, s, q, 10)
		require.Equal(t, []string{"hello"}, bodies(got), q)
		require.Equal(t, "greeting", got[0].Attributes["type"])
		require.Equal(t, q, got[0].Queue)
	}
	require.Empty(t, receive(t, s, "c", 10))
	n, err = s.TopicPublish(ctx, "nobody", msg("", "lost"))
	require.NoError(t, err)
	require.Zero(t, n)
	_, err = s.TopicPublish(ctx, "ghost", msg("", "x"))
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testScheduleFire(t *testing.T, s store.Store) {
	ctx := context.Background()
	fakeClock(t, s)
	deployEvents(t, s, "p", store.EventsApplyParams{
		Queues:    []record.QueueConfig{userQueue("_async.p-fn")},
		Schedules: []record.Schedule{{Name: "p-fn", Function: "p-fn", Spec: "@every 1m", NextFire: t0}},
	})
	fire := func(expected, next time.Time) (bool, error) {
		return s.ScheduleFire(ctx, store.ScheduleFireParams{Name: "p-fn", Expected: expected, Next: next,
			Message: store.MessageSendParams{Queue: "_async.p-fn", Body: []byte(expected.Format(time.RFC3339))}})
	}
	fired, err := fire(t0, t0.Add(time.Minute))
	require.NoError(t, err)
	require.True(t, fired)
	fired, err = fire(t0, t0.Add(time.Minute))
	require.NoError(t, err)
	require.False(t, fired, "fired already")
	fired, err = fire(t0.Add(time.Minute), t0.Add(2*time.Minute))
	require.NoError(t, err)
	require.True(t, fired)
	got, err := s.MessagePeek(ctx, "_async.p-fn", 0)
	require.NoError(t, err)
	require.Len(t, got, 2, "one message per fire")
	sc, err := s.ScheduleList(ctx)
	require.NoError(t, err)
	require.True(t, sc[0].NextFire.Equal(t0.Add(2*time.Minute)))

	_, err = s.ScheduleFire(ctx, store.ScheduleFireParams{Name: "ghost", Expected: t0, Next: t0, Message: msg("_async.p-fn", "x")})
	require.ErrorIs(t, err, store.ErrNotFound)
	// A fire whose message cannot be sent does not move the schedule.
	_, err = s.ScheduleFire(ctx, store.ScheduleFireParams{Name: "p-fn", Expected: t0.Add(2 * time.Minute), Next: t0.Add(3 * time.Minute), Message: msg("ghost", "x")})
	require.ErrorIs(t, err, store.ErrNotFound)
	sc, err = s.ScheduleList(ctx)
	require.NoError(t, err)
	require.True(t, sc[0].NextFire.Equal(t0.Add(2*time.Minute)))
}

// ScheduleFireRace has goroutines race to fire one schedule through the
// given handles (one store, or several on the same database standing for
// several nodes): each fire happens exactly once, with exactly one message.
// The first store must be fresh; the others share its database.
func ScheduleFireRace(t *testing.T, stores []store.Store) {
	ctx := context.Background()
	s := stores[0]
	deployEvents(t, s, "p", store.EventsApplyParams{
		Queues:    []record.QueueConfig{userQueue("_async.p-fn")},
		Schedules: []record.Schedule{{Name: "p-fn", Function: "p-fn", Spec: "@every 1m", NextFire: t0}},
	})
	const rounds, racers = 5, 8
	for r := range rounds {
		expected := t0.Add(time.Duration(r) * time.Minute)
		var wg sync.WaitGroup
		results := make([]bool, racers)
		errs := make([]error, racers)
		start := make(chan struct{})
		for i := range racers {
			wg.Go(func() {
				<-start
				results[i], errs[i] = stores[i%len(stores)].ScheduleFire(ctx, store.ScheduleFireParams{
					Name: "p-fn", Expected: expected, Next: expected.Add(time.Minute),
					Message: store.MessageSendParams{Queue: "_async.p-fn", Body: []byte(fmt.Sprint("round ", r, " racer ", i))},
				})
			})
		}
		close(start)
		wg.Wait()
		winners := 0
		for i := range racers {
			require.NoError(t, errs[i])
			if results[i] {
				winners++
			}
		}
		require.Equal(t, 1, winners, "round %d", r)
	}
	got, err := s.MessagePeek(ctx, "_async.p-fn", 0)
	require.NoError(t, err)
	require.Len(t, got, rounds, "exactly one message per fire")
}

// ReceiveRace has receivers spread over the given handles (one store, or
// several on one database standing for several nodes) drain a standard
// queue, which must hand every message out exactly once, and a FIFO queue,
// which must also keep each group's order and never have two messages of a
// group in flight. The first store must be fresh; the others share its
// database.
func ReceiveRace(t *testing.T, stores []store.Store) {
	ctx := context.Background()
	for _, s := range stores {
		fakeClock(t, s) // time stands still: nothing is redelivered
	}
	fifo := userQueue("f")
	fifo.FIFO = true
	deployEvents(t, stores[0], "p", store.EventsApplyParams{Queues: []record.QueueConfig{userQueue("q"), fifo}})
	const total, groups = 240, 8
	var batch []store.MessageSendParams
	for i := range total {
		batch = append(batch, msg("q", strconv.Itoa(i)),
			store.MessageSendParams{Queue: "f", GroupID: strconv.Itoa(i % groups), Body: []byte(strconv.Itoa(i))})
	}
	send(t, stores[0], batch...)

	var mu sync.Mutex
	seen := map[int64]int{}
	order := map[string][]int{} // FIFO group -> bodies in the order received
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for r := range 8 {
		s := stores[r%len(stores)]
		wg.Go(func() {
			for {
				got, err := s.MessageReceive(ctx, store.MessageReceiveParams{Queue: "q", Max: 7})
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, m := range got {
					seen[m.ID]++
				}
				mu.Unlock()
			}
		})
		carry := r%2 == 1 // ack with the next receive instead of alone
		wg.Go(func() {
			var ackIDs []int64
			var ackReceipts []string
			for {
				got, err := s.MessageReceive(ctx, store.MessageReceiveParams{Queue: "f", Max: 3, AckIDs: ackIDs, AckReceipts: ackReceipts})
				if err != nil {
					errs <- err
					return
				}
				ackIDs, ackReceipts = nil, nil
				if len(got) == 0 {
					// Empty means every group is in flight elsewhere or done.
					mu.Lock()
					n := 0
					for _, o := range order {
						n += len(o)
					}
					mu.Unlock()
					if n == total {
						return
					}
					continue
				}
				mu.Lock()
				for _, m := range got {
					b, _ := strconv.Atoi(string(m.Body))
					order[m.GroupID] = append(order[m.GroupID], b)
				}
				mu.Unlock()
				ids, receipts := make([]int64, len(got)), make([]string, len(got))
				for i, m := range got {
					ids[i], receipts[i] = m.ID, m.Receipt
				}
				if carry {
					ackIDs, ackReceipts = ids, receipts
					continue
				}
				if n, err := s.MessageAck(ctx, "f", ids, receipts); err != nil || n != len(got) {
					errs <- fmt.Errorf("ack FIFO batch: %d of %d acked, err %v", n, len(got), err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, seen, total, "every message received")
	for id, n := range seen {
		require.Equal(t, 1, n, "message %d received %d times", id, n)
	}
	require.Len(t, order, groups)
	for g, bodies := range order {
		require.Len(t, bodies, total/groups, "group %s", g)
		for i := 1; i < len(bodies); i++ {
			require.Less(t, bodies[i-1], bodies[i], "group %s in send order", g)
		}
	}
}

func testQueueRedriveToSources(t *testing.T, s store.Store) {
	ctx := context.Background()
	fakeClock(t, s)
	a, b := userQueue("a"), userQueue("b")
	a.MaxReceives, b.MaxReceives = 1, 1
	a.DeadLetter, b.DeadLetter = "dlq", "dlq"
	deployEvents(t, s, "p", store.EventsApplyParams{Queues: []record.QueueConfig{a, b, userQueue("dlq")}})
	send(t, s, msg("a", "from a"), msg("b", "from b"))
	for _, q := range []string{"a", "b"} {
		got := receive(t, s, q, 10)
		require.Len(t, got, 1)
		require.NoError(t, s.MessageFail(ctx, q, []store.MessageFailParams{{ID: got[0].ID, Receipt: got[0].Receipt, Error: "x"}}))
	}
	// A message that does not say where it came from stays put.
	send(t, s, msg("dlq", "orphan"))
	n, err := s.QueueRedrive(ctx, "dlq", "", 0)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, []string{"from a"}, bodies(receive(t, s, "a", 10)))
	require.Equal(t, []string{"from b"}, bodies(receive(t, s, "b", 10)))
	left, err := s.MessagePeek(ctx, "dlq", 0)
	require.NoError(t, err)
	require.Equal(t, []string{"orphan"}, bodies(left))
}

func testMessageFailNotAttempted(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := fakeClock(t, s)
	deployEvents(t, s, "p", store.EventsApplyParams{Queues: deadLetterQueues(1)})
	send(t, s, msg("work", "job"))
	// Throttled three times: none of it counts as an attempt.
	for range 3 {
		got := receive(t, s, "work", 1)
		require.Len(t, got, 1)
		require.Equal(t, 1, got[0].ReceiveCount)
		require.NoError(t, s.MessageFail(ctx, "work", []store.MessageFailParams{{ID: got[0].ID, Receipt: got[0].Receipt, Delay: time.Second, NotAttempted: true}}))
		require.Empty(t, receive(t, s, "work", 1), "hidden for its delay")
		c.Advance(2 * time.Second)
	}
	dead, err := s.MessagePeek(ctx, "dlq", 0)
	require.NoError(t, err)
	require.Empty(t, dead, "a message never delivered must not reach the dead-letter queue")
	got := receive(t, s, "work", 1)
	require.Len(t, got, 1)
	require.Equal(t, 1, got[0].ReceiveCount)
}
