package batch

import (
	"context"
	"sync"
)

// Batcher runs concurrent calls in shared batches. The first caller to
// arrive while no batch is running leads: it runs everything queued, then
// whatever queued meanwhile, until nothing is left. A lone call runs at
// once (no added latency); under load one batch serves many callers. No
// goroutine is started: leaders are the callers themselves.
type Batcher[In, Out any] struct {
	// Run handles one batch and returns one output and one error per
	// input (outs may be nil when every input failed).
	Run func(ctx context.Context, ins []In) (outs []Out, errs []error)
	// Max bounds a batch (0: 256).
	Max int

	mu      sync.Mutex
	pending []*call[In, Out]
	busy    bool
}

type call[In, Out any] struct {
	in   In
	out  Out
	err  error
	done chan struct{}
}

// Do queues in, takes part in running batches until it is done, and
// returns its result.
func (b *Batcher[In, Out]) Do(ctx context.Context, in In) (Out, error) {
	c := &call[In, Out]{in: in, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, c)
	if b.busy {
		b.mu.Unlock()
		// The leader runs it. Waiting is not cut short by ctx: once
		// queued it may be written, and saying otherwise would make the
		// caller try again.
		<-c.done
		return c.out, c.err
	}
	b.busy = true
	limit := b.Max
	if limit <= 0 {
		limit = 256
	}
	for {
		n := min(len(b.pending), limit)
		group := b.pending[:n:n]
		b.pending = b.pending[n:]
		b.mu.Unlock()

		ins := make([]In, len(group))
		for i, g := range group {
			ins[i] = g.in
		}
		// The leader's own context must not fail the others.
		outs, errs := b.Run(context.WithoutCancel(ctx), ins)
		for i, g := range group {
			if outs != nil {
				g.out = outs[i]
			}
			g.err = errs[i]
			close(g.done)
		}

		b.mu.Lock()
		if len(b.pending) == 0 {
			b.busy = false
			b.mu.Unlock()
			break
		}
	}
	<-c.done
	return c.out, c.err
}

// AllOrEach runs all inputs in one call of fn; when that fails, it runs
// each alone, so one bad input fails by itself rather than with its batch.
func AllOrEach[In, Out any](ctx context.Context, ins []In, fn func(context.Context, []In) ([]Out, error)) ([]Out, []error) {
	errs := make([]error, len(ins))
	outs, err := fn(ctx, ins)
	if err == nil {
		return outs, errs
	}
	if len(ins) == 1 {
		errs[0] = err
		return nil, errs
	}
	outs = make([]Out, len(ins))
	for i, in := range ins {
		one, err := fn(ctx, []In{in})
		if err != nil {
			errs[i] = err
			continue
		}
		outs[i] = one[0]
	}
	return outs, errs
}
