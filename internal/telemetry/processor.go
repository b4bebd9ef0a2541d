package telemetry

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// processor is the one SpanProcessor of the provider. The sampler records
// the entry span of every trace; processor hands an ended span to the
// exporters when its trace was sampled, or when it ended in error, or when
// a span of its trace ended in error before it (errTraces): children end
// before their parents, so an error's recorded ancestors follow it out.
type processor struct {
	exporters []*batcher
	errs      errTraces
}

var _ sdktrace.SpanProcessor = (*processor)(nil)

func newProcessor(exporters []*batcher) *processor { return &processor{exporters: exporters} }

func (p *processor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (p *processor) OnEnd(s sdktrace.ReadOnlySpan) {
	if len(p.exporters) == 0 {
		return
	}
	if !s.SpanContext().IsSampled() {
		id := s.SpanContext().TraceID()
		if s.Status().Code == codes.Error {
			p.errs.add(id)
		} else if !p.errs.has(id) {
			return
		}
	}
	for _, b := range p.exporters {
		b.enqueue(s)
	}
}

func (p *processor) ForceFlush(ctx context.Context) error {
	var errs []error
	for _, b := range p.exporters {
		errs = append(errs, b.flush(ctx))
	}
	return errors.Join(errs...)
}

func (p *processor) Shutdown(ctx context.Context) error {
	var errs []error
	for _, b := range p.exporters {
		errs = append(errs, b.shutdown(ctx))
	}
	return errors.Join(errs...)
}

// errTraces remembers the unsampled traces that had an error span
// recently: two generations of at most errGeneration ids, the older
// forgotten when the newer fills or after errTTL, so it stays small
// whatever the error rate. A trace's ancestors end within its request, so
// a minute is plenty.
type errTraces struct {
	n        atomic.Int64 // ids held: the common no-error path reads only this
	mu       sync.Mutex
	cur, old map[trace.TraceID]struct{}
	since    time.Time
}

const (
	errGeneration = 4096
	errTTL        = time.Minute
)

func (e *errTraces) add(id trace.TraceID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	if e.cur == nil || len(e.cur) >= errGeneration || now.Sub(e.since) > errTTL {
		e.old, e.cur, e.since = e.cur, make(map[trace.TraceID]struct{}), now
	}
	e.cur[id] = struct{}{}
	e.n.Store(int64(len(e.cur) + len(e.old)))
}

func (e *errTraces) has(id trace.TraceID) bool {
	if e.n.Load() == 0 {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, a := e.cur[id]
	_, b := e.old[id]
	return a || b
}
