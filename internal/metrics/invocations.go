package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stratahq/strata/internal/record"
)

// Metric names a dashboard or an alert refers to (docs/metrics.md lists
// them all).
const (
	namespace = "strata"

	labelProject  = "project"
	labelFunction = "function"
	labelTrigger  = "trigger"
	labelOutcome  = "outcome"
)

// DurationBuckets are the invocation duration histogram's bounds in
// seconds: from a warm call (tens of µs) to the longest timeout (900 s).
var DurationBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900}

// Invocations counts finished invocations and their durations. Observe
// is called on every invocation's path, so it takes the series of a
// (project, function, trigger, outcome) from a map keyed by a struct of
// the strings it already has: after the first call of a combination it
// neither allocates nor formats anything (client_golang's WithLabelValues
// would hash and, on a miss, copy its arguments on every call).
type Invocations struct {
	total    *prometheus.CounterVec
	errors   *prometheus.CounterVec
	throttle *prometheus.CounterVec
	duration *prometheus.HistogramVec
	cold     *prometheus.CounterVec

	mu     sync.RWMutex
	series map[seriesKey]*series
}

type seriesKey struct{ project, function, trigger, outcome string }

// series is the children of one label combination, resolved once.
type series struct {
	total    prometheus.Counter
	errors   prometheus.Counter // nil unless the outcome is a failure
	throttle prometheus.Counter // nil unless the outcome is limited
	duration prometheus.Observer
	cold     prometheus.Counter // by project and function only
}

// NewInvocations registers the invocation metrics on reg.
func NewInvocations(reg prometheus.Registerer) *Invocations {
	labels := []string{labelProject, labelFunction, labelTrigger, labelOutcome}
	m := &Invocations{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "invocations_total",
			Help: "Finished invocations, by outcome (ok, error, timeout, canceled, limited)."}, labels),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "invocation_errors_total",
			Help: "Invocations that failed: the guest trapped or returned an error (outcome error) or ran past its timeout (outcome timeout)."}, labels),
		throttle: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "invocation_throttles_total",
			Help: "Invocations refused for capacity (429): the function's max_concurrency, the project's share, the node's cap or its memory budget."},
			[]string{labelProject, labelFunction, labelTrigger}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "invocation_duration_seconds",
			Help: "Wall time of invocations that ran (throttled ones did not), from admission to the guest's answer.", Buckets: DurationBuckets}, labels),
		cold: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "cold_starts_total",
			Help: "Invocations that instantiated a fresh instance on their path."}, []string{labelProject, labelFunction}),
		series: make(map[seriesKey]*series),
	}
	reg.MustRegister(m.total, m.errors, m.throttle, m.duration, m.cold)
	return m
}

// ObserveInvocation records one finished invocation of project's
// function (u.Function, u.Trigger, u.Outcome, u.Duration, u.Cold).
func (m *Invocations) ObserveInvocation(project string, u record.Usage) {
	s := m.get(seriesKey{project, u.Function, u.Trigger, u.Outcome})
	s.total.Inc()
	switch {
	case s.throttle != nil:
		s.throttle.Inc()
		return // it never ran: no duration
	case s.errors != nil:
		s.errors.Inc()
	}
	s.duration.Observe(u.Duration.Seconds())
	if u.Cold {
		s.cold.Inc()
	}
}

func (m *Invocations) get(k seriesKey) *series {
	m.mu.RLock()
	s := m.series[k]
	m.mu.RUnlock()
	if s != nil {
		return s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.series[k]; s != nil {
		return s
	}
	s = &series{total: m.total.WithLabelValues(k.project, k.function, k.trigger, k.outcome)}
	if k.outcome == record.OutcomeLimited {
		// Refused invocations never ran: no duration or cold start series
		// (an empty one would read as a function that never answers).
		s.throttle = m.throttle.WithLabelValues(k.project, k.function, k.trigger)
	} else {
		s.duration = m.duration.WithLabelValues(k.project, k.function, k.trigger, k.outcome)
		s.cold = m.cold.WithLabelValues(k.project, k.function)
	}
	if k.outcome == record.OutcomeError || k.outcome == record.OutcomeTimeout || k.outcome == record.OutcomeCPULimit {
		s.errors = m.errors.WithLabelValues(k.project, k.function, k.trigger, k.outcome)
	}
	m.series[k] = s
	return s
}
