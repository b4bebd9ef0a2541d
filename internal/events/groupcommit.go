package events

import (
	"context"
	"sync"

	"github.com/stratahq/strata/internal/batch"
	"github.com/stratahq/strata/internal/store"
)

// groupCommit stores concurrent sends in shared MessageSend calls (one
// statement, one durable commit for many sends), which is what bounds
// throughput on a store that syncs every commit. A lone send goes at once.
// Sends that arrive while sendsInFlight batches are being stored wait and
// go together in the next one. MessageSend is all or nothing, so when a
// batch fails (one message for a queue that no longer exists, say) each
// message is retried alone and only the bad ones fail (batch.AllOrEach).
//
// Two batches may be in flight at once, not one: senders block until their
// commit, so with one in flight a send arriving just after a batch left
// waits for that batch's commit and then its own; with two, it leaves at
// once and, on a store with a group-committing writer (SQLite), joins the
// next commit with whatever else is waiting for it (receives, acks); on
// PostgreSQL the two run on two connections. The caller whose send starts a
// batch stores only that batch and returns: the lead passes to the oldest
// waiting send, so no sender serves others for long.
type groupCommit struct {
	st Store

	mu       sync.Mutex
	pending  []*sendCall
	inFlight int
}

// sendsInFlight is how many batches of sends are stored at once.
const sendsInFlight = 2

// maxSendBatch bounds the messages of one MessageSend.
const maxSendBatch = 256

type sendCall struct {
	m     store.MessageSendParams
	res   store.MessageSendResult
	err   error
	group []*sendCall   // set, under mu, when the call is to store this batch
	done  chan struct{} // closed when the call is finished, or is to lead
}

func newGroupCommit(st Store) *groupCommit { return &groupCommit{st: st} }

// send stores m durably, possibly together with other concurrent sends,
// and returns once it is committed (or failed). Once queued it is not cut
// short by ctx: it may be written, and saying otherwise would make the
// caller send again.
func (g *groupCommit) send(ctx context.Context, m store.MessageSendParams) (store.MessageSendResult, error) {
	c := &sendCall{m: m, done: make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, c)
	leads := g.inFlight < sendsInFlight
	if leads {
		g.inFlight++
		c.group = g.takeLocked()
	}
	g.mu.Unlock()
	if !leads {
		<-c.done // c.group was set before, if c is to lead
	}
	if c.group != nil {
		g.store(ctx, c.group)
	}
	return c.res, c.err
}

// takeLocked removes the next batch, at most maxSendBatch, from pending.
func (g *groupCommit) takeLocked() []*sendCall {
	n := min(len(g.pending), maxSendBatch)
	group := g.pending[:n:n]
	g.pending = g.pending[n:]
	return group
}

// store stores group, whose first call leads it, in one batch and, if more
// sends are waiting, hands the next batch to the oldest of them.
func (g *groupCommit) store(ctx context.Context, group []*sendCall) {
	ms := make([]store.MessageSendParams, len(group))
	for i, c := range group {
		ms[i] = c.m
	}
	// The leader's own context must not fail the others.
	outs, errs := batch.AllOrEach(context.WithoutCancel(ctx), ms, g.st.MessageSend)
	for i, c := range group {
		if outs != nil {
			c.res = outs[i]
		}
		c.err = errs[i]
	}

	g.mu.Lock()
	var next *sendCall
	if len(g.pending) > 0 {
		next = g.pending[0]
		next.group = g.takeLocked()
	} else {
		g.inFlight--
	}
	g.mu.Unlock()
	// The leader is group[0] (the oldest call, which started it); the
	// others were taken from pending with it and wait.
	for _, c := range group[1:] {
		close(c.done)
	}
	if next != nil {
		close(next.done)
	}
}
