package deploy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// diffEvents fills the plan's queue, topic and schedule changes from the
// wanted configuration ev and the deployed state, and returns conflicts
// with names that other projects own.
func (p *Plan) diffEvents(ev store.EventsApplyParams, cur State) []error {
	var conflicts []error
	curQueues := map[string]record.QueueConfig{}
	for _, q := range cur.Queues {
		if q.Project == p.Project {
			curQueues[q.Name] = q
		}
	}
	for _, q := range cur.Queues {
		if q.Project != p.Project && slices.ContainsFunc(ev.Queues, func(x record.QueueConfig) bool { return x.Name == q.Name }) {
			conflicts = append(conflicts, fmt.Errorf("queue %q belongs to project %q; rename it or remove it there first: %w",
				q.Name, q.Project, store.ErrConflict))
		}
	}
	for _, q := range ev.Queues {
		old, ok := curQueues[q.Name]
		switch {
		case !ok:
			p.QueuesAdd = append(p.QueuesAdd, q)
		case !queueEqual(old, q):
			p.QueuesChange = append(p.QueuesChange, QueueChange{Old: old, New: q, Fields: queueFields(old, q)})
		}
		delete(curQueues, q.Name)
	}
	for _, q := range curQueues {
		p.QueuesRemove = append(p.QueuesRemove, q)
	}

	curTopics := map[string]record.TopicConfig{}
	for _, t := range cur.Topics {
		if t.Project == p.Project {
			curTopics[t.Name] = t
		} else if slices.ContainsFunc(ev.Topics, func(x record.TopicConfig) bool { return x.Name == t.Name }) {
			conflicts = append(conflicts, fmt.Errorf("topic %q belongs to project %q; rename it or remove it there first: %w",
				t.Name, t.Project, store.ErrConflict))
		}
	}
	for _, t := range ev.Topics {
		old, ok := curTopics[t.Name]
		if !ok {
			p.TopicsAdd = append(p.TopicsAdd, t)
		} else if fields := setDiff(old.Queues, t.Queues); len(fields) > 0 {
			p.TopicsChange = append(p.TopicsChange, TopicChange{Old: old, New: t, Fields: fields})
		}
		delete(curTopics, t.Name)
	}
	for _, t := range curTopics {
		p.TopicsRemove = append(p.TopicsRemove, t)
	}

	curSchedules := map[string]record.Schedule{}
	for _, s := range cur.Schedules {
		if s.Project == p.Project {
			curSchedules[s.Name] = s
		}
	}
	for _, s := range ev.Schedules {
		old, ok := curSchedules[s.Name]
		switch {
		case !ok:
			p.SchedulesAdd = append(p.SchedulesAdd, s)
		case old.Spec != s.Spec || old.Timezone != s.Timezone || old.Function != s.Function:
			p.SchedulesChange = append(p.SchedulesChange, ScheduleChange{Old: old, New: s})
		}
		delete(curSchedules, s.Name)
	}
	for _, s := range curSchedules {
		p.SchedulesRemove = append(p.SchedulesRemove, s)
	}

	byName := func(a, b record.QueueConfig) int { return cmp.Compare(a.Name, b.Name) }
	slices.SortFunc(p.QueuesAdd, byName)
	slices.SortFunc(p.QueuesRemove, byName)
	slices.SortFunc(p.QueuesChange, func(a, b QueueChange) int { return cmp.Compare(a.New.Name, b.New.Name) })
	topicByName := func(a, b record.TopicConfig) int { return cmp.Compare(a.Name, b.Name) }
	slices.SortFunc(p.TopicsAdd, topicByName)
	slices.SortFunc(p.TopicsRemove, topicByName)
	slices.SortFunc(p.TopicsChange, func(a, b TopicChange) int { return cmp.Compare(a.New.Name, b.New.Name) })
	schedByName := func(a, b record.Schedule) int { return cmp.Compare(a.Name, b.Name) }
	slices.SortFunc(p.SchedulesAdd, schedByName)
	slices.SortFunc(p.SchedulesRemove, schedByName)
	slices.SortFunc(p.SchedulesChange, func(a, b ScheduleChange) int { return cmp.Compare(a.New.Name, b.New.Name) })
	slices.SortFunc(conflicts, func(a, b error) int { return cmp.Compare(a.Error(), b.Error()) })
	return conflicts
}

// queueEqual compares what a deploy sets; a stored batch size of 0 is the
// default 1.
func queueEqual(a, b record.QueueConfig) bool {
	return len(queueFields(a, b)) == 0
}

func batch(n int) int { return max(n, 1) }

func noneIfEmpty(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func queueFields(o, n record.QueueConfig) []string {
	var out []string
	if o.Kind != n.Kind {
		out = append(out, "kind "+o.Kind+"→"+n.Kind)
	}
	if o.VisibilityTimeout != n.VisibilityTimeout {
		out = append(out, "visibility "+o.VisibilityTimeout.String()+"→"+n.VisibilityTimeout.String())
	}
	if o.MaxReceives != n.MaxReceives {
		out = append(out, fmt.Sprintf("max_receives %d→%d", o.MaxReceives, n.MaxReceives))
	}
	if o.DeadLetter != n.DeadLetter {
		out = append(out, "dead_letter "+noneIfEmpty(o.DeadLetter)+"→"+noneIfEmpty(n.DeadLetter))
	}
	if o.FIFO != n.FIFO {
		out = append(out, "fifo "+onOff(o.FIFO)+"→"+onOff(n.FIFO))
	}
	if o.Consumer != n.Consumer {
		out = append(out, "consumer "+noneIfEmpty(o.Consumer)+"→"+noneIfEmpty(n.Consumer))
	}
	if batch(o.BatchSize) != batch(n.BatchSize) {
		out = append(out, fmt.Sprintf("batch_size %d→%d", batch(o.BatchSize), batch(n.BatchSize)))
	}
	if o.RetryBase != n.RetryBase {
		out = append(out, "retry_base "+o.RetryBase.String()+"→"+n.RetryBase.String())
	}
	return out
}

// setDiff lists "+x" for what new adds and "-x" for what it drops.
func setDiff(old, new []string) []string {
	var out []string
	for _, x := range new {
		if !slices.Contains(old, x) {
			out = append(out, "+"+x)
		}
	}
	for _, x := range old {
		if !slices.Contains(new, x) {
			out = append(out, "-"+x)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Compare(a[1:], b[1:]) })
	return out
}

// subscriber names a topic's queue for people: "queue audit" or
// "function welcome-email".
func subscriber(q string) string {
	if rest, ok := strings.CutPrefix(q, topicPrefix); ok {
		if _, fn, ok := strings.Cut(rest, "."); ok {
			return "function " + fn
		}
	}
	return "queue " + q
}

func describeQueue(q record.QueueConfig) string {
	parts := []string{
		"visibility " + q.VisibilityTimeout.String(),
		fmt.Sprintf("max_receives %d", q.MaxReceives),
	}
	if q.DeadLetter != "" {
		parts = append(parts, "dead_letter "+q.DeadLetter)
	}
	if q.FIFO {
		parts = append(parts, "fifo")
	}
	if q.Consumer != "" {
		parts = append(parts, "consumer "+q.Consumer, fmt.Sprintf("batch_size %d", batch(q.BatchSize)))
	}
	return strings.Join(parts, ", ")
}

func scheduleString(s record.Schedule) string {
	if s.Timezone == "" {
		return s.Spec
	}
	return s.Spec + " " + s.Timezone
}

type eventCount struct {
	what                string
	add, change, remove int
}

// functionEvents is the part of an internal queue's settings that stands
// for the function's retries and dead_letter.
func functionEvents(o, n record.QueueConfig) []string {
	var out []string
	if o.MaxReceives != n.MaxReceives {
		out = append(out, fmt.Sprintf("retries %d→%d", max(o.MaxReceives-1, 0), max(n.MaxReceives-1, 0)))
	}
	if o.DeadLetter != n.DeadLetter {
		out = append(out, "dead_letter "+noneIfEmpty(o.DeadLetter)+"→"+noneIfEmpty(n.DeadLetter))
	}
	return out
}

// writeEvents prints the event lines of Write and returns what the
// summary counts (user-visible lines only).
func (p *Plan) writeEvents(b *strings.Builder) []eventCount {
	queues := eventCount{what: "queues"}
	topics := eventCount{what: "topics"}
	schedules := eventCount{what: "schedules"}
	added := map[string]bool{}
	for _, c := range p.Add {
		added[c.Name] = true
	}
	removed := map[string]bool{}
	for _, n := range p.Remove {
		removed[n] = true
	}
	for _, q := range p.QueuesAdd {
		switch {
		case q.Kind == record.QueueAsync && !added[q.Consumer]:
			// A function deployed before it had an async queue.
			fmt.Fprintf(b, "+ async queue of function %s (%s)\n", q.Consumer, describeQueue(q))
		case IsInternalQueue(q.Name):
		default:
			queues.add++
			fmt.Fprintf(b, "+ queue %s (%s)\n", q.Name, describeQueue(q))
		}
	}
	// One line per function for its internal queues' retries and dead
	// letters, however many topics it subscribes to.
	shown := map[string]bool{}
	for _, c := range p.QueuesChange {
		if !IsInternalQueue(c.New.Name) {
			queues.change++
			fmt.Fprintf(b, "~ queue %s: %s\n", c.New.Name, strings.Join(c.Fields, ", "))
			continue
		}
		fields := functionEvents(c.Old, c.New)
		if len(fields) == 0 || shown[c.New.Consumer] {
			continue
		}
		shown[c.New.Consumer] = true
		fmt.Fprintf(b, "~ events of function %s: %s\n", c.New.Consumer, strings.Join(fields, ", "))
	}
	for _, q := range p.QueuesRemove {
		if IsInternalQueue(q.Name) {
			if q.Kind == record.QueueAsync && !removed[q.Consumer] {
				fmt.Fprintf(b, "- async queue of function %s\n", q.Consumer)
			}
			continue
		}
		queues.remove++
		fmt.Fprintf(b, "- queue %s\n", q.Name)
	}
	for _, t := range p.TopicsAdd {
		topics.add++
		if len(t.Queues) == 0 {
			fmt.Fprintf(b, "+ topic %s (no subscribers)\n", t.Name)
			continue
		}
		subs := make([]string, len(t.Queues))
		for i, q := range t.Queues {
			subs[i] = subscriber(q)
		}
		fmt.Fprintf(b, "+ topic %s (→ %s)\n", t.Name, strings.Join(subs, ", "))
	}
	for _, c := range p.TopicsChange {
		topics.change++
		fields := make([]string, len(c.Fields))
		for i, f := range c.Fields {
			fields[i] = f[:1] + subscriber(f[1:])
		}
		fmt.Fprintf(b, "~ topic %s: %s\n", c.New.Name, strings.Join(fields, ", "))
	}
	for _, t := range p.TopicsRemove {
		topics.remove++
		fmt.Fprintf(b, "- topic %s\n", t.Name)
	}
	for _, s := range p.SchedulesAdd {
		schedules.add++
		fmt.Fprintf(b, "+ schedule %s: %s\n", s.Name, scheduleString(s))
	}
	for _, c := range p.SchedulesChange {
		schedules.change++
		fmt.Fprintf(b, "~ schedule %s: %s\n", c.New.Name, scheduleString(c.New))
	}
	for _, s := range p.SchedulesRemove {
		schedules.remove++
		fmt.Fprintf(b, "- schedule %s\n", s.Name)
	}
	return []eventCount{queues, topics, schedules}
}
