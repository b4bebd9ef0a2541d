package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// LagBuckets are the schedule lag histogram's bounds in seconds: a fire
// is normally tens of milliseconds late (the scheduler's poll); minutes
// mean no node was running or the store was slow.
var LagBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 3600}

// Engines holds the metrics the queue, schedule and workflow engines
// report as things happen (what the store holds is StoreCollector's).
type Engines struct {
	scheduleLag *prometheus.HistogramVec
	stepLatency *prometheus.HistogramVec
}

// NewEngines registers the engines' metrics on reg.
func NewEngines(reg prometheus.Registerer) *Engines {
	m := &Engines{
		scheduleLag: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "schedule_lag_seconds",
			Help: "How late a schedule fired: the time its message was enqueued minus the time it was due.", Buckets: LagBuckets},
			[]string{labelProject, "schedule"}),
		stepLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "workflow_step_duration_seconds",
			Help: "Wall time of each attempt of a workflow's activity step, by outcome (ok, error, throttled).", Buckets: DurationBuckets},
			[]string{labelProject, "workflow", labelOutcome}),
	}
	reg.MustRegister(m.scheduleLag, m.stepLatency)
	return m
}

// ObserveScheduleFire records that project's schedule fired lag after it
// was due (events.Config.OnScheduleFire).
func (m *Engines) ObserveScheduleFire(project, schedule string, lag time.Duration) {
	m.scheduleLag.WithLabelValues(project, schedule).Observe(max(lag, 0).Seconds())
}

// ObserveStep records one attempt of a workflow step (flow.Config.OnStep).
func (m *Engines) ObserveStep(project, workflow, outcome string, d time.Duration) {
	m.stepLatency.WithLabelValues(project, workflow, outcome).Observe(d.Seconds())
}
