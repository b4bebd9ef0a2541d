package flow

import (
	"context"
	"sync"
)

// batcher runs concurrent calls in shared batches. The first caller to
// arrive while no batch is running leads: it runs everything queued, then
// whatever queued meanwhile, until nothing is left. A lone call runs at
// once; under load one synced transaction serves many executions, which is
// what bounds throughput on a store that syncs every commit. No goroutine
// is started: leaders are the callers themselves.
type batcher[In, Out any] struct {
	run     func(ctx context.Context, in []In) ([]Out, []error)
	mu      sync.Mutex
	pending []*pending[In, Out]
	busy    bool
}

type pending[In, Out any] struct {
	in   In
	out  Out
	err  error
	done chan struct{}
}

const maxBatch = 256

func (b *batcher[In, Out]) do(ctx context.Context, in In) (Out, error) {
	p := &pending[In, Out]{in: in, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, p)
	if b.busy {
		b.mu.Unlock()
		// Once queued it may be written: waiting is not cut short.
		<-p.done
		return p.out, p.err
	}
	b.busy = true
	for {
		n := min(len(b.pending), maxBatch)
		batch := b.pending[:n:n]
		b.pending = b.pending[n:]
		b.mu.Unlock()

		ins := make([]In, len(batch))
		for i, q := range batch {
			ins[i] = q.in
		}
		// The leader's own context must not fail the others.
		outs, errs := b.run(context.WithoutCancel(ctx), ins)
		for i, q := range batch {
			if outs != nil {
				q.out = outs[i]
			}
			q.err = errs[i]
			close(q.done)
		}

		b.mu.Lock()
		if len(b.pending) == 0 {
			b.busy = false
			b.mu.Unlock()
			break
		}
	}
	<-p.done
	return p.out, p.err
}
