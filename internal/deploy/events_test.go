package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// shop is the project of the docs: a queue with a dead-letter queue, a
// topic, a scheduled function and a function with async, rate-limited
// routes.
func shop() Spec {
	s := spec("shop",
		fn("process-order", sha('1')),
		fn("welcome-email", sha('2')),
		fn("nightly-cleanup", sha('3')),
		fn("thumbnail", sha('4'), "POST /thumb", "POST /hooks/{id}"),
	)
	s.Queues = []QueueSpec{
		{Name: "orders", VisibilityTimeoutMS: 30000, MaxReceives: 5, DeadLetter: "orders-dlq"},
		{Name: "orders-dlq", VisibilityTimeoutMS: 30000, MaxReceives: 5},
		{Name: "audit", VisibilityTimeoutMS: 30000, MaxReceives: 5, FIFO: true},
	}
	s.Topics = []TopicSpec{{Name: "user-signed-up", Queues: []string{"audit"}}}
	for i := range s.Functions {
		s.Functions[i].Retries = DefaultRetries
	}
	s.Functions[0].Queue = &QueueTrigger{Name: "orders", BatchSize: 10}
	s.Functions[1].Topics = []string{"user-signed-up"}
	s.Functions[2].Schedule = &ScheduleSpec{Spec: "0 3 * * *", Timezone: "Europe/Berlin"}
	th := &s.Functions[3]
	th.Config.Provisioned, th.Config.MaxConcurrency, th.Retries, th.DeadLetter = 4, 50, 3, "orders-dlq"
	th.Routes[1].Async, th.Routes[1].RateLimit, th.Routes[1].RateBurst = true, 100, 200
	return s
}

func TestEvents(t *testing.T) {
	s := shop()
	require.NoError(t, s.Validate())
	ev := s.Events(testNow)

	byName := map[string]record.QueueConfig{}
	var names []string
	for _, q := range ev.Queues {
		byName[q.Name] = q
		names = append(names, q.Name)
		assert.Equal(t, "shop", q.Project)
	}
	assert.Equal(t, []string{
		"_async.nightly-cleanup", "_async.process-order", "_async.thumbnail", "_async.welcome-email",
		"_topic.user-signed-up.welcome-email", "audit", "orders", "orders-dlq",
	}, names)
	assert.Equal(t, record.QueueConfig{
		Name: "orders", Project: "shop", Kind: record.QueueUser, VisibilityTimeout: 30 * time.Second,
		MaxReceives: 5, DeadLetter: "orders-dlq", Consumer: "process-order", BatchSize: 10,
	}, byName["orders"])
	assert.Equal(t, record.QueueConfig{
		Name: "orders-dlq", Project: "shop", Kind: record.QueueUser, VisibilityTimeout: 30 * time.Second, MaxReceives: 5, BatchSize: 1,
	}, byName["orders-dlq"])
	assert.True(t, byName["audit"].FIFO)
	assert.Equal(t, record.QueueConfig{
		Name: "_async.thumbnail", Project: "shop", Kind: record.QueueAsync, VisibilityTimeout: 40 * time.Second,
		MaxReceives: 4, DeadLetter: "orders-dlq", Consumer: "thumbnail", BatchSize: 1, RetryBase: time.Second,
	}, byName[AsyncQueue("thumbnail")])
	assert.Equal(t, record.QueueConfig{
		Name: "_topic.user-signed-up.welcome-email", Project: "shop", Kind: record.QueueTopic, VisibilityTimeout: 40 * time.Second,
		MaxReceives: 3, Consumer: "welcome-email", BatchSize: 1, RetryBase: time.Second,
	}, byName[TopicQueue("user-signed-up", "welcome-email")])

	assert.Equal(t, []record.TopicConfig{{Name: "user-signed-up", Project: "shop", Queues: []string{"_topic.user-signed-up.welcome-email", "audit"}}}, ev.Topics)
	// testNow is 2026-03-28 12:00Z; the next 03:00 in Berlin is the morning
	// clocks go forward, 01:00Z.
	assert.Equal(t, []record.Schedule{{
		Name: "nightly-cleanup", Project: "shop", Function: "nightly-cleanup", Spec: "0 3 * * *", Timezone: "Europe/Berlin",
		NextFire: time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC),
	}}, ev.Schedules)
	assert.True(t, IsInternalQueue(AsyncQueue("x")))
	assert.False(t, IsInternalQueue("orders"))
}

func TestComputeEvents(t *testing.T) {
	s := shop()
	p, err := Compute(s, State{})
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, p.Write(&out))
	assert.Equal(t, `project shop:
+ function nightly-cleanup: module 333333333333, kind reactor, memory 128 MB, timeout 10s, max_concurrency 64
+ function process-order: module 111111111111, kind reactor, memory 128 MB, timeout 10s, max_concurrency 64
+ function thumbnail: module 444444444444, kind reactor, memory 128 MB, timeout 10s, max_concurrency 50
+ function welcome-email: module 222222222222, kind reactor, memory 128 MB, timeout 10s, max_concurrency 64
+ route POST /hooks/{id} → thumbnail (async, rate_limit 100/s, burst 200)
+ route POST /thumb → thumbnail
+ queue audit (visibility 30s, max_receives 5, fifo)
+ queue orders (visibility 30s, max_receives 5, dead_letter orders-dlq, consumer process-order, batch_size 10)
+ queue orders-dlq (visibility 30s, max_receives 5)
+ topic user-signed-up (→ function welcome-email, queue audit)
+ schedule nightly-cleanup: 0 3 * * * Europe/Berlin
functions: 4 to add, 0 to change, 0 to remove, 0 unchanged; routes: 2 to add, 0 to remove; queues: 3 to add, 0 to change, 0 to remove; topics: 1 to add, 0 to change, 0 to remove; schedules: 1 to add, 0 to change, 0 to remove
`, out.String())

	ap := p.ApplyParams(s, testNow)
	require.NotNil(t, ap.Events)
	assert.Equal(t, s.Events(testNow), *ap.Events)
	assert.Equal(t, record.Route{Project: "shop", Method: "POST", Path: "/hooks/{id}", Function: "thumbnail", Async: true, RateLimit: 100, RateBurst: 200}, ap.Routes[0])

	// Deploying the same thing again changes nothing.
	p, err = Compute(s, deployed(s))
	require.NoError(t, err)
	assert.True(t, p.Empty(), "%+v", p)
	// Even when the store normalised an unset batch size to 0.
	st := deployed(s)
	for i := range st.Queues {
		if st.Queues[i].Consumer == "" {
			st.Queues[i].BatchSize = 0
		}
	}
	p, err = Compute(s, st)
	require.NoError(t, err)
	assert.True(t, p.Empty())
}

func TestComputeEventChanges(t *testing.T) {
	before := shop()
	before.Topics = append(before.Topics, TopicSpec{Name: "old-topic"})
	before.Queues = append(before.Queues, QueueSpec{Name: "gone", VisibilityTimeoutMS: 1000, MaxReceives: 1})
	st := deployed(before)

	after := shop()
	after.Queues[0].VisibilityTimeoutMS = 60000                                            // orders
	after.Queues[2].FIFO = false                                                           // audit
	after.Topics[0].Queues = nil                                                           // user-signed-up loses audit
	after.Functions[2].Schedule = &ScheduleSpec{Spec: "0 4 * * *"}                         // nightly-cleanup
	after.Functions[1].Topics = nil                                                        // welcome-email unsubscribes
	after.Functions[1].Schedule = &ScheduleSpec{Spec: "rate(1 hour)"}                      // and runs hourly
	after.Functions[3].Retries, after.Functions[3].DeadLetter = 0, ""                      // thumbnail
	after.Functions[3].Routes[1].Async, after.Functions[3].Routes[1].RateLimit = false, 10 // hooks
	after.Functions[3].Routes[1].RateBurst = 10
	after.Functions[0].Queue.BatchSize = 1 // process-order

	p, err := Compute(after, st)
	require.NoError(t, err)
	assert.Empty(t, p.Add)
	assert.Empty(t, p.Change, "event settings make no new version")
	var out bytes.Buffer
	require.NoError(t, p.Write(&out))
	assert.Equal(t, `project shop:
~ route POST /hooks/{id} → thumbnail: async on→off, rate_limit 100/s→10/s, burst 200→10
~ events of function thumbnail: retries 3→0, dead_letter orders-dlq→none
~ queue audit: fifo on→off
~ queue orders: visibility 30s→1m0s, batch_size 10→1
- queue gone
~ topic user-signed-up: -function welcome-email, -queue audit
- topic old-topic
+ schedule welcome-email: rate(1 hour)
~ schedule nightly-cleanup: 0 4 * * *
functions: 0 to add, 0 to change, 0 to remove, 4 unchanged; routes: 0 to add, 1 to change, 0 to remove; queues: 0 to add, 2 to change, 1 to remove; topics: 0 to add, 1 to change, 1 to remove; schedules: 1 to add, 1 to change, 0 to remove
`, out.String())
	require.Len(t, p.QueuesRemove, 2) // gone and the topic queue of welcome-email
	assert.Equal(t, "_topic.user-signed-up.welcome-email", p.QueuesRemove[0].Name)

	// The plan travels as JSON to the CLI.
	js, err := json.Marshal(p)
	require.NoError(t, err)
	var back Plan
	require.NoError(t, json.Unmarshal(js, &back))
	assert.Equal(t, p.QueuesChange, back.QueuesChange)
}

func TestComputeEventsOfRemovedAndUpgradedFunctions(t *testing.T) {
	s := spec("shop", fn("api", sha('1')), fn("old", sha('2')))
	st := deployed(s)
	// A server upgraded from before events has functions but no queues.
	st.Queues = nil
	p, err := Compute(spec("shop", fn("api", sha('1'))), st)
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, p.Write(&out))
	assert.Equal(t, `project shop:
- function old
+ async queue of function api (visibility 40s, max_receives 1, consumer api, batch_size 1)
functions: 0 to add, 0 to change, 1 to remove, 1 unchanged; routes: 0 to add, 0 to remove
`, out.String())

	// Removing a function removes its async queue without a line of its own.
	p, err = Compute(spec("shop", fn("api", sha('1'))), deployed(s))
	require.NoError(t, err)
	require.Len(t, p.QueuesRemove, 1)
	out.Reset()
	require.NoError(t, p.Write(&out))
	assert.NotContains(t, out.String(), "queue")
}

func TestComputeEventConflicts(t *testing.T) {
	other := spec("blog", fn("poster", sha('9')))
	other.Queues = []QueueSpec{{Name: "orders", VisibilityTimeoutMS: 1000, MaxReceives: 1}}
	other.Topics = []TopicSpec{{Name: "user-signed-up"}}
	_, err := Compute(shop(), deployed(other))
	require.Error(t, err)
	assert.True(t, errors.Is(err, store.ErrConflict))
	assert.Contains(t, err.Error(), `queue "orders" belongs to project "blog"`)
	assert.Contains(t, err.Error(), `topic "user-signed-up" belongs to project "blog"`)
}

func TestSpecValidateEvents(t *testing.T) {
	require.NoError(t, shop().Validate())
	tests := []struct {
		name   string
		mutate func(*Spec)
		errs   []string
	}{
		{"reserved queue name", func(s *Spec) { s.Queues[0].Name = "_async.x" }, []string{`queues[0].name: is reserved: names starting with "_"`}},
		{"duplicate queue", func(s *Spec) { s.Queues[1].Name = "orders" }, []string{`queue "orders": appears twice`}},
		{"queue limits", func(s *Spec) { s.Queues[0].VisibilityTimeoutMS, s.Queues[0].MaxReceives = 0, 0 }, []string{
			`queue "orders": visibility_timeout_ms: must be a duration like "30s" or "5m" between 1s and 12h, got 0s`,
			`queue "orders": max_receives: must be an integer between 1 and 1000, got 0`,
		}},
		{"missing dead letter", func(s *Spec) { s.Queues[0].DeadLetter = "nope" }, []string{`queue "orders": dead_letter: unknown queue "nope"`}},
		{"own dead letter", func(s *Spec) { s.Queues[0].DeadLetter = "orders" }, []string{`queue "orders": dead_letter: a queue cannot be its own dead-letter queue`}},
		{"dead letter circle", func(s *Spec) { s.Queues[1].DeadLetter = "orders" }, []string{`dead letters would go round in a circle: orders → orders-dlq → orders`}},
		{"bad topic", func(s *Spec) { s.Topics[0].Name = "Topic"; s.Topics[0].Queues = []string{"nope", "nope"} }, []string{
			`topics[0].name: must be a lowercase letter`, `topic "Topic": queues: unknown queue "nope"`,
		}},
		{"topic queue twice", func(s *Spec) { s.Topics[0].Queues = []string{"audit", "audit"} }, []string{`topic "user-signed-up": queues: "audit" is listed twice`}},
		{"unknown trigger queue", func(s *Spec) { s.Functions[0].Queue.Name = "nope" }, []string{`function "process-order": queue: unknown queue "nope"`}},
		{"two consumers", func(s *Spec) { s.Functions[1].Queue = &QueueTrigger{Name: "orders", BatchSize: 1} }, []string{
			`function "welcome-email": queue: "orders" is already consumed by function "process-order"`,
		}},
		{"batch size", func(s *Spec) { s.Functions[0].Queue.BatchSize = 0 }, []string{`queue: batch_size: must be an integer between 1 and 100, got 0`}},
		{"unknown topic", func(s *Spec) { s.Functions[1].Topics = []string{"nope"} }, []string{`function "welcome-email": topics: unknown topic "nope"`}},
		{"bad schedule", func(s *Spec) { s.Functions[2].Schedule.Spec = "0 0 30 2 *" }, []string{`function "nightly-cleanup": schedule: schedule "0 0 30 2 *" never fires`}},
		{"bad zone", func(s *Spec) { s.Functions[2].Schedule.Timezone = "Mars/Base" }, []string{`schedule: unknown time zone "Mars/Base"`}},
		{"retries", func(s *Spec) { s.Functions[0].Retries = 11 }, []string{`retries: must be an integer between 0 and 10, got 11`}},
		{"function dead letter", func(s *Spec) { s.Functions[3].DeadLetter = "nope" }, []string{`function "thumbnail": dead_letter: unknown queue "nope"`}},
		{"dead letter is input", func(s *Spec) { s.Functions[0].DeadLetter = "orders" }, []string{`dead_letter: "orders" is the queue this function consumes`}},
		{"provisioned", func(s *Spec) { s.Functions[3].Config.Provisioned = 51 }, []string{`function "thumbnail": provisioned: must be an integer between 0 and max_concurrency (50), got 51`}},
		{"rate limit", func(s *Spec) { s.Functions[3].Routes[1].RateLimit = -1 }, []string{`route POST /hooks/{id}: rate_limit: must be a number`}},
		{"burst without rate", func(s *Spec) { s.Functions[3].Routes[0].RateBurst = 5 }, []string{`route POST /thumb: rate_limit: must be a number`}},
		{"rate without burst", func(s *Spec) { s.Functions[3].Routes[0].RateLimit = 5 }, []string{`route POST /thumb: rate_burst: must be an integer between 1 and 1000000, got 0`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := shop()
			tt.mutate(&s)
			err := s.Validate()
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrInvalidSpec))
			for _, want := range tt.errs {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestSpecJSON(t *testing.T) {
	// A spec of a client that knows nothing of events still decodes, and
	// one with events survives the trip.
	var old Spec
	require.NoError(t, json.Unmarshal([]byte(`{"project":"p","functions":[{"name":"f","module_sha256":"`+sha('1')+`","config":{"kind":"reactor","memory_mb":128,"timeout_ms":1000,"max_concurrency":1},"routes":[{"method":"GET","path":"/"}]}]}`), &old))
	require.NoError(t, old.Validate())
	assert.Zero(t, old.Functions[0].Retries)

	s := shop()
	js, err := json.Marshal(s)
	require.NoError(t, err)
	assert.Contains(t, string(js), `"queue":{"name":"orders","batch_size":10}`)
	assert.Contains(t, string(js), `"schedule":{"spec":"0 3 * * *","timezone":"Europe/Berlin"}`)
	assert.Contains(t, string(js), `{"method":"POST","path":"/hooks/{id}","async":true,"rate_limit":100,"rate_burst":200}`)
	var back Spec
	require.NoError(t, json.Unmarshal(js, &back))
	assert.Equal(t, s, back)
}
