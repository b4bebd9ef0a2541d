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

	usage chan record.Usage
	lines chan record.LogLine
	tap   func(record.LogLine)
	syncs chan chan struct{}

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
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
		usage:      make(chan record.Usage, queueSize),
		lines:      make(chan record.LogLine, queueSize),
		tap:        tap,
		syncs:      make(chan chan struct{}, 1024),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	go m.run()
	return m
}

// RecordUsage queues one usage record.
func (m *Meter) RecordUsage(u record.Usage) { m.usage <- u }

// RecordLog queues one log line.
func (m *Meter) RecordLog(l record.LogLine) {
	if m.tap != nil {
		m.tap(l)
	}
	m.lines <- l
}

// SyncLogs returns once every log line recorded before the call has been
// written to the store (or the write failed and was logged), or when ctx
// is done. After Stop it returns at once: Stop has written everything.
func (m *Meter) SyncLogs(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case m.syncs <- done:
	case <-m.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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
	m.stopOnce.Do(func() { close(m.stop) })
	<-m.done
}

func (m *Meter) run() {
	defer close(m.done)
	tick := time.NewTicker(m.flushEvery)
	defer tick.Stop()
	var us []record.Usage
	var ls []record.LogLine
	flush := func() {
		// A write gets its own deadline: a store that hangs must not stall
		// the meter forever, and a failed batch is logged, not retried
		// endlessly, so one poison record cannot block all others.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if len(ls) > 0 {
			if err := m.st.LogInsert(ctx, ls); err != nil {
				m.log.Error("write invocation logs", "lines", len(ls), "err", err)
			}
			ls = ls[:0]
		}
		if len(us) > 0 {
			if err := m.st.UsageInsert(ctx, us); err != nil {
				m.log.Error("write usage records", "records", len(us), "err", err)
			}
			us = us[:0]
		}
	}
	for {
		select {
		case u := <-m.usage:
			us = append(us, u)
			if len(us) >= m.maxBatch {
				flush()
			}
		case l := <-m.lines:
			ls = append(ls, l)
			if len(ls) >= m.maxBatch {
				flush()
			}
		case <-tick.C:
			flush()
		case w := <-m.syncs:
			// Everyone waiting now shares this write. A waiter's lines were
			// queued before its request, so they are among the lines queued
			// by the time the waiters are collected: take exactly those
			// (taking "until empty" could run forever under load).
			waiters := []chan struct{}{w}
			for more := true; more; {
				select {
				case w := <-m.syncs:
					waiters = append(waiters, w)
				default:
					more = false
				}
			}
			for n := len(m.lines); n > 0; n-- {
				ls = append(ls, <-m.lines)
			}
			flush()
			for _, w := range waiters {
				close(w)
			}
		case <-m.stop:
			for {
				select {
				case u := <-m.usage:
					us = append(us, u)
				case l := <-m.lines:
					ls = append(ls, l)
				default:
					flush()
					return
				}
			}
		}
	}
}
