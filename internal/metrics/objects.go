package metrics

import "github.com/prometheus/client_golang/prometheus"

// ObjectStats is what the durable objects engine and the node's WebSocket
// hub report at scrape time.
type ObjectStats struct {
	Live      int    // objects live in memory on this node
	Events    uint64 // object events run
	Evictions uint64 // objects evicted (idle, hibernating, reset)
	Commits   uint64 // group commits of object storage
	Writes    uint64 // event writes those commits carried
	Sockets   int    // WebSocket connections open on this node
}

// Objects collects ObjectStats at scrape time: the engine keeps atomic
// counters, and nothing is done per event for the metrics.
type Objects struct {
	Read func() ObjectStats

	live, events, evictions, commits, writes, sockets *prometheus.Desc
}

// NewObjects returns the collector of read's statistics.
func NewObjects(read func() ObjectStats) *Objects {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(namespace+"_"+name, help, nil, nil)
	}
	return &Objects{Read: read,
		live:      d("objects_live", "Durable objects live in memory on this node."),
		events:    d("object_events_total", "Durable object events run (requests, alarms, WebSocket messages)."),
		evictions: d("object_evictions_total", "Durable objects evicted from memory (idle, hibernating, or reset)."),
		commits:   d("object_commits_total", "Group commits of durable object storage."),
		writes:    d("object_commit_writes_total", "Event writes carried by object group commits (writes per commit is the grouping)."),
		sockets:   d("websockets_open", "WebSocket connections open on this node (object sockets and WebSocket routes)."),
	}
}

// Describe implements prometheus.Collector.
func (o *Objects) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{o.live, o.events, o.evictions, o.commits, o.writes, o.sockets} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (o *Objects) Collect(ch chan<- prometheus.Metric) {
	s := o.Read()
	ch <- prometheus.MustNewConstMetric(o.live, prometheus.GaugeValue, float64(s.Live))
	ch <- prometheus.MustNewConstMetric(o.events, prometheus.CounterValue, float64(s.Events))
	ch <- prometheus.MustNewConstMetric(o.evictions, prometheus.CounterValue, float64(s.Evictions))
	ch <- prometheus.MustNewConstMetric(o.commits, prometheus.CounterValue, float64(s.Commits))
	ch <- prometheus.MustNewConstMetric(o.writes, prometheus.CounterValue, float64(s.Writes))
	ch <- prometheus.MustNewConstMetric(o.sockets, prometheus.GaugeValue, float64(s.Sockets))
}
