package events

import (
	"context"
	"sync"

	"github.com/stratahq/strata/internal/store"
)

// groupCommit stores concurrent sends in shared transactions. The first
// sender to arrive while no commit is running becomes the leader: it commits
// everything queued, then whatever queued up meanwhile, until nothing is
// left. A lone send commits at once (no added latency); under load, one
// durable commit serves many sends, which is what bounds throughput on a
// store that syncs every commit. No goroutine is started: leaders are the
// callers themselves.
type groupCommit struct {
	mu       sync.Mutex
	pending  []*pendingSend
	flushing bool
}

type pendingSend struct {
	msg  store.MessageSendParams
	res  store.MessageSendResult
	err  error
	done chan struct{}
}

// maxGroup bounds one shared transaction.
const maxGroup = 256

// send stores m durably, possibly together with other concurrent sends,
// and returns once it is committed (or failed).
func (g *groupCommit) send(ctx context.Context, st Store, m store.MessageSendParams) (store.MessageSendResult, error) {
	p := &pendingSend{msg: m, done: make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, p)
	if g.flushing {
		g.mu.Unlock()
		// The leader commits it. Waiting is not cut short by ctx: once
		// queued, the message may be committed, and saying otherwise
		// would make the caller resend it.
		<-p.done
		return p.res, p.err
	}
	g.flushing = true
	for {
		n := min(len(g.pending), maxGroup)
		batch := g.pending[:n:n]
		g.pending = g.pending[n:]
		g.mu.Unlock()

		// The leader's own context must not fail others' sends.
		commit(context.WithoutCancel(ctx), st, batch)

		g.mu.Lock()
		if len(g.pending) == 0 {
			g.flushing = false
			g.mu.Unlock()
			break
		}
	}
	<-p.done
	return p.res, p.err
}

// commit stores a batch in one transaction. MessageSend is all or nothing,
// so when the batch fails (one message for a queue that no longer exists,
// say) each message is retried alone and only the bad ones fail.
func commit(ctx context.Context, st Store, batch []*pendingSend) {
	msgs := make([]store.MessageSendParams, len(batch))
	for i, p := range batch {
		msgs[i] = p.msg
	}
	res, err := st.MessageSend(ctx, msgs)
	if err == nil {
		for i, p := range batch {
			p.res = res[i]
			close(p.done)
		}
		return
	}
	if len(batch) == 1 {
		batch[0].err = err
		close(batch[0].done)
		return
	}
	for _, p := range batch {
		r, err := st.MessageSend(ctx, []store.MessageSendParams{p.msg})
		if err == nil {
			p.res = r[0]
		}
		p.err = err
		close(p.done)
	}
}
