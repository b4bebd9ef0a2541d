package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/trace"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Store is what the engine needs from the store.
type Store interface {
	QueueGet(ctx context.Context, name string) (*record.QueueConfig, error)
	QueueList(ctx context.Context) ([]record.QueueConfig, error)
	TopicGet(ctx context.Context, name string) (*record.TopicConfig, error)
	TopicList(ctx context.Context) ([]record.TopicConfig, error)
	MessageSend(ctx context.Context, msgs []store.MessageSendParams) ([]store.MessageSendResult, error)
	TopicPublish(ctx context.Context, topic string, msg store.MessageSendParams) (int, error)
	MessageReceive(ctx context.Context, p store.MessageReceiveParams) ([]record.Message, error)
	MessageAck(ctx context.Context, queue string, ids []int64, receipts []string) (int, error)
	MessageFail(ctx context.Context, queue string, fails []store.MessageFailParams) error
	QueueNextVisible(ctx context.Context, queue string) (time.Time, error)
	ScheduleList(ctx context.Context) ([]record.Schedule, error)
	ScheduleFire(ctx context.Context, p store.ScheduleFireParams) (bool, error)
}

// Invoker runs one invocation.
type Invoker interface {
	Invoke(ctx context.Context, r invoke.Request) (*invoke.Result, error)
}

// Config configures the engine.
type Config struct {
	Store   Store
	Invoker Invoker
	Clock   clock.Clock
	Logger  *slog.Logger
	// Published, when set, is told of every local wake-up of a queue's
	// consumer (a send on this node), to tell the other nodes (Wake).
	Published func(queue string)
	// Node, when set, is this node's id: the receipts of the messages it
	// receives start with it, so the messages of a node that dies
	// holding them are released when it is declared gone
	// (store.Nodes.NodeRelease) rather than after their visibility
	// timeout.
	Node string
	// PollInterval bounds how long an idle consumer sleeps before looking
	// again (messages sent through other nodes do not wake it unless they
	// tell it: Wake). Default 250ms.
	PollInterval time.Duration
	// ReconcileInterval is how often the set of consumers is matched to the
	// queues in the store. Default 2s; Reconcile also runs after deploys.
	ReconcileInterval time.Duration
	// Workers is how many deliveries of one queue run at once. Default 4.
	Workers int
	// Tracer records a consumer span per delivery (each retry its own,
	// with its attempt number), a child of the span that sent the message
	// (its CloudEvents traceparent), and a span per schedule fire; nil
	// records none.
	Tracer *trace.Tracer
	// OnScheduleFire, when set, hears of every schedule fire this node
	// made, with how late it was (now minus the due time): the metrics.
	OnScheduleFire func(project, schedule string, lag time.Duration)
}

// Engine feeds queues to their consumer functions and fires schedules.
type Engine struct {
	cfg Config

	mu        sync.Mutex
	consumers map[string]*consumer // queue name → running consumer
	wakes     map[string]chan struct{}

	sends *groupCommit // shares commits between concurrent sends

	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
}

type consumer struct {
	q      record.QueueConfig
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns an engine; Start runs it.
func New(cfg Config) *Engine {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 250 * time.Millisecond
	}
	if cfg.ReconcileInterval <= 0 {
		cfg.ReconcileInterval = 2 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	return &Engine{cfg: cfg, consumers: map[string]*consumer{}, wakes: map[string]chan struct{}{}, sends: newGroupCommit(cfg.Store)}
}

// Start starts the consumers of every queue with a consumer function and
// the scheduler. It returns at once; Stop ends everything.
func (e *Engine) Start(ctx context.Context) error {
	e.ctx, e.cancel = context.WithCancelCause(context.Background())
	if err := e.Reconcile(ctx); err != nil {
		return err
	}
	e.wg.Add(2)
	go func() {
		defer e.wg.Done()
		t := time.NewTicker(e.cfg.ReconcileInterval)
		defer t.Stop()
		for {
			select {
			case <-e.ctx.Done():
				return
			case <-t.C:
				if err := e.Reconcile(e.ctx); err != nil && e.ctx.Err() == nil {
					e.cfg.Logger.Warn("reconcile event consumers", "err", err)
				}
			}
		}
	}()
	go func() {
		defer e.wg.Done()
		e.runScheduler(e.ctx)
	}()
	return nil
}

// Stop stops consumers and the scheduler and waits for deliveries in
// progress to end (their messages are acked or failed, or left to come back
// after their visibility timeout if ctx ends first).
func (e *Engine) Stop(ctx context.Context) error {
	if e.cancel == nil {
		return nil
	}
	e.cancel(errors.New("events engine stopping"))
	done := make(chan struct{})
	go func() {
		e.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Reconcile starts a consumer for every queue that has a consumer function
// and stops those whose queue went away or changed.
func (e *Engine) Reconcile(ctx context.Context) error {
	qs, err := e.cfg.Store.QueueList(ctx)
	if err != nil {
		return fmt.Errorf("list queues: %w", err)
	}
	want := map[string]record.QueueConfig{}
	for _, q := range qs {
		if q.Consumer != "" {
			want[q.Name] = q
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ctx == nil || e.ctx.Err() != nil {
		return nil
	}
	for name, c := range e.consumers {
		q, ok := want[name]
		if ok && sameConsumer(q, c.q) {
			continue
		}
		c.cancel()
		delete(e.consumers, name)
	}
	for name, q := range want {
		if _, ok := e.consumers[name]; ok {
			continue
		}
		cctx, cancel := context.WithCancel(e.ctx)
		c := &consumer{q: q, cancel: cancel, done: make(chan struct{})}
		e.consumers[name] = c
		wake := e.wakeLocked(name)
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			defer close(c.done)
			e.consume(cctx, q, wake)
		}()
	}
	return nil
}

func sameConsumer(a, b record.QueueConfig) bool {
	return a.Consumer == b.Consumer && a.BatchSize == b.BatchSize && a.VisibilityTimeout == b.VisibilityTimeout &&
		a.MaxReceives == b.MaxReceives && a.RetryBase == b.RetryBase && a.Kind == b.Kind && a.FIFO == b.FIFO
}

func (e *Engine) wakeLocked(queue string) chan struct{} {
	w, ok := e.wakes[queue]
	if !ok {
		w = make(chan struct{}, 1)
		e.wakes[queue] = w
	}
	return w
}

// Notify wakes the consumer of queue (after a send on this node), so a
// message is picked up at once instead of at the next poll, and tells the
// other nodes (Config.Published).
func (e *Engine) Notify(queue string) {
	e.Wake(queue)
	if f := e.cfg.Published; f != nil {
		f(queue)
	}
}

// Wake wakes this node's consumer of queue: another node sent to it.
func (e *Engine) Wake(queue string) {
	e.mu.Lock()
	w := e.wakeLocked(queue)
	e.mu.Unlock()
	select {
	case w <- struct{}{}:
	default:
	}
}

// maxPrefetch bounds how many batches per worker may be claimed ahead when
// a backlog waits (see consume).
const maxPrefetch = 8

// consume feeds one queue to its consumer function: one claimer (this
// goroutine) receives messages and queues them, a batch at a time, for
// Workers delivery goroutines, which hand back what they delivered. The
// claimer acknowledges those messages with its next receive, in the same
// write as the claim: one commit (one round trip on PostgreSQL) acks what
// every worker finished meanwhile and claims their next batches.
//
// The claimer keeps up to target batches claimed ahead of the workers
// (queued or being delivered) and claims again once half of them are done,
// so the workers do not wait for a claim while a backlog lasts. target is
// one batch per worker, doubling up to maxPrefetch per worker while claims
// come back full and delivering that much takes a small part of the
// visibility timeout; a batch whose turn comes too late is given back
// unspent instead of being delivered near the end of its claim. Unless the
// last claim came back full, the claimer first looks on the store's read
// side whether anything is visible: claims are writes, and most would find
// nothing when the queue keeps up with its senders. Acks wait for the next
// claim at most ackHold; when no claim is due they go alone.
func (e *Engine) consume(ctx context.Context, q record.QueueConfig, wake chan struct{}) {
	batch := max(q.BatchSize, 1)
	vis := q.VisibilityTimeout
	if vis <= 0 {
		vis = record.DefaultVisibilityTimeout
	}
	ackHold := min(vis/10, 50*time.Millisecond)
	workers := e.cfg.Workers
	work := make(chan claimedBatch, workers*maxPrefetch)
	done := make(chan delivered, workers*maxPrefetch)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for b := range work {
				var d delivered
				if ctx.Err() != nil || time.Since(b.received) > vis/4 {
					// Stopping, or the claim is running out.
					e.giveBack(ctx, q.Name, b.msgs)
					d.late = true
				} else {
					start := time.Now()
					e.deliver(ctx, q, b.msgs, &d.acks)
					d.took = time.Since(start)
				}
				done <- d
			}
		})
	}

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	outstanding := 0 // batches queued or being delivered
	var acks acks    // delivered, not acknowledged yet
	var acksSince time.Time
	var perBatch time.Duration
	prefetch := 1
	backlog := false // the last claim came back full
	finished := func(d delivered) {
		outstanding--
		if len(d.acks.ids) > 0 && len(acks.ids) == 0 {
			acksSince = time.Now()
		}
		acks.add(d.acks)
		if d.late {
			prefetch = 1
		} else {
			perBatch = d.took
		}
	}
	for ctx.Err() == nil {
		target := workers * prefetch
		wait := e.cfg.PollInterval
		if outstanding <= target/2 {
			visible := true
			if !backlog {
				if d, nothing := e.nothingVisible(ctx, q.Name); nothing {
					visible, wait = false, d
				}
			}
			if visible {
				max := (target - outstanding) * batch
				msgs, err := e.cfg.Store.MessageReceive(ctx, store.MessageReceiveParams{Queue: q.Name, Max: max, Owner: e.cfg.Node,
					AckIDs: acks.ids, AckReceipts: acks.receipts})
				if err != nil {
					// Neither the acks nor the claim happened (or both
					// did, if the error came after the commit: acking
					// again is harmless).
					e.ack(ctx, q.Name, &acks)
					if ctx.Err() == nil {
						e.cfg.Logger.Warn("receive messages", "queue", q.Name, "err", err)
					}
					backlog = false
				} else {
					acks.reset()
					backlog = len(msgs) == max
					if backlog {
						prefetch = min(prefetch*2, maxPrefetch, prefetchFor(vis, perBatch))
					} else {
						prefetch = 1
					}
					got, received := len(msgs), time.Now()
					for len(msgs) > 0 {
						n := min(batch, len(msgs))
						work <- claimedBatch{msgs: msgs[:n:n], received: received}
						outstanding++
						msgs = msgs[n:]
					}
					if backlog {
						continue
					}
					if got == 0 && outstanding == 0 {
						wait = e.untilNext(ctx, q.Name)
					}
				}
			} else {
				// Nothing to claim: the acks held go alone.
				e.ack(ctx, q.Name, &acks)
			}
		}
		if len(acks.ids) > 0 {
			// Acks wait for the next claim at most ackHold.
			left := ackHold - time.Since(acksSince)
			if left <= 0 {
				e.ack(ctx, q.Name, &acks)
			} else {
				wait = min(wait, left)
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
		case <-wake:
		case d := <-done:
			finished(d)
		case <-timer.C:
			continue
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}

	// Stopping: the workers give back what they have not started; let
	// deliveries in progress end and acknowledge what was delivered.
	close(work)
	for ; outstanding > 0; outstanding-- {
		acks.add((<-done).acks)
	}
	wg.Wait()
	e.ack(ctx, q.Name, &acks)
}

// claimedBatch is one batch of claimed messages, queued for the workers.
type claimedBatch struct {
	msgs     []record.Message
	received time.Time
}

// delivered is what a delivery worker hands back to the claimer.
type delivered struct {
	acks acks
	took time.Duration
	late bool // given back unspent
}

// prefetchFor is how many batches may be claimed at once when one batch
// takes perBatch to deliver: together at most a tenth of the visibility
// timeout.
func prefetchFor(vis, perBatch time.Duration) int {
	if perBatch <= 0 {
		return 1
	}
	return int(max(min(vis/10/perBatch, maxPrefetch), 1))
}

// acks are the messages a worker delivered and has not acknowledged yet.
type acks struct {
	ids      []int64
	receipts []string
}

func (a *acks) addMessage(m record.Message) {
	a.ids, a.receipts = append(a.ids, m.ID), append(a.receipts, m.Receipt)
}

func (a *acks) add(b acks) {
	a.ids, a.receipts = append(a.ids, b.ids...), append(a.receipts, b.receipts...)
}

func (a *acks) reset() {
	a.ids, a.receipts = a.ids[:0], a.receipts[:0]
}

// settleContext outlives a stop in progress: the work is done, and not
// recording it would only deliver it again.
func settleContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}

// ack acknowledges a's messages on their own (when no receive follows to
// carry them) and empties a.
func (e *Engine) ack(ctx context.Context, queue string, a *acks) {
	if len(a.ids) == 0 {
		return
	}
	sctx, cancel := settleContext(ctx)
	defer cancel()
	if _, err := e.cfg.Store.MessageAck(sctx, queue, a.ids, a.receipts); err != nil {
		e.cfg.Logger.Warn("ack messages", "queue", queue, "count", len(a.ids), "err", err)
	}
	a.reset()
}

// giveBack returns claimed messages that were never delivered: visible
// again at once, their receive not counted.
func (e *Engine) giveBack(ctx context.Context, queue string, msgs []record.Message) {
	fails := make([]store.MessageFailParams, len(msgs))
	for i, m := range msgs {
		fails[i] = store.MessageFailParams{ID: m.ID, Receipt: m.Receipt, Error: "not delivered: given back unspent", NotAttempted: true}
	}
	sctx, cancel := settleContext(ctx)
	defer cancel()
	if err := e.cfg.Store.MessageFail(sctx, queue, fails); err != nil {
		e.cfg.Logger.Warn("give back messages", "queue", queue, "count", len(msgs), "err", err)
	}
}

// nothingVisible reports whether queue has no message to claim now and, if
// so, how long the consumer may sleep (as untilNext). It answers false when
// it cannot tell.
func (e *Engine) nothingVisible(ctx context.Context, queue string) (time.Duration, bool) {
	next, err := e.cfg.Store.QueueNextVisible(ctx, queue)
	if err != nil {
		return 0, false
	}
	if next.IsZero() {
		return e.cfg.PollInterval, true
	}
	d := next.Sub(e.cfg.Clock.Now())
	if d <= 0 {
		return 0, false
	}
	return min(max(d, time.Millisecond), e.cfg.PollInterval), true
}

// untilNext is how long an idle consumer may sleep: until the next delayed
// message becomes visible, at most PollInterval.
func (e *Engine) untilNext(ctx context.Context, queue string) time.Duration {
	next, err := e.cfg.Store.QueueNextVisible(ctx, queue)
	if err != nil || next.IsZero() {
		return e.cfg.PollInterval
	}
	d := next.Sub(e.cfg.Clock.Now())
	return min(max(d, time.Millisecond), e.cfg.PollInterval)
}

// deliver invokes the consumer with msgs and settles each message: failed
// ones at once, the others added to acks for the worker's next receive to
// acknowledge.
func (e *Engine) deliver(ctx context.Context, q record.QueueConfig, msgs []record.Message, acks *acks) {
	trigger := "queue"
	switch q.Kind {
	case record.QueueAsync:
		trigger = "async"
	case record.QueueTopic:
		trigger = "topic"
	}
	if len(msgs) == 1 && q.Kind == record.QueueAsync && msgs[0].Attributes["type"] == TypeSchedule {
		trigger = "schedule"
	}

	var failed map[string]string // event id → error; nil map with errAll means all failed
	var errAll error
	var notAttempted bool
	var span oteltrace.Span
	if e.cfg.Tracer != nil {
		ctx, span = e.deliverySpan(ctx, q, msgs, trigger)
		defer func() {
			switch {
			case errAll != nil:
				trace.FailErr(span, errAll)
			case len(failed) > 0:
				trace.Fail(span, strconv.Itoa(len(failed))+" of the batch's messages failed")
			}
			span.End()
		}()
	}
	// A consumer that takes Lambda event shapes gets the delivery from
	// shaper instead (the version that runs decides); an SQS batch's
	// answer then names its failed items whatever the batch size.
	shaper := &deliveryShaper{q: q, msgs: msgs}
	var req *wire.Request
	var traceParent string
	var err error
	if q.BatchSize > 1 {
		req, err = batchRequest(q.Name, msgs)
	} else {
		req, err = singleRequest(msgs[0])
		traceParent = msgs[0].Attributes["traceparent"]
	}
	if err != nil {
		errAll = err
	} else {
		res, err := e.cfg.Invoker.Invoke(ctx, invoke.Request{Function: q.Consumer, Trigger: trigger, TraceParent: traceParent, Wire: req, Shaper: shaper})
		switch {
		case err != nil:
			errAll, notAttempted = err, invoke.IsThrottled(err)
		case res.Response.Status >= 400:
			errAll = answerError(res.Response)
		case q.BatchSize > 1 || res.Shaped && shaper.sqs:
			for id := range batchFailures(res.Response.Body) {
				if failed == nil {
					failed = map[string]string{}
				}
				failed[id] = "reported as failed by the function"
			}
		}
	}

	var fails []store.MessageFailParams
	for _, m := range msgs {
		msgErr := ""
		switch {
		case errAll != nil:
			msgErr = errAll.Error()
		case failed != nil && failed[eventID(m)] != "":
			msgErr = failed[eventID(m)]
		}
		if msgErr == "" {
			acks.addMessage(m)
			continue
		}
		f := store.MessageFailParams{ID: m.ID, Receipt: m.Receipt, Error: msgErr, Delay: e.retryDelay(q, m.ReceiveCount)}
		if notAttempted {
			// Nothing ran: wait a little for a free instance, without
			// spending one of the message's attempts.
			f.NotAttempted, f.Delay = true, time.Duration(50+rand.IntN(200))*time.Millisecond
		}
		fails = append(fails, f)
	}
	if len(fails) > 0 {
		sctx, cancel := settleContext(ctx)
		defer cancel()
		if err := e.cfg.Store.MessageFail(sctx, q.Name, fails); err != nil {
			e.cfg.Logger.Warn("fail messages", "queue", q.Name, "count", len(fails), "err", err)
		}
		if !notAttempted {
			for _, f := range fails {
				last := q.MaxReceives > 0 && msgCount(msgs, f.ID) >= q.MaxReceives
				if last {
					dest := q.DeadLetter
					if dest == "" {
						dest = "nowhere (no dead_letter configured): dropped"
					}
					e.cfg.Logger.Warn("message failed its last attempt", "queue", q.Name, "id", f.ID, "to", dest, "err", f.Error)
				}
			}
		}
	}
}

// SpanDeliver names the span of one delivery of a message (or a batch)
// to its consumer.
const SpanDeliver = "queue deliver"

// deliverySpan starts the consumer span of a delivery. A single message's
// span continues the trace of the span that sent it (the message's
// traceparent) and carries its attempt number, so each retry is its own
// span in the sender's trace; a batch's span starts a trace of its own,
// linked to each message's.
func (e *Engine) deliverySpan(ctx context.Context, q record.QueueConfig, msgs []record.Message, trigger string) (context.Context, oteltrace.Span) {
	attrs := []attribute.KeyValue{
		trace.KeyProject.String(q.Project), trace.KeyFunction.String(q.Consumer),
		trace.KeyQueue.String(q.Name), trace.KeyTrigger.String(trigger),
	}
	opts := []oteltrace.SpanStartOption{oteltrace.WithSpanKind(oteltrace.SpanKindConsumer)}
	if len(msgs) == 1 {
		m := msgs[0]
		ctx = trace.WithParentHeader(ctx, m.Attributes["traceparent"])
		attrs = append(attrs, trace.KeyEventID.String(eventID(m)), trace.KeyAttempt.Int(m.ReceiveCount))
	} else {
		attrs = append(attrs, trace.KeyBatchSize.Int(len(msgs)))
		for _, m := range msgs {
			if sc, ok := trace.SpanContextOf(m.Attributes["traceparent"]); ok {
				opts = append(opts, oteltrace.WithLinks(oteltrace.Link{SpanContext: sc}))
			}
		}
	}
	opts = append(opts, oteltrace.WithAttributes(attrs...))
	return e.cfg.Tracer.Start(ctx, SpanDeliver, opts...)
}

// answerError describes a failed delivery from the function's answer: its
// status and the start of its body, which is where handlers put the reason
// (it ends up in the dead-letter queue's error attribute).
func answerError(r *wire.Response) error {
	body := strings.TrimSpace(string(r.Body))
	if len(body) > 300 {
		body = body[:300] + "…"
	}
	if body == "" {
		return fmt.Errorf("function answered %d", r.Status)
	}
	return fmt.Errorf("function answered %d: %s", r.Status, body)
}

func msgCount(ms []record.Message, id int64) int {
	for _, m := range ms {
		if m.ID == id {
			return m.ReceiveCount
		}
	}
	return 0
}

// retryDelay is when a failed message is tried again: after the visibility
// timeout for user queues (as SQS), with exponential backoff and jitter for
// async and topic queues (as Lambda's async retries).
func (e *Engine) retryDelay(q record.QueueConfig, receiveCount int) time.Duration {
	if q.RetryBase <= 0 {
		return q.VisibilityTimeout
	}
	d := q.RetryBase << min(max(receiveCount-1, 0), 16)
	d = min(d, 5*time.Minute)
	// Full jitter between half and the whole delay spreads retries of a
	// burst of failures apart.
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}
