package telemetry

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// metrics are the pipeline's counters, labelled by exporter.
type metrics struct {
	exported, dropped *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) metrics {
	m := metrics{
		exported: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strata_spans_exported_total",
			Help: "Finished spans an exporter delivered (store: the built-in trace store; otlp: the collector)."}, []string{"exporter"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strata_spans_dropped_total",
			Help: "Finished spans an exporter lost: its buffer was full or the export failed."}, []string{"exporter"}),
	}
	if reg != nil {
		m.exported = register(reg, m.exported)
		m.dropped = register(reg, m.dropped)
	}
	return m
}

// register registers c, or returns the one already registered under its
// name (a second pipeline on the same registry, as in tests, adds to it).
func register(reg prometheus.Registerer, c *prometheus.CounterVec) *prometheus.CounterVec {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return old
			}
		}
	}
	return c
}

// exportFunc delivers one batch; an error means the batch is lost.
type exportFunc func(ctx context.Context, spans []sdktrace.ReadOnlySpan) error

// batcher moves ended spans to one exporter off the ending goroutine: a
// bounded channel that enqueue never waits on (full: the span is dropped
// and counted), and one goroutine that exports a batch when it has
// batchSize spans or every interval. The SDK's BatchSpanProcessor does
// the same but neither counts what it drops nor hands over the unsampled
// error spans processor keeps.
type batcher struct {
	name      string
	ch        chan sdktrace.ReadOnlySpan
	batchSize int
	interval  time.Duration
	export    exportFunc
	closer    func(context.Context) error // nil, or what shutdown closes after the last export
	exported  prometheus.Counter
	dropped   prometheus.Counter
	log       *slog.Logger

	flushes  chan chan struct{}
	stopping chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// exportTimeout bounds one batch's export, so a hung store or collector
// costs dropped spans, not a stuck pipeline.
const exportTimeout = 30 * time.Second

func newBatcher(name string, buffer, batchSize int, interval time.Duration, export exportFunc,
	closer func(context.Context) error, m metrics, log *slog.Logger) *batcher {
	b := &batcher{name: name, ch: make(chan sdktrace.ReadOnlySpan, buffer), batchSize: batchSize, interval: interval,
		export: export, closer: closer, exported: m.exported.WithLabelValues(name), dropped: m.dropped.WithLabelValues(name),
		log: log.With("exporter", name), flushes: make(chan chan struct{}), stopping: make(chan struct{}), done: make(chan struct{})}
	go b.run()
	return b
}

// enqueue never blocks: the request path ends spans through it.
func (b *batcher) enqueue(s sdktrace.ReadOnlySpan) {
	select {
	case b.ch <- s:
	default:
		b.dropped.Inc()
	}
}

func (b *batcher) run() {
	defer close(b.done)
	batch := make([]sdktrace.ReadOnlySpan, 0, b.batchSize)
	send := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), exportTimeout)
		err := b.export(ctx, batch)
		cancel()
		if err != nil {
			b.dropped.Add(float64(len(batch)))
			b.log.Warn("export spans", "spans", len(batch), "error", err)
		} else {
			b.exported.Add(float64(len(batch)))
		}
		clear(batch) // let the spans go
		batch = batch[:0]
	}
	// drain takes what is in the channel now.
	drain := func() {
		for {
			select {
			case s := <-b.ch:
				batch = append(batch, s)
				if len(batch) >= b.batchSize {
					send()
				}
			default:
				return
			}
		}
	}
	tick := time.NewTicker(b.interval)
	defer tick.Stop()
	for {
		select {
		case s := <-b.ch:
			batch = append(batch, s)
			if len(batch) >= b.batchSize {
				send()
			}
		case <-tick.C:
			send()
		case done := <-b.flushes:
			drain()
			send()
			close(done)
		case <-b.stopping:
			drain()
			send()
			return
		}
	}
}

// flush exports what was enqueued before it, waiting until ctx ends.
func (b *batcher) flush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case b.flushes <- done:
	case <-b.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// shutdown exports what is buffered and stops the goroutine; with ctx
// ending first it returns while the last export finishes on its own.
func (b *batcher) shutdown(ctx context.Context) error {
	b.stopOnce.Do(func() { close(b.stopping) })
	select {
	case <-b.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if b.closer != nil {
		return b.closer(ctx)
	}
	return nil
}
