package objects

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/stratahq/strata/internal/store"
)

// ticket is one event's place in the commit order: done closes once the
// event's writes are durable (err nil) or lost (err set).
type ticket struct {
	done chan struct{}
	err  error
}

func (t *ticket) wait(ctx context.Context) error {
	select {
	case <-t.done:
		return t.err
	case <-ctx.Done():
		// The caller went away; the commit goes on and the object's next
		// event still waits for it.
		return ctx.Err()
	}
}

// pending is one event's write waiting for the committer.
type pending struct {
	l     *live
	epoch int64
	w     store.ObjectWrite
	t     *ticket
}

// committer group-commits object writes: while one transaction runs, the
// writes that arrive queue up and go together in the next one, so a
// stream of events costs one synced commit per batch rather than one per
// event. One committer goroutine keeps each object's writes in order.
type committer struct {
	st       store.Objects
	leaseTTL time.Duration
	maxBatch int

	mu     sync.Mutex
	queue  []*pending
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	closed bool

	// commits and writes count transactions and writes committed, for
	// the engine's stats (writes per commit is the grouping achieved).
	commits, writes uint64
}

func newCommitter(st store.Objects, leaseTTL time.Duration, maxBatch int) *committer {
	c := &committer{st: st, leaseTTL: leaseTTL, maxBatch: maxBatch,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c
}

// errClosed fails writes submitted after Close.
var errClosed = errors.New("objects engine closed")

func (c *committer) submit(l *live, epoch int64, w store.ObjectWrite) *ticket {
	t := &ticket{done: make(chan struct{})}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		t.err = errClosed
		close(t.done)
		return t
	}
	c.queue = append(c.queue, &pending{l: l, epoch: epoch, w: w, t: t})
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return t
}

func (c *committer) loop() {
	defer close(c.done)
	for {
		select {
		case <-c.wake:
		case <-c.stop:
			c.drain()
			return
		}
		c.drain()
	}
}

// drain commits everything queued, a batch at a time.
func (c *committer) drain() {
	for {
		c.mu.Lock()
		n := min(len(c.queue), c.maxBatch)
		batch := c.queue[:n:n]
		c.queue = c.queue[n:]
		if len(c.queue) == 0 {
			c.queue = nil
		}
		c.mu.Unlock()
		if n == 0 {
			return
		}
		c.commit(batch)
	}
}

func (c *committer) commit(batch []*pending) {
	writes := make([]store.ObjectWrite, 0, len(batch))
	live := make([]*pending, 0, len(batch))
	for _, p := range batch {
		// A write after a failed one of the same object (same epoch) is
		// doomed: it was made on top of state that never became durable.
		if p.l.failedEpoch.Load() == p.epoch {
			p.t.err = fmt.Errorf("an earlier write of object %s failed", p.l.key)
			close(p.t.done)
			continue
		}
		writes = append(writes, p.w)
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	errs, err := c.st.ObjectCommit(ctx, writes, c.leaseTTL)
	cancel()
	c.mu.Lock()
	c.commits++
	c.writes += uint64(len(writes))
	c.mu.Unlock()
	for i, p := range live {
		e := err
		if e == nil && i < len(errs) {
			e = errs[i]
		}
		if e != nil {
			p.l.failedEpoch.Store(p.epoch)
			p.t.err = e
			if errors.Is(e, store.ErrFenced) {
				p.l.e.closeMovedSockets(p.l.key)
			}
		} else {
			p.l.leaseRenewed(time.Now().Add(c.leaseTTL))
		}
		close(p.t.done)
	}
}

// close commits what is queued and stops.
func (c *committer) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.done
		return
	}
	c.closed = true
	c.mu.Unlock()
	close(c.stop)
	<-c.done
}

func (c *committer) stats() (commits, writes uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.commits, c.writes
}
