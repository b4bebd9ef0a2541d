package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// Store is what the store collector reads.
type Store interface {
	QueueList(ctx context.Context) ([]record.QueueConfig, error)
	QueueStats(ctx context.Context, queue string) (*record.QueueStats, error)
	FlowCount(ctx context.Context) ([]store.FlowCount, error)
}

// DefaultStoreTTL is how long the store collector reuses what it read: a
// scrape storm (several Prometheus servers, a dashboard refreshing) costs
// the store one round of queries per TTL, whatever the scrape rate.
const DefaultStoreTTL = 5 * time.Second

// storeTimeout bounds one refresh: a slow store makes a scrape report the
// last values read, not hang.
const storeTimeout = 5 * time.Second

// StoreCollector reports what the store holds, read at scrape time:
// queue depths and their oldest message's age, dead-letter queue sizes,
// and workflow executions by status. They are the cluster's figures (every
// node sharing a PostgreSQL store reports the same), not this node's.
type StoreCollector struct {
	st    Store
	log   *slog.Logger
	clock clock.Clock
	ttl   time.Duration

	depth, age, dlq, flows *prometheus.Desc

	mu     sync.Mutex // held through a refresh: concurrent scrapes share it
	readAt time.Time
	snap   []prometheus.Metric
}

// NewStoreCollector returns a collector of st; ttl 0 means
// DefaultStoreTTL, clk nil the real clock.
func NewStoreCollector(st Store, logger *slog.Logger, clk clock.Clock, ttl time.Duration) *StoreCollector {
	if ttl <= 0 {
		ttl = DefaultStoreTTL
	}
	if clk == nil {
		clk = clock.Real{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	q := []string{labelProject, "queue"}
	return &StoreCollector{st: st, log: logger, clock: clk, ttl: ttl,
		depth: prometheus.NewDesc(namespace+"_queue_messages",
			"Messages in a queue by state: visible (ready), in_flight (received, not acked) or delayed.", append(q, "state"), nil),
		age: prometheus.NewDesc(namespace+"_queue_oldest_message_age_seconds",
			"Age of the oldest message in a queue (0 when empty).", q, nil),
		dlq: prometheus.NewDesc(namespace+"_dlq_messages",
			"Messages in a queue that is another queue's dead-letter queue.", q, nil),
		flows: prometheus.NewDesc(namespace+"_workflow_executions",
			"Workflow executions kept in the store, by status (closed ones until their retention ends).", []string{labelProject, "workflow", "status"}, nil),
	}
}

var _ prometheus.Collector = (*StoreCollector)(nil)

func (c *StoreCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.age
	ch <- c.dlq
	ch <- c.flows
}

func (c *StoreCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.snapshot() {
		ch <- m
	}
}

// snapshot returns the metrics read within the TTL, reading them again
// when they are older.
func (c *StoreCollector) snapshot() []prometheus.Metric {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	if !c.readAt.IsZero() && now.Sub(c.readAt) < c.ttl {
		return c.snap
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	snap, err := c.read(ctx, now)
	if err != nil {
		// The last values stay; the next scrape after the TTL tries again.
		c.log.Warn("read store metrics", "err", err)
		c.readAt = now
		return c.snap
	}
	c.snap, c.readAt = snap, now
	return snap
}

func (c *StoreCollector) read(ctx context.Context, now time.Time) ([]prometheus.Metric, error) {
	qs, err := c.st.QueueList(ctx)
	if err != nil {
		return nil, err
	}
	isDLQ := make(map[string]bool)
	for _, q := range qs {
		if q.DeadLetter != "" {
			isDLQ[q.DeadLetter] = true
		}
	}
	var out []prometheus.Metric
	for _, q := range qs {
		s, err := c.st.QueueStats(ctx, q.Name)
		if err != nil {
			return nil, err
		}
		gauge := func(d *prometheus.Desc, v float64, labels ...string) {
			out = append(out, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...))
		}
		gauge(c.depth, float64(s.Visible), q.Project, q.Name, "visible")
		gauge(c.depth, float64(s.InFlight), q.Project, q.Name, "in_flight")
		gauge(c.depth, float64(s.Delayed), q.Project, q.Name, "delayed")
		age := 0.0
		if !s.OldestSent.IsZero() {
			age = max(now.Sub(s.OldestSent).Seconds(), 0)
		}
		gauge(c.age, age, q.Project, q.Name)
		if isDLQ[q.Name] {
			gauge(c.dlq, float64(s.Visible+s.InFlight+s.Delayed), q.Project, q.Name)
		}
	}
	fs, err := c.st.FlowCount(ctx)
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		out = append(out, prometheus.MustNewConstMetric(c.flows, prometheus.GaugeValue, float64(f.N), f.Project, f.Workflow, f.Status))
	}
	return out, nil
}
