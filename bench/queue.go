package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratahq/strata/internal/events"
	"github.com/stratahq/strata/internal/store"
)

// Queue throughput modes.
const (
	// modeDrain: N messages are stored first, then the consumer starts;
	// measured from the start until the last is acknowledged.
	modeDrain = "drain"
	// modeSteady: the consumer runs while concurrent senders send N
	// messages one at a time; measured from the first send until the last
	// is acknowledged.
	modeSteady = "steady"
)

// Systems compared by the queue scenario.
const (
	systemStrata     = "strata"
	systemRiver      = "river"
	systemRiverTuned = "river-tuned"
)

// queueResult is one throughput run.
type queueResult struct {
	System   string  `json:"system"` // strata or river
	Store    string  `json:"store"`  // sqlite or postgres
	Mode     string  `json:"mode"`   // drain or steady
	Messages int     `json:"messages"`
	Senders  int     `json:"senders,omitempty"` // steady mode
	Seconds  float64 `json:"seconds"`
	// PerSecond is messages sent, delivered and acknowledged (jobs
	// completed, for River) per second, end to end.
	PerSecond float64 `json:"per_second"`
	// SendPerSecond is how fast the senders stored messages (steady mode).
	SendPerSecond float64 `json:"send_per_second,omitempty"`
	TargetPerSec  float64 `json:"target_per_second,omitempty"`
	Met           *bool   `json:"met,omitempty"`
	// CommitsPerMessage is the SQLite writer's commits during the run
	// divided by its messages; with synchronous=FULL in WAL mode each
	// commit is one sync of the WAL (checkpoints add their own).
	CommitsPerMessage float64 `json:"commits_per_message,omitempty"`
	// WritesPerCommit is how many writes (sends, receives, acks, usage
	// records, ...) shared each of those commits on average.
	WritesPerCommit float64 `json:"writes_per_commit,omitempty"`
	Note            string  `json:"note,omitempty"`
	Skipped         string  `json:"skipped,omitempty"`
	Error           string  `json:"error,omitempty"`
}

// Throughput targets of the queue scenario (Strata only).
const (
	targetQueueSQLite   = 5000.0
	targetQueuePostgres = 3000.0
)

// runQueue measures queue throughput end to end on each store, Strata and
// then River on the same PostgreSQL.
func (h *harness) runQueue(ctx context.Context, rep *report) {
	for _, kind := range []string{storeSQLite, storePostgres} {
		if ctx.Err() != nil {
			return
		}
		if kind == storePostgres && h.postgresURL() == "" {
			for _, sys := range []string{systemStrata, systemRiver, systemRiverTuned} {
				for _, mode := range []string{modeDrain, modeSteady} {
					rep.addQueue(queueResult{System: sys, Store: kind, Mode: mode, Skipped: h.postgresSkip})
				}
			}
			continue
		}
		for _, r := range h.strataQueue(ctx, kind) {
			rep.addQueue(r)
		}
		if kind == storePostgres {
			for _, rs := range riverSetups {
				if ctx.Err() != nil {
					return
				}
				for _, r := range h.riverQueue(ctx, rs) {
					rep.addQueue(r)
				}
			}
		}
	}
}

// strataQueue runs both modes on one store, drain first, on one stack.
func (h *harness) strataQueue(ctx context.Context, kind string) []queueResult {
	n := h.opts.QueueMessages
	target := targetQueueSQLite
	if kind == storePostgres {
		target = targetQueuePostgres
	}
	drain := queueResult{System: systemStrata, Store: kind, Mode: modeDrain, Messages: n, TargetPerSec: target,
		Note: fmt.Sprintf("engine defaults (4 workers per queue), batch_size %d, no-op Go guest", benchBatch)}
	steady := queueResult{System: systemStrata, Store: kind, Mode: modeSteady, Messages: n, Senders: h.opts.QueueSenders, TargetPerSec: target,
		Note: "events.Engine.Send, one message per call (as the API's send)"}
	fail := func(err error) []queueResult {
		drain.Error, steady.Error = err.Error(), err.Error()
		return []queueResult{drain, steady}
	}
	s, err := h.openEventStack(ctx, kind, stackOptions{})
	if err != nil {
		return fail(err)
	}
	defer s.close(context.WithoutCancel(ctx))
	if err := s.warm(ctx); err != nil {
		return fail(err)
	}

	h.log.Info("queue drain: loading", "system", systemStrata, "store", kind, "messages", n)
	if err := preload(ctx, s.st, n); err != nil {
		return fail(err)
	}
	commits := writerCommits(s.st)
	start := time.Now()
	if err := s.eng.Start(ctx); err != nil {
		return fail(fmt.Errorf("start the events engine: %w", err))
	}
	err = waitCount(ctx, &s.ack.acked, int64(n), runTimeout(n))
	took := time.Since(start)
	if err == nil {
		err = s.queueEmpty(ctx, benchQueue)
	}
	if err != nil {
		drain.Error = fmt.Sprintf("drain: %v", err)
	} else {
		drain.Seconds, drain.PerSecond = round(took.Seconds(), 3), round(float64(n)/took.Seconds(), 1)
		commits(&drain)
		h.log.Info("queue drain", "system", systemStrata, "store", kind, "per_second", int(drain.PerSecond))
	}
	if ctx.Err() != nil {
		steady.Error = context.Cause(ctx).Error()
		return []queueResult{drain, steady}
	}

	// Steady: the engine keeps running; senders go through Send, which
	// stores each message durably and wakes the consumer.
	s.ack.acked.Store(0)
	h.log.Info("queue steady", "system", systemStrata, "store", kind, "messages", n, "senders", h.opts.QueueSenders)
	body := []byte(`{"n":0}`)
	send := func(ctx context.Context, i int) error {
		_, err := s.eng.Send(ctx, benchQueue, events.SendParams{Body: body, ContentType: "application/json"})
		return err
	}
	commits = writerCommits(s.st)
	start = time.Now()
	sendTook, err := sendAll(ctx, n, h.opts.QueueSenders, send)
	if err == nil {
		err = waitCount(ctx, &s.ack.acked, int64(n), runTimeout(n))
	}
	took = time.Since(start)
	if err == nil {
		err = s.queueEmpty(ctx, benchQueue)
	}
	if err != nil {
		steady.Error = fmt.Sprintf("steady: %v", err)
	} else {
		steady.Seconds, steady.PerSecond = round(took.Seconds(), 3), round(float64(n)/took.Seconds(), 1)
		steady.SendPerSecond = round(float64(n)/sendTook.Seconds(), 1)
		commits(&steady)
		h.log.Info("queue steady", "system", systemStrata, "store", kind, "per_second", int(steady.PerSecond), "send_per_second", int(steady.SendPerSecond))
	}
	return []queueResult{drain, steady}
}

// writerStats is implemented by the SQLite store: its single writer's
// commits and the writes they carried.
type writerStats interface {
	WriterStats() (commits, writes int64)
}

// writerCommits starts counting the commits of st's writer (SQLite only)
// and returns what records them, per message, in a result: as fields and
// at the end of its note.
func writerCommits(st store.Store) func(r *queueResult) {
	ws, ok := st.(writerStats)
	if !ok {
		return func(*queueResult) {}
	}
	c0, w0 := ws.WriterStats()
	return func(r *queueResult) {
		c1, w1 := ws.WriterStats()
		if c1 == c0 || r.Messages == 0 {
			return
		}
		r.CommitsPerMessage = round(float64(c1-c0)/float64(r.Messages), 4)
		r.WritesPerCommit = round(float64(w1-w0)/float64(c1-c0), 2)
		r.Note += fmt.Sprintf("; %.3f commits (WAL syncs)/msg, %.1f writes/commit", r.CommitsPerMessage, r.WritesPerCommit)
	}
}

// preload stores n messages in benchQueue, in transactions of 500, with the
// attributes Send gives a message.
func preload(ctx context.Context, st store.Store, n int) error {
	const chunk = 500
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for i := 0; i < n; i += chunk {
		msgs := make([]store.MessageSendParams, 0, min(chunk, n-i))
		for j := i; j < min(i+chunk, n); j++ {
			msgs = append(msgs, store.MessageSendParams{
				Queue: benchQueue, Body: []byte(`{"n":` + strconv.Itoa(j) + `}`),
				Attributes: map[string]string{
					"id": "bench-" + strconv.Itoa(j), "type": "strata.message", "source": "/queues/" + benchQueue,
					"time": now, "datacontenttype": "application/json",
				},
			})
		}
		if _, err := st.MessageSend(ctx, msgs); err != nil {
			return fmt.Errorf("preload messages %d..%d: %w", i, i+len(msgs)-1, err)
		}
	}
	return nil
}

// sendAll calls send n times from senders goroutines and returns how long
// that took; the first error stops it.
func sendAll(ctx context.Context, n, senders int, send func(ctx context.Context, i int) error) (time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range senders {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := send(ctx, i); err != nil {
					cancel(fmt.Errorf("send %d: %w", i, err))
					return
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if ctx.Err() != nil {
		return took, context.Cause(ctx)
	}
	return took, nil
}
