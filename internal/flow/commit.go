package flow

import (
	"context"
	"sync"
	"time"

	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/store"
)

// groupCommit writes concurrent runs' commits in shared transactions. The
// first caller to arrive while no commit is running leads: it commits
// everything queued, then whatever queued meanwhile, until nothing is
// left. A lone commit goes at once; under load one synced transaction
// carries many executions' steps.
type groupCommit struct {
	st      store.Flow
	clock   clock.Clock
	mu      sync.Mutex
	pending []*pendingCommit
	busy    bool
}

type pendingCommit struct {
	c    store.FlowCommit
	err  error
	done chan struct{}
}

const maxGroup = 256

func (g *groupCommit) commit(ctx context.Context, c store.FlowCommit) error {
	p := &pendingCommit{c: c, done: make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, p)
	if g.busy {
		g.mu.Unlock()
		// Once queued it may be written: waiting is not cut short.
		<-p.done
		return p.err
	}
	g.busy = true
	for {
		n := min(len(g.pending), maxGroup)
		batch := g.pending[:n:n]
		g.pending = g.pending[n:]
		g.mu.Unlock()

		commits := make([]store.FlowCommit, len(batch))
		for i, b := range batch {
			commits[i] = b.c
		}
		now := time.Now()
		if g.clock != nil {
			now = g.clock.Now()
		}
		errs := g.st.FlowCommitBatch(context.WithoutCancel(ctx), commits, now)
		for i, b := range batch {
			b.err = errs[i]
			close(b.done)
		}

		g.mu.Lock()
		if len(g.pending) == 0 {
			g.busy = false
			g.mu.Unlock()
			break
		}
	}
	<-p.done
	return p.err
}
