package events

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/pool"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
	"github.com/stratahq/strata/sdk/go/wire"
)

// recorder is an Invoker that records deliveries and answers with what
// answer says. It stands in for functions so the engine's own rules
// (ack, retry, DLQ, batches) are tested alone; the end-to-end tests run
// real guests.
type recorder struct {
	mu     sync.Mutex
	got    []invoke.Request
	answer func(r invoke.Request) (int, string, error)
	seen   chan struct{}
	shaped bool // results are Shaped, as for a version with events: lambda
}

func (r *recorder) Invoke(ctx context.Context, req invoke.Request) (*invoke.Result, error) {
	r.mu.Lock()
	r.got = append(r.got, req)
	r.mu.Unlock()
	defer func() {
		select {
		case r.seen <- struct{}{}:
		default:
		}
	}()
	status, body, err := 200, "", error(nil)
	if r.answer != nil {
		status, body, err = r.answer(req)
	}
	if err != nil {
		return &invoke.Result{}, err
	}
	return &invoke.Result{Response: &wire.Response{Status: status, Body: []byte(body)}, Shaped: r.shaped}, nil
}

func (r *recorder) calls() []invoke.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]invoke.Request(nil), r.got...)
}

func header(req *wire.Request, name string) string {
	for _, h := range req.Headers {
		if strings.EqualFold(h.Name, name) && len(h.Values) > 0 {
			return h.Values[0]
		}
	}
	return ""
}

type env struct {
	st  store.Store
	rec *recorder
	eng *Engine
}

// setup opens a real SQLite store with the given queues deployed (their
// consumer function "fn" exists) and starts an engine on it.
func setup(t *testing.T, qs []record.QueueConfig, topics []record.TopicConfig, answer func(invoke.Request) (int, string, error)) *env {
	t.Helper()
	return setupRecorder(t, qs, topics, &recorder{answer: answer, seen: make(chan struct{}, 1)})
}

// setupRecorder is setup with the recorder given.
func setupRecorder(t *testing.T, qs []record.QueueConfig, topics []record.TopicConfig, rec *recorder) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.BlobPut(ctx, blobSHA(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	_, err = st.DeploymentApply(ctx, store.DeploymentApplyParams{
		Project:     "p",
		NewVersions: []store.NewVersionParams{{Function: "fn", ModuleSHA256: blobSHA(), Config: record.FunctionConfig{Kind: "reactor", MemoryMB: 64, TimeoutMS: 1000, MaxConcurrency: 4}}},
		Routes:      []record.Route{},
		Events:      &store.EventsApplyParams{Queues: qs, Topics: topics},
	})
	if err != nil {
		t.Fatal(err)
	}
	eng := New(Config{Store: st, Invoker: rec, PollInterval: 20 * time.Millisecond, Workers: 2})
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Stop(context.Background()) })
	return &env{st, rec, eng}
}

func blobSHA() string {
	return "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881" // sha256("x")
}

func userQueue(name string, mut func(*record.QueueConfig)) record.QueueConfig {
	q := record.QueueConfig{Name: name, Project: "p", Kind: record.QueueUser, VisibilityTimeout: 50 * time.Millisecond, MaxReceives: 3, Consumer: "fn", BatchSize: 1}
	if mut != nil {
		mut(&q)
	}
	return q
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func stats(t *testing.T, st store.Store, q string) record.QueueStats {
	t.Helper()
	s, err := st.QueueStats(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return *s
}

func TestDeliversCloudEventAndAcks(t *testing.T) {
	e := setup(t, []record.QueueConfig{userQueue("orders", nil)}, nil, nil)
	res, err := e.eng.Send(context.Background(), "orders", SendParams{Body: []byte(`{"id":1}`), ContentType: "application/json", Type: "order.created"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delivery", func() bool { return len(e.rec.calls()) == 1 })
	req := e.rec.calls()[0]
	if req.Function != "fn" || req.Trigger != "queue" || string(req.Wire.Body) != `{"id":1}` {
		t.Fatalf("delivery %+v", req)
	}
	for h, want := range map[string]string{"Ce-Id": res.ID, "Ce-Type": "order.created", "Ce-Specversion": "1.0", "Ce-Source": "/queues/orders", "Content-Type": "application/json", "X-Strata-Receive-Count": "1"} {
		if got := header(req.Wire, h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	waitFor(t, "the ack", func() bool { s := stats(t, e.st, "orders"); return s.Visible+s.InFlight+s.Delayed == 0 })
}

func TestFailuresRetryThenDeadLetter(t *testing.T) {
	qs := []record.QueueConfig{
		userQueue("orders", func(q *record.QueueConfig) { q.DeadLetter = "orders-dlq" }),
		{Name: "orders-dlq", Project: "p", Kind: record.QueueUser, VisibilityTimeout: time.Second},
	}
	e := setup(t, qs, nil, func(invoke.Request) (int, string, error) { return 500, "", nil })
	if _, err := e.eng.Send(context.Background(), "orders", SendParams{Body: []byte("poison")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the message in the DLQ", func() bool { return stats(t, e.st, "orders-dlq").Visible == 1 })
	if n := len(e.rec.calls()); n != 3 {
		t.Fatalf("%d deliveries, want exactly max_receives = 3 (a failing consumer must not spin)", n)
	}
	ms, err := e.st.MessagePeek(context.Background(), "orders-dlq", 10)
	if err != nil || len(ms) != 1 {
		t.Fatal(ms, err)
	}
	m := ms[0]
	if string(m.Body) != "poison" || m.Attributes["attempts"] != "3" || !strings.Contains(m.Attributes["error"], "500") || m.Attributes["source_queue"] != "orders" {
		t.Fatalf("dead letter %+v", m)
	}
}

func TestBatchPartialFailure(t *testing.T) {
	// A visibility of 1 s, not 50 ms: under -race on a loaded machine a
	// delivery can outlast 50 ms, and its message would come back before
	// the ack and count as a second delivery.
	q := userQueue("orders", func(q *record.QueueConfig) { q.BatchSize = 10; q.MaxReceives = 2; q.VisibilityTimeout = time.Second })
	var mu sync.Mutex
	failedOnce := map[string]bool{}
	e := setup(t, []record.QueueConfig{q}, nil, func(r invoke.Request) (int, string, error) {
		if header(r.Wire, "Content-Type") != BatchContentType {
			return 400, "", nil
		}
		// Fail event "3" the first time only.
		mu.Lock()
		defer mu.Unlock()
		if strings.Contains(string(r.Wire.Body), `"data":3`) && !failedOnce["3"] {
			failedOnce["3"] = true
			id := eventIDIn(string(r.Wire.Body), `"data":3`)
			return 200, fmt.Sprintf(`{"batchItemFailures":[{"itemIdentifier":%q}]}`, id), nil
		}
		return 200, "", nil
	})
	var msgs []store.MessageSendParams
	for i := 1; i <= 5; i++ {
		msgs = append(msgs, store.MessageSendParams{Queue: "orders", Body: []byte(fmt.Sprint(i)), Attributes: map[string]string{"id": fmt.Sprintf("ev-%d", i), "datacontenttype": "application/json"}})
	}
	if _, err := e.st.MessageSend(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	e.eng.Notify("orders")
	waitFor(t, "all acked", func() bool { s := stats(t, e.st, "orders"); return s.Visible+s.InFlight+s.Delayed == 0 })
	// Event 3 was delivered twice, every other one once.
	count := map[string]int{}
	for _, c := range e.rec.calls() {
		for i := 1; i <= 5; i++ {
			if strings.Contains(string(c.Wire.Body), fmt.Sprintf(`"id":"ev-%d"`, i)) {
				count[fmt.Sprint(i)]++
			}
		}
	}
	if count["3"] != 2 || count["1"] != 1 || count["5"] != 1 {
		t.Fatalf("deliveries per event: %v", count)
	}
}

// eventIDIn finds the id of the batch event whose JSON contains marker.
func eventIDIn(body, marker string) string {
	for _, part := range strings.Split(body, "},{") {
		if strings.Contains(part, marker) {
			i := strings.Index(part, `"id":"`)
			rest := part[i+6:]
			return rest[:strings.Index(rest, `"`)]
		}
	}
	return ""
}

func TestAtCapacityDoesNotSpendAttempts(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	// A visibility of 1 s: a delivery outlasting 50 ms under load would
	// otherwise be received again and spend the single attempt.
	e := setup(t, []record.QueueConfig{userQueue("orders", func(q *record.QueueConfig) { q.MaxReceives = 1; q.VisibilityTimeout = time.Second })}, nil,
		func(invoke.Request) (int, string, error) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if calls <= 3 {
				return 0, "", fmt.Errorf("fn: %w", pool.ErrAtCapacity)
			}
			return 200, "", nil
		})
	if _, err := e.eng.Send(context.Background(), "orders", SendParams{Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	// With max_receives 1, a throttle that counted as an attempt would drop
	// the message; instead it is delivered once the function has room.
	waitFor(t, "the ack", func() bool {
		mu.Lock()
		defer mu.Unlock()
		s := stats(t, e.st, "orders")
		return calls == 4 && s.Visible+s.InFlight+s.Delayed == 0
	})
}

func TestInvokeAsyncDeliversTheRequest(t *testing.T) {
	q := record.QueueConfig{Name: AsyncQueue("fn"), Project: "p", Kind: record.QueueAsync, VisibilityTimeout: time.Second, MaxReceives: 3, Consumer: "fn", BatchSize: 1, RetryBase: 10 * time.Millisecond}
	e := setup(t, []record.QueueConfig{q}, nil, nil)
	req := &wire.Request{Method: "PUT", Path: "/things/7", RawQuery: "a=b", Body: []byte("payload"), Params: []wire.Param{{Name: "id", Value: "7"}}}
	res, err := e.eng.InvokeAsync(context.Background(), "fn", req, "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the async delivery", func() bool { return len(e.rec.calls()) == 1 })
	got := e.rec.calls()[0]
	if got.Trigger != "async" || got.Wire.Method != "PUT" || got.Wire.Path != "/things/7" || got.Wire.RawQuery != "a=b" || string(got.Wire.Body) != "payload" || len(got.Wire.Params) != 1 {
		t.Fatalf("delivered %+v", got.Wire)
	}
	if header(got.Wire, "X-Strata-Event-Id") != res.ID {
		t.Fatalf("event id header %q, want %q", header(got.Wire, "X-Strata-Event-Id"), res.ID)
	}
	if _, err := e.eng.InvokeAsync(context.Background(), "fn", &wire.Request{Body: make([]byte, MaxEventBytes+1)}, ""); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized async invoke: %v", err)
	}
}

func TestTopicFanOutIsolatesSubscribers(t *testing.T) {
	qa := record.QueueConfig{Name: "_topic.t.fn", Project: "p", Kind: record.QueueTopic, VisibilityTimeout: time.Second, MaxReceives: 2, Consumer: "fn", BatchSize: 1, RetryBase: 10 * time.Millisecond}
	audit := record.QueueConfig{Name: "audit", Project: "p", Kind: record.QueueUser, VisibilityTimeout: time.Second}
	e := setup(t, []record.QueueConfig{qa, audit}, []record.TopicConfig{{Name: "t", Project: "p", Queues: []string{"_topic.t.fn", "audit"}}},
		func(invoke.Request) (int, string, error) { return 500, "", nil }) // the function subscriber always fails
	_, n, err := e.eng.Publish(context.Background(), "t", SendParams{Body: []byte("hi")})
	if err != nil || n != 2 {
		t.Fatalf("publish: %d %v", n, err)
	}
	waitFor(t, "the failing subscriber to give up", func() bool { return len(e.rec.calls()) == 2 })
	// The queue subscriber still has its copy, untouched by the failures.
	if s := stats(t, e.st, "audit"); s.Visible != 1 {
		t.Fatalf("audit queue: %+v", s)
	}
}

func TestScheduleFiresOnceAcrossEngines(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.BlobPut(ctx, blobSHA(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 25, 2, 59, 0, 0, time.UTC)
	q := record.QueueConfig{Name: AsyncQueue("fn"), Project: "p", Kind: record.QueueAsync, VisibilityTimeout: time.Second, MaxReceives: 3}
	_, err = st.DeploymentApply(ctx, store.DeploymentApplyParams{
		Project:     "p",
		NewVersions: []store.NewVersionParams{{Function: "fn", ModuleSHA256: blobSHA(), Config: record.FunctionConfig{Kind: "reactor", MemoryMB: 64, TimeoutMS: 1000, MaxConcurrency: 4}}},
		Routes:      []record.Route{},
		Events: &store.EventsApplyParams{Queues: []record.QueueConfig{q}, Schedules: []record.Schedule{
			{Name: "fn", Project: "p", Function: "fn", Spec: "0 3 * * *", NextFire: time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	fc := clock.NewFake(start)
	// Every fire is reported once, by the engine that made it, with its
	// lag (the metrics' schedule lag).
	var lagMu sync.Mutex
	var lags []string
	onFire := func(project, schedule string, lag time.Duration) {
		lagMu.Lock()
		defer lagMu.Unlock()
		lags = append(lags, project+"/"+schedule+" "+lag.String())
	}
	// Several engines (nodes, or a restarted node) race for the same fire.
	var engines []*Engine
	for i := 0; i < 4; i++ {
		engines = append(engines, New(Config{Store: st, Invoker: &recorder{seen: make(chan struct{}, 1)}, Clock: fc, OnScheduleFire: onFire}))
	}
	fire := func() {
		var wg sync.WaitGroup
		for _, e := range engines {
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = e.FireDue(ctx) }()
		}
		wg.Wait()
	}
	fire() // 02:59: not due
	if s := stats(t, st, q.Name); s.Visible != 0 {
		t.Fatalf("fired early: %+v", s)
	}
	fc.Advance(90 * time.Second) // 03:00:30
	fire()
	fire()
	if s := stats(t, st, q.Name); s.Visible != 1 {
		t.Fatalf("after the 03:00 fire: %+v, want exactly one message", s)
	}
	ss, _ := st.ScheduleList(ctx)
	if want := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC); !ss[0].NextFire.Equal(want) {
		t.Fatalf("next fire %v, want %v", ss[0].NextFire, want)
	}
	// Three days without any node: one catch-up fire, not three.
	fc.Advance(3 * 24 * time.Hour)
	fire()
	if s := stats(t, st, q.Name); s.Visible != 2 {
		t.Fatalf("after an outage: %+v, want one more message", s)
	}
	ms, _ := st.MessagePeek(ctx, q.Name, 10)
	if !strings.Contains(string(ms[1].Body), `"skipped":2`) || ms[1].Attributes["type"] != TypeSchedule {
		t.Fatalf("catch-up fire %s %+v", ms[1].Body, ms[1].Attributes)
	}
	lagMu.Lock()
	defer lagMu.Unlock()
	if want := []string{"p/fn 30s", "p/fn 48h0m30s"}; !slices.Equal(lags, want) {
		t.Fatalf("fires reported %q, want %q (the catch-up fire is late from the first missed due time)", lags, want)
	}
}

// A stopping engine delivers nothing more: the batches it claimed ahead and
// had not started go back unspent (visible at once, their receive not
// counted, so max_receives 1 does not drop them), the deliveries in
// progress are acknowledged, and another engine then delivers the rest,
// each message once.
func TestStopGivesBackClaimedAhead(t *testing.T) {
	q := userQueue("orders", func(q *record.QueueConfig) {
		q.BatchSize, q.MaxReceives, q.VisibilityTimeout = 10, 1, 10*time.Second
	})
	started := make(chan struct{}, 16)
	release := make(chan struct{})
	e := setup(t, []record.QueueConfig{q}, nil, func(invoke.Request) (int, string, error) {
		started <- struct{}{}
		<-release
		return 200, "", nil
	})
	const total = 300
	var msgs []store.MessageSendParams
	for i := range total {
		msgs = append(msgs, store.MessageSendParams{Queue: "orders", Body: []byte(fmt.Sprint(i)), Attributes: map[string]string{"id": fmt.Sprintf("ev-%d", i)}})
	}
	if _, err := e.st.MessageSend(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	e.eng.Notify("orders")
	<-started // a delivery is in progress (more are claimed behind it)
	stopped := make(chan error, 1)
	go func() { stopped <- e.eng.Stop(context.Background()) }()
	// Deliveries may have started before the stop: let them all end.
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	first := map[string]int{}
	for _, c := range e.rec.calls() {
		for i := range total {
			if strings.Contains(string(c.Wire.Body), fmt.Sprintf(`"id":"ev-%d"`, i)) {
				first[fmt.Sprint(i)]++
			}
		}
	}
	s := stats(t, e.st, "orders")
	if s.InFlight != 0 || s.Delayed != 0 || s.Visible != int64(total-len(first)) {
		t.Fatalf("after stop: %+v with %d delivered, want the other %d visible", s, len(first), total-len(first))
	}

	rec := &recorder{seen: make(chan struct{}, 1)}
	eng := New(Config{Store: e.st, Invoker: rec, PollInterval: 20 * time.Millisecond, Workers: 2})
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Stop(context.Background()) })
	waitFor(t, "the rest delivered", func() bool { s := stats(t, e.st, "orders"); return s.Visible+s.InFlight+s.Delayed == 0 })
	for _, c := range rec.calls() {
		for i := range total {
			if strings.Contains(string(c.Wire.Body), fmt.Sprintf(`"id":"ev-%d"`, i)) {
				first[fmt.Sprint(i)]++
			}
		}
	}
	if len(first) != total {
		t.Fatalf("%d of %d messages delivered", len(first), total)
	}
	for id, n := range first {
		if n != 1 {
			t.Fatalf("message %s delivered %d times", id, n)
		}
	}
}
