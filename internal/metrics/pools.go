package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stratahq/strata/internal/pool"
)

// Pools is a collector of the node's warm pools, read when Prometheus
// scrapes (a pool's Stats is a copy under its lock: nothing on the
// invocation path changes for it).
type Pools struct {
	// Each calls fn with every active function's pool (registry.EachPool).
	Each func(fn func(project, function string, s pool.Stats))

	instances *prometheus.Desc
}

// NewPools returns a pools collector over each; register it.
func NewPools(each func(fn func(project, function string, s pool.Stats))) *Pools {
	return &Pools{Each: each, instances: prometheus.NewDesc(namespace+"_instances",
		"Live instances of each function's active version on this node: idle (warm, waiting) or busy (running an invocation).",
		[]string{labelProject, labelFunction, "state"}, nil)}
}

var _ prometheus.Collector = (*Pools)(nil)

func (p *Pools) Describe(ch chan<- *prometheus.Desc) { ch <- p.instances }

func (p *Pools) Collect(ch chan<- prometheus.Metric) {
	p.Each(func(project, function string, s pool.Stats) {
		ch <- prometheus.MustNewConstMetric(p.instances, prometheus.GaugeValue, float64(s.Idle), project, function, "idle")
		ch <- prometheus.MustNewConstMetric(p.instances, prometheus.GaugeValue, float64(s.Busy), project, function, "busy")
	})
}
