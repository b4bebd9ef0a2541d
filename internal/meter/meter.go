package meter

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/stratahq/strata/internal/record"
)

// Store is the part of the store the meter writes to.
type Store interface {
	UsageInsert(ctx context.Context, records []record.Usage) error
	LogInsert(ctx context.Context, lines []record.LogLine) error
}

// Meter batches usage records and log lines and writes them to the store in
// the background, so an invocation never waits on a database write. Batches
// are flushed every FlushEvery or when MaxBatch records are pending,
// whichever comes first. Stop flushes what is pending.
//
// Recording appends to a pending slice under a mutex and wakes the writer
// only when a batch is full: an invocation neither allocates nor hands
// each record to another goroutine (a channel send per record woke the
// writer once per invocation under load).
//
// The queue is bounded: when the store falls behind by more than queueSize
// items, Record blocks (back-pressure) rather than dropping usage, because
// usage is what users are billed on.
//
// SyncLogs lets a reader of logs wait until every line recorded so far is
// in the store (so `curl; strata logs` shows the last line). Waiters that
// arrive together share one write (group commit).
type Meter struct {
	st         Store
	log        *slog.Logger
	flushEvery time.Duration
	maxBatch   int
	tap        func(record.LogLine)

	mu      sync.Mutex
	room    *sync.Cond // signalled when the writer takes the pending records
	usage   []record.Usage
	lines   []record.LogLine
	syncs   []chan struct{} // SyncLogs waiters for the lines pending now
	stopped bool

	kick chan struct{} // wakes the writer: a batch is full, a sync waits, or Stop
	done chan struct{}
}

const queueSize = 1 << 16

// New starts a meter writing to st. tap, if not nil, sees every log line
// as it is recorded (strata dev prints them to the terminal).
func New(st Store, logger *slog.Logger, tap func(record.LogLine)) *Meter {
	m := &Meter{
		st:         st,
		log:        logger,
		flushEvery: 100 * time.Millisecond,
		maxBatch:   512,
		tap:        tap,
		kick:       make(chan struct{}, 1),
		done:       make(chan struct{}),
	}
	m.room = sync.NewCond(&m.mu)
	go m.run()
	return m
}

func (m *Meter) wake() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// RecordUsage queues one usage record.
func (m *Meter) RecordUsage(u record.Usage) {
	enqueue(m, &m.usage, u)
}

// RecordLog queues one log line.
func (m *Meter) RecordLog(l record.LogLine) {
	if m.tap != nil {
		m.tap(l)
	}
	enqueue(m, &m.lines, l)
}

// enqueue appends v to q (m.usage or m.lines) under m.mu, waiting while q
// is full, and wakes the writer when q holds a whole batch. After Stop
// nothing writes any more; as before, a record that arrives then is not
// kept.
func enqueue[T any](m *Meter, q *[]T, v T) {
	m.mu.Lock()
	for len(*q) >= queueSize && !m.stopped {
		m.room.Wait()
	}
	if m.stopped {
		m.mu.Unlock()
		return
	}
	*q = append(*q, v)
	full := len(*q) == m.maxBatch
	m.mu.Unlock()
	if full {
		m.wake()
	}
}

// SyncLogs returns once every log line recorded before the call has been
// written to the store (or the write failed and was logged), or when ctx
// is done. After Stop it returns at once: Stop has written everything.
func (m *Meter) SyncLogs(ctx context.Context) error {
	done := make(chan struct{})
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		<-m.done
		return nil
	}
	m.syncs = append(m.syncs, done)
	m.mu.Unlock()
	m.wake()
	select {
	case <-done:
		return nil
	case <-m.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop flushes everything queued and stops the background writer. It is
// idempotent and safe to call concurrently.
func (m *Meter) Stop() {
	m.mu.Lock()
	m.stopped = true
	m.room.Broadcast()
	m.mu.Unlock()
	m.wake()
	<-m.done
}

func (m *Meter) run() {
	defer close(m.done)
	tick := time.NewTicker(m.flushEvery)
	defer tick.Stop()
	// The writer swaps the pending slices with its own, so recording goes
	// on while it writes and neither side allocates once both have grown.
	var us []record.Usage
	var ls []record.LogLine
	for {
		select {
		case <-tick.C:
		case <-m.kick:
		}
		m.mu.Lock()
		us, m.usage = m.usage, us[:0]
		ls, m.lines = m.lines, ls[:0]
		syncs := m.syncs
		m.syncs = nil
		stopped := m.stopped
		m.room.Broadcast()
		m.mu.Unlock()

		m.flush(ls, us)
		for _, w := range syncs {
			close(w)
		}
		if stopped {
			return
		}
		clear(us) // drop references to the records' strings
		clear(ls)
	}
}

// flush writes lines, then usage, in batches of at most maxBatch. A
// write gets its own deadline: a store that hangs must not stall the meter
// forever, and a failed batch is logged, not retried endlessly, so one
// poison record cannot block all others.
func (m *Meter) flush(ls []record.LogLine, us []record.Usage) {
	for len(ls) > 0 {
		n := min(len(ls), m.maxBatch)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := m.st.LogInsert(ctx, ls[:n]); err != nil {
			m.log.Error("write invocation logs", "lines", n, "err", err)
		}
		cancel()
		ls = ls[n:]
	}
	for len(us) > 0 {
		n := min(len(us), m.maxBatch)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := m.st.UsageInsert(ctx, us[:n]); err != nil {
			m.log.Error("write usage records", "records", n, "err", err)
		}
		cancel()
		us = us[n:]
	}
}
