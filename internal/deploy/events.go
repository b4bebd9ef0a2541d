package deploy

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/schedule"
	"github.com/stratahq/strata/internal/store"
)

// QueueSpec is a queue declared under queues: in strata.yaml.
type QueueSpec struct {
	Name                string `json:"name"`
	VisibilityTimeoutMS int64  `json:"visibility_timeout_ms"`
	MaxReceives         int    `json:"max_receives"`
	DeadLetter          string `json:"dead_letter,omitempty"` // a queue of the same Spec
	FIFO                bool   `json:"fifo,omitempty"`
}

// TopicSpec is a topic and the user queues subscribed to it besides the
// functions whose topics name it.
type TopicSpec struct {
	Name   string   `json:"name"`
	Queues []string `json:"queues,omitempty"`
}

// QueueTrigger makes a function the consumer of a user queue.
type QueueTrigger struct {
	Name      string `json:"name"`
	BatchSize int    `json:"batch_size"`
}

// ScheduleSpec fires a function on a cron or rate spec (package schedule).
type ScheduleSpec struct {
	Spec     string `json:"spec"`
	Timezone string `json:"timezone,omitempty"` // IANA; "" is UTC
}

// Limits and defaults of events, shared with the manifest and the schema.
const (
	DefaultVisibilityTimeout = 30 * time.Second
	MinVisibilityTimeout     = time.Second
	MaxVisibilityTimeout     = 12 * time.Hour

	DefaultMaxReceives = 5
	MinMaxReceives     = 1
	MaxMaxReceives     = 1000

	MinBatchSize = 1
	MaxBatchSize = 100

	// DefaultRetries is Lambda's default for async invokes: two retries
	// after the first attempt.
	DefaultRetries = 2
	MaxRetries     = 10

	// MaxRateLimit bounds a route's rate limit (requests per second) and
	// MaxBurst its burst.
	MaxRateLimit = 1_000_000
	MaxBurst     = 1_000_000

	// AsyncVisibilityMargin is added to a function's timeout to make the
	// visibility timeout of its internal queues: an invocation still
	// running must not see its event delivered a second time.
	AsyncVisibilityMargin = 30 * time.Second
	// AsyncRetryBase is the first backoff of internal queues.
	AsyncRetryBase = time.Second
)

// Rule texts of events.
const (
	QueueNameRule         = NameRule
	VisibilityTimeoutRule = `must be a duration like "30s" or "5m" between 1s and 12h`
	MaxReceivesRule       = "must be an integer between 1 and 1000"
	BatchSizeRule         = "must be an integer between 1 and 100"
	RetriesRule           = "must be an integer between 0 and 10"
	ProvisionedRule       = "must be an integer between 0 and max_concurrency"
	RateLimitRule         = "must be a number of requests per second above 0 and at most 1000000"
	BurstRule             = "must be an integer between 1 and 1000000"
)

// Internal queue names start with "_", which user names cannot.
const (
	asyncPrefix = "_async."
	topicPrefix = "_topic."
)

// AsyncQueue names the internal queue that holds a function's async
// invokes, scheduled fires and async-route requests.
func AsyncQueue(fn string) string { return asyncPrefix + fn }

// TopicQueue names the internal queue through which function fn receives
// topic's messages.
func TopicQueue(topic, fn string) string { return topicPrefix + topic + "." + fn }

// IsInternalQueue reports whether a queue name is one the deploy derives
// (and users cannot declare).
func IsInternalQueue(name string) bool { return strings.HasPrefix(name, "_") }

// ValidateQueueName checks the name of a user queue or a topic. Names
// starting with "_" get their own message: they are not typos but taken.
func ValidateQueueName(s string) error {
	if strings.HasPrefix(s, "_") {
		return fmt.Errorf("is reserved: names starting with \"_\" belong to the platform's internal queues, got %q", s)
	}
	return ValidateName(s)
}

// ValidateVisibilityTimeout checks a queue's visibility timeout.
func ValidateVisibilityTimeout(d time.Duration) error {
	if d < MinVisibilityTimeout || d > MaxVisibilityTimeout {
		return fmt.Errorf("%s, got %s", VisibilityTimeoutRule, d)
	}
	if d%time.Millisecond != 0 {
		return fmt.Errorf("must be a whole number of milliseconds, got %s", d)
	}
	return nil
}

// ValidateMaxReceives checks how often a message may be received before it
// goes to the dead-letter queue.
func ValidateMaxReceives(n int) error {
	if n < MinMaxReceives || n > MaxMaxReceives {
		return fmt.Errorf("%s, got %d", MaxReceivesRule, n)
	}
	return nil
}

// ValidateBatchSize checks a queue trigger's batch size.
func ValidateBatchSize(n int) error {
	if n < MinBatchSize || n > MaxBatchSize {
		return fmt.Errorf("%s, got %d", BatchSizeRule, n)
	}
	return nil
}

// ValidateRetries checks a function's retries of async and event
// invocations.
func ValidateRetries(n int) error {
	if n < 0 || n > MaxRetries {
		return fmt.Errorf("%s, got %d", RetriesRule, n)
	}
	return nil
}

// ValidateProvisioned checks a function's provisioned (always warm)
// instances against its concurrency limit.
func ValidateProvisioned(n, maxConcurrency int) error {
	if n < 0 || n > maxConcurrency {
		return fmt.Errorf("%s (%d), got %d", ProvisionedRule, maxConcurrency, n)
	}
	return nil
}

// ValidateRateLimit checks a route's rate limit in requests per second.
func ValidateRateLimit(r float64) error {
	if !(r > 0 && r <= MaxRateLimit) { // also refuses NaN
		return fmt.Errorf("%s, got %v", RateLimitRule, r)
	}
	return nil
}

// ValidateBurst checks a route's burst.
func ValidateBurst(n int) error {
	if n < 1 || n > MaxBurst {
		return fmt.Errorf("%s, got %d", BurstRule, n)
	}
	return nil
}

// DefaultBurst is the burst of a rate limit that names none: one second's
// worth of requests, at least one.
func DefaultBurst(rate float64) int {
	return max(1, int(math.Ceil(rate)))
}

// ValidateSchedule checks a schedule spec and zone with package schedule.
func ValidateSchedule(spec, timezone string) error {
	_, err := schedule.Parse(spec, timezone)
	return err
}

// validateEvents checks queues, topics and every function's triggers and
// event settings against each other.
func (s Spec) validateEvents() []error {
	var errs []error
	queues := make(map[string]QueueSpec, len(s.Queues))
	for i, q := range s.Queues {
		where := fmt.Sprintf("queues[%d]", i)
		if q.Name != "" {
			where = fmt.Sprintf("queue %q", q.Name)
		}
		if err := ValidateQueueName(q.Name); err != nil {
			errs = append(errs, fmt.Errorf("queues[%d].name: %w", i, err))
		} else if _, dup := queues[q.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: appears twice", where))
		}
		queues[q.Name] = q
		if err := ValidateVisibilityTimeout(time.Duration(q.VisibilityTimeoutMS) * time.Millisecond); err != nil {
			errs = append(errs, fmt.Errorf("%s: visibility_timeout_ms: %w", where, err))
		}
		if err := ValidateMaxReceives(q.MaxReceives); err != nil {
			errs = append(errs, fmt.Errorf("%s: max_receives: %w", where, err))
		}
	}
	for _, q := range s.Queues {
		if err := DeadLetterCheck(q.Name, q.DeadLetter, func(n string) (string, bool) {
			d, ok := queues[n]
			return d.DeadLetter, ok
		}); err != nil {
			errs = append(errs, fmt.Errorf("queue %q: dead_letter: %w", q.Name, err))
		}
	}
	topics := make(map[string]bool, len(s.Topics))
	for i, t := range s.Topics {
		where := fmt.Sprintf("topics[%d]", i)
		if t.Name != "" {
			where = fmt.Sprintf("topic %q", t.Name)
		}
		if err := ValidateQueueName(t.Name); err != nil {
			errs = append(errs, fmt.Errorf("topics[%d].name: %w", i, err))
		} else if topics[t.Name] {
			errs = append(errs, fmt.Errorf("%s: appears twice", where))
		}
		topics[t.Name] = true
		seen := map[string]bool{}
		for _, q := range t.Queues {
			if _, ok := queues[q]; !ok {
				errs = append(errs, fmt.Errorf("%s: queues: unknown queue %q", where, q))
			} else if seen[q] {
				errs = append(errs, fmt.Errorf("%s: queues: %q is listed twice", where, q))
			}
			seen[q] = true
		}
	}
	consumers := map[string]string{}
	for i, f := range s.Functions {
		where := fmt.Sprintf("functions[%d]", i)
		if f.Name != "" {
			where = fmt.Sprintf("function %q", f.Name)
		}
		if q := f.Queue; q != nil {
			if _, ok := queues[q.Name]; !ok {
				errs = append(errs, fmt.Errorf("%s: queue: unknown queue %q", where, q.Name))
			} else if prev, taken := consumers[q.Name]; taken {
				errs = append(errs, fmt.Errorf("%s: queue: %q is already consumed by function %q; a queue has one consumer (use a topic to fan out)", where, q.Name, prev))
			} else {
				consumers[q.Name] = f.Name
			}
			if err := ValidateBatchSize(q.BatchSize); err != nil {
				errs = append(errs, fmt.Errorf("%s: queue: batch_size: %w", where, err))
			}
		}
		seen := map[string]bool{}
		for _, t := range f.Topics {
			if !topics[t] {
				errs = append(errs, fmt.Errorf("%s: topics: unknown topic %q", where, t))
			} else if seen[t] {
				errs = append(errs, fmt.Errorf("%s: topics: %q is listed twice", where, t))
			}
			seen[t] = true
		}
		if sc := f.Schedule; sc != nil {
			if err := ValidateSchedule(sc.Spec, sc.Timezone); err != nil {
				errs = append(errs, fmt.Errorf("%s: schedule: %w", where, err))
			}
		}
		if err := ValidateRetries(f.Retries); err != nil {
			errs = append(errs, fmt.Errorf("%s: retries: %w", where, err))
		}
		if f.DeadLetter != "" {
			if _, ok := queues[f.DeadLetter]; !ok {
				errs = append(errs, fmt.Errorf("%s: dead_letter: unknown queue %q", where, f.DeadLetter))
			} else if f.Queue != nil && f.Queue.Name == f.DeadLetter {
				errs = append(errs, fmt.Errorf("%s: dead_letter: %q is the queue this function consumes; failed events would come straight back", where, f.DeadLetter))
			}
		}
		if err := ValidateProvisioned(f.Config.Provisioned, f.Config.MaxConcurrency); err != nil {
			errs = append(errs, fmt.Errorf("%s: provisioned: %w", where, err))
		}
		for _, r := range f.Routes {
			if r.RateLimit == 0 && r.RateBurst == 0 {
				continue
			}
			if err := ValidateRateLimit(r.RateLimit); err != nil {
				errs = append(errs, fmt.Errorf("%s: route %s %s: rate_limit: %w", where, r.Method, r.Path, err))
			}
			if err := ValidateBurst(r.RateBurst); err != nil {
				errs = append(errs, fmt.Errorf("%s: route %s %s: rate_burst: %w", where, r.Method, r.Path, err))
			}
		}
	}
	return errs
}

// DeadLetterCheck checks that queue's dead-letter queue dl exists (lookup
// returns its own dead_letter), is not the queue itself, and that following
// dead letters from it never comes back to queue.
func DeadLetterCheck(queue, dl string, lookup func(string) (string, bool)) error {
	if dl == "" {
		return nil
	}
	if dl == queue {
		return errors.New("a queue cannot be its own dead-letter queue")
	}
	if _, ok := lookup(dl); !ok {
		return fmt.Errorf("unknown queue %q", dl)
	}
	chain := []string{queue, dl}
	visited := map[string]bool{dl: true}
	for cur := dl; ; {
		next, ok := lookup(cur)
		if !ok || next == "" || visited[next] && next != queue {
			return nil // the end, or a circle not through queue (reported for its members)
		}
		chain = append(chain, next)
		if next == queue {
			return fmt.Errorf("dead letters would go round in a circle: %s", strings.Join(chain, " → "))
		}
		visited[next] = true
		cur = next
	}
}

// Events derives the store's complete event configuration of the project:
// user queues with their consumers, an async queue per function, a queue per
// topic subscription, topics with all their subscribed queues, and a
// schedule per scheduled function whose first fire is the first after now.
// The Spec must be valid.
func (s Spec) Events(now time.Time) store.EventsApplyParams {
	var ev store.EventsApplyParams
	consumer := map[string]QueueTrigger{}
	fnOf := map[string]string{}
	for _, f := range s.Functions {
		if f.Queue != nil {
			consumer[f.Queue.Name] = *f.Queue
			fnOf[f.Queue.Name] = f.Name
		}
	}
	for _, q := range s.Queues {
		qc := record.QueueConfig{
			Name:              q.Name,
			Project:           s.Project,
			Kind:              record.QueueUser,
			VisibilityTimeout: time.Duration(q.VisibilityTimeoutMS) * time.Millisecond,
			MaxReceives:       q.MaxReceives,
			DeadLetter:        q.DeadLetter,
			FIFO:              q.FIFO,
			BatchSize:         1,
		}
		if t, ok := consumer[q.Name]; ok {
			qc.Consumer, qc.BatchSize = fnOf[q.Name], t.BatchSize
		}
		ev.Queues = append(ev.Queues, qc)
	}
	subscribers := map[string][]string{}
	for _, t := range s.Topics {
		subscribers[t.Name] = append(subscribers[t.Name], t.Queues...)
	}
	for _, f := range s.Functions {
		internal := func(name, kind string) record.QueueConfig {
			return record.QueueConfig{
				Name:              name,
				Project:           s.Project,
				Kind:              kind,
				VisibilityTimeout: time.Duration(f.Config.TimeoutMS)*time.Millisecond + AsyncVisibilityMargin,
				MaxReceives:       f.Retries + 1,
				DeadLetter:        f.DeadLetter,
				Consumer:          f.Name,
				BatchSize:         1,
				RetryBase:         AsyncRetryBase,
			}
		}
		ev.Queues = append(ev.Queues, internal(AsyncQueue(f.Name), record.QueueAsync))
		for _, t := range f.Topics {
			ev.Queues = append(ev.Queues, internal(TopicQueue(t, f.Name), record.QueueTopic))
			subscribers[t] = append(subscribers[t], TopicQueue(t, f.Name))
		}
		if sc := f.Schedule; sc != nil {
			st := record.Schedule{Name: f.Name, Project: s.Project, Function: f.Name, Spec: sc.Spec, Timezone: sc.Timezone}
			if p, err := schedule.Parse(sc.Spec, sc.Timezone); err == nil {
				st.NextFire = p.Next(now)
			}
			ev.Schedules = append(ev.Schedules, st)
		}
	}
	for _, t := range s.Topics {
		qs := slices.Clone(subscribers[t.Name])
		slices.Sort(qs)
		if qs == nil {
			qs = []string{}
		}
		ev.Topics = append(ev.Topics, record.TopicConfig{Name: t.Name, Project: s.Project, Queues: qs})
	}
	slices.SortFunc(ev.Queues, func(a, b record.QueueConfig) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(ev.Topics, func(a, b record.TopicConfig) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(ev.Schedules, func(a, b record.Schedule) int { return cmp.Compare(a.Name, b.Name) })
	return ev
}
