package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// StoreBuckets are the store operation histogram's bounds in seconds: an
// SQLite read is tens of µs, a synced commit milliseconds, a slow
// PostgreSQL round trip more.
var StoreBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5}

// StoreOps times the store's operations by name (the store's method:
// LogInsert, MessageReceive, FlowCommitBatch...): a bounded set of a few
// dozen. The observer of each name is resolved once, as Invocations does.
type StoreOps struct {
	duration *prometheus.HistogramVec

	mu  sync.RWMutex
	ops map[string]prometheus.Observer
}

// NewStoreOps registers the store operation histogram on reg.
func NewStoreOps(reg prometheus.Registerer) *StoreOps {
	m := &StoreOps{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "store_operation_duration_seconds",
			Help: "Time of each store operation, by the operation's name, errors included.", Buckets: StoreBuckets}, []string{"operation"}),
		ops: make(map[string]prometheus.Observer),
	}
	reg.MustRegister(m.duration)
	return m
}

// Observe records one operation (sqlstore.Store.ObserveOperations).
func (m *StoreOps) Observe(op string, d time.Duration) {
	m.mu.RLock()
	o := m.ops[op]
	m.mu.RUnlock()
	if o == nil {
		m.mu.Lock()
		if o = m.ops[op]; o == nil {
			o = m.duration.WithLabelValues(op)
			m.ops[op] = o
		}
		m.mu.Unlock()
	}
	o.Observe(d.Seconds())
}
