package manifest

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/deploy"
	"github.com/stratahq/strata/internal/schedule"
)

// ref is a use of a queue, topic or secret name, checked in checkRefs once
// every one of the file is known (they may come after the functions).
type ref struct {
	kind  string // "queue", "topic" or "secret"
	name  string
	pos   Position
	field string
	// consumer is the function a queue: trigger makes the queue's consumer.
	consumer string
}

// fnEvents remembers where a function's event settings are, for checks that
// need several of them.
type fnEvents struct {
	queuePos, topicPos, topicsPos, schedulePos, timezonePos, provisionedPos, deadLetterPos Position
	scheduleOK                                                                             bool
}

func (p *parser) queues(e entry) []Queue {
	entries, ok := p.mapping(e.value, "queues", "queue")
	if !ok {
		p.addf(valuePos(e), "queues", "must be a mapping of queue names to their settings, got %s", describe(e.value))
		return nil
	}
	out := make([]Queue, 0, len(entries))
	for _, qe := range entries {
		field := "queues." + qe.key
		q := Queue{Name: qe.key, VisibilityTimeout: deploy.DefaultVisibilityTimeout, MaxReceives: deploy.DefaultMaxReceives, Pos: qe.pos}
		if err := deploy.ValidateQueueName(qe.key); err != nil {
			p.addf(qe.pos, field, "queue name %v", err)
		}
		settings, ok := p.mapping(qe.value, field, "key")
		if !ok {
			p.addf(valuePos(qe), field, "must be a mapping of settings (%s) or {}, got %s", strings.Join(queueKeys, ", "), describe(qe.value))
			out = append(out, q)
			continue
		}
		for _, s := range settings {
			sf := join(field, s.key)
			if s.value == nil && slices.Contains(queueKeys, s.key) {
				continue
			}
			switch s.key {
			case "visibility_timeout":
				q.VisibilityTimeout = p.duration(s, sf, deploy.VisibilityTimeoutRule, deploy.ValidateVisibilityTimeout)
			case "max_receives":
				q.MaxReceives = p.integer(s, sf, deploy.MaxReceivesRule, deploy.ValidateMaxReceives)
			case "dead_letter":
				q.DeadLetter = p.nameRef(s, sf, "queue", "")
			case "fifo":
				q.FIFO = p.boolean(s, sf)
			default:
				p.unknownKey(s, field, queueKeys)
			}
		}
		out = append(out, q)
	}
	slices.SortFunc(out, func(a, b Queue) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (p *parser) topics(e entry) []Topic {
	entries, ok := p.mapping(e.value, "topics", "topic")
	if !ok {
		p.addf(valuePos(e), "topics", "must be a mapping of topic names to their settings, got %s", describe(e.value))
		return nil
	}
	out := make([]Topic, 0, len(entries))
	for _, te := range entries {
		field := "topics." + te.key
		t := Topic{Name: te.key, Pos: te.pos}
		if err := deploy.ValidateQueueName(te.key); err != nil {
			p.addf(te.pos, field, "topic name %v", err)
		}
		settings, ok := p.mapping(te.value, field, "key")
		if !ok {
			p.addf(valuePos(te), field, "must be a mapping of settings (queues) or {}, got %s", describe(te.value))
			out = append(out, t)
			continue
		}
		for _, s := range settings {
			switch s.key {
			case "queues":
				if s.value != nil {
					t.Queues = p.nameList(s, join(field, s.key), "queue")
				}
			default:
				p.unknownKey(s, field, topicKeys)
			}
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b Topic) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// nameRef reads a queue or topic name and records it for checkRefs.
func (p *parser) nameRef(e entry, field, kind, consumer string) string {
	s, ok := str(e.value)
	if !ok || s == "" {
		p.addf(valuePos(e), field, "must be the name of a %s of this project, got %s", kind, describe(e.value))
		return ""
	}
	p.refs = append(p.refs, ref{kind: kind, name: s, pos: valuePos(e), field: field, consumer: consumer})
	return s
}

// nameList reads a list of queue or topic names (a single name is fine
// too) with no name twice.
func (p *parser) nameList(e entry, field, kind string) []string {
	var items []ast.Node
	switch v := e.value.(type) {
	case *ast.SequenceNode:
		items = v.Values
	case *ast.StringNode, *ast.LiteralNode:
		items = []ast.Node{v}
	default:
		p.addf(valuePos(e), field, "must be a list of %s names, got %s", kind, describe(e.value))
		return nil
	}
	var out []string
	first := map[string]Position{}
	for i, item := range items {
		v := p.resolve(item)
		pos := posOf(item)
		if vp := posOf(v); vp.Line > 0 && v == item {
			pos = vp
		}
		itemField := fmt.Sprintf("%s[%d]", field, i)
		s, ok := str(v)
		if !ok || s == "" {
			p.addf(pos, itemField, "must be the name of a %s of this project, got %s", kind, describe(v))
			continue
		}
		if at, dup := first[s]; dup {
			p.addf(pos, itemField, "%s %q is listed twice (first at %s)", kind, s, at)
			continue
		}
		first[s] = pos
		p.refs = append(p.refs, ref{kind: kind, name: s, pos: pos, field: itemField})
		out = append(out, s)
	}
	return out
}

func (p *parser) boolean(e entry, field string) bool {
	b, ok := e.value.(*ast.BoolNode)
	if !ok {
		p.addf(valuePos(e), field, "must be true or false, got %s", describe(e.value))
		return false
	}
	return b.Value
}

// number reads an integer or decimal number.
func (p *parser) number(e entry, field, rule string) (float64, bool) {
	switch v := e.value.(type) {
	case *ast.IntegerNode:
		switch x := v.Value.(type) {
		case int64:
			return float64(x), true
		case uint64:
			return float64(x), true
		}
	case *ast.FloatNode:
		if !math.IsNaN(v.Value) && !math.IsInf(v.Value, 0) {
			return v.Value, true
		}
	}
	p.addf(valuePos(e), field, "%s, got %s", rule, describe(e.value))
	return 0, false
}

// functionEvent reads one of a function's event settings.
func (p *parser) functionEvent(f *Function, ev *fnEvents, s entry, field string) {
	switch s.key {
	case "queue":
		ev.queuePos = s.pos
		f.Queue = p.queueTrigger(s, field, f.Name)
	case "topic":
		ev.topicPos = s.pos
		if name := p.nameRef(s, field, "topic", ""); name != "" {
			f.Topics = []string{name}
		}
	case "topics":
		ev.topicsPos = s.pos
		f.Topics = p.nameList(s, field, "topic")
	case "schedule":
		ev.schedulePos = valuePos(s)
		spec, ok := str(s.value)
		if !ok {
			p.addf(valuePos(s), field, "%s, got %s", schedule.Rule, describe(s.value))
			return
		}
		f.Schedule = spec
		// The zone is checked on its own line; here only what the spec says.
		if _, err := schedule.Parse(spec, ""); err != nil {
			p.addf(valuePos(s), field, "%v", err)
			return
		}
		ev.scheduleOK = true
	case "timezone":
		ev.timezonePos = s.pos
		tz, ok := str(s.value)
		if !ok {
			p.addf(valuePos(s), field, "must be an IANA time zone name like \"Europe/Berlin\", got %s", describe(s.value))
			return
		}
		f.Timezone = tz
		if _, err := schedule.LoadLocation(tz); err != nil {
			p.addf(valuePos(s), field, "%v", err)
		}
	case "retries":
		f.Retries = p.integer(s, field, deploy.RetriesRule, deploy.ValidateRetries)
	case "dead_letter":
		ev.deadLetterPos = valuePos(s)
		f.DeadLetter = p.nameRef(s, field, "queue", "")
	case "provisioned":
		ev.provisionedPos = valuePos(s)
		f.Provisioned = p.integer(s, field, "must be an integer between 0 and max_concurrency",
			func(n int) error { return deploy.ValidateProvisioned(n, deploy.MaxConcurrency) })
	}
}

// queueTrigger reads "queue: orders" or "queue: {name: orders, batch_size: 10}".
func (p *parser) queueTrigger(e entry, field, fn string) *apitype.QueueTrigger {
	if _, ok := str(e.value); ok {
		name := p.nameRef(e, field, "queue", fn)
		if name == "" {
			return nil
		}
		return &apitype.QueueTrigger{Name: name, BatchSize: 1}
	}
	settings, ok := p.mapping(e.value, field, "key")
	if !ok {
		p.addf(valuePos(e), field, "must be a queue name or a mapping with name and batch_size, got %s", describe(e.value))
		return nil
	}
	t := &apitype.QueueTrigger{BatchSize: 1}
	sawName := false
	for _, s := range settings {
		sf := join(field, s.key)
		switch s.key {
		case "name":
			sawName = true
			t.Name = p.nameRef(s, sf, "queue", fn)
		case "batch_size":
			if s.value != nil {
				t.BatchSize = p.integer(s, sf, deploy.BatchSizeRule, deploy.ValidateBatchSize)
			}
		default:
			p.unknownKey(s, field, queueTriggerKeys)
		}
	}
	if !sawName {
		p.addf(valuePos(e), field, "needs name: the queue to consume")
		return nil
	}
	return t
}

// checkFunctionEvents checks settings of one function against each other.
func (p *parser) checkFunctionEvents(f *Function, ev *fnEvents, field string) {
	if ev.topicPos.Line > 0 && ev.topicsPos.Line > 0 {
		p.addf(later(ev.topicPos, ev.topicsPos), field, "set either topic or topics, not both")
	}
	if ev.timezonePos.Line > 0 && ev.schedulePos.Line == 0 {
		p.addf(ev.timezonePos, join(field, "timezone"), "a timezone needs a schedule: it says in which zone the schedule's times are")
	}
	if ev.provisionedPos.Line > 0 && f.MaxConcurrency > 0 && f.Provisioned > f.MaxConcurrency {
		p.addf(ev.provisionedPos, join(field, "provisioned"), "%d provisioned instances are more than max_concurrency (%d) allows", f.Provisioned, f.MaxConcurrency)
	}
	if f.Queue != nil && f.DeadLetter != "" && f.Queue.Name == f.DeadLetter {
		p.addf(ev.deadLetterPos, join(field, "dead_letter"), "%q is the queue this function consumes; failed events would come straight back", f.DeadLetter)
	}
}

// routeObject reads the mapping form of a route of function fn.
func (p *parser) routeObject(m *ast.MappingNode, field string, pos Position, fn string) (string, Route, routeOpts, bool) {
	var rt Route
	var ro routeOpts
	text, sawRoute, burstSet := "", false, false
	var burstPos, asyncPos, workflowPos Position
	for _, s := range p.entries(m, field, "key", 0) {
		sf := join(field, s.key)
		switch s.key {
		case "route":
			sawRoute = true
			v, ok := str(s.value)
			if !ok {
				p.addf(valuePos(s), sf, "must be a route like \"GET /hello/{name}\", got %s", describe(s.value))
				return "", rt, ro, false
			}
			text = v
		case "async":
			if s.value != nil {
				asyncPos = s.pos
				rt.Async = p.boolean(s, sf)
			}
		case "workflow":
			if s.value != nil {
				workflowPos = s.pos
				rt.Workflow = p.routeWorkflow(s, sf, fn)
			}
		case "object", "id", "websocket":
			p.routeObjectKey(&rt, &ro, s, sf)
		case "rate_limit":
			if s.value == nil {
				continue
			}
			if r, ok := p.number(s, sf, deploy.RateLimitRule); ok {
				if err := deploy.ValidateRateLimit(r); err != nil {
					p.addf(valuePos(s), sf, "%v", err)
				} else {
					rt.RateLimit = r
				}
			}
		case "burst":
			if s.value == nil {
				continue
			}
			burstSet, burstPos = true, s.pos
			rt.RateBurst = p.integer(s, sf, deploy.BurstRule, deploy.ValidateBurst)
		default:
			p.unknownKey(s, field, routeKeys)
		}
	}
	if !sawRoute {
		p.addf(pos, field, "needs route: the method and path, e.g. \"route: POST /hooks/{id}\"")
		return "", rt, ro, false
	}
	p.checkRouteTargets(&rt, &ro, field, asyncPos, workflowPos)
	if rt.Async && rt.Workflow != "" {
		p.addf(asyncPos, join(field, "async"), "a route that starts a workflow cannot be async: it answers 202 with the execution's id as soon as the execution is stored")
		rt.Async = false
	}
	switch {
	case burstSet && rt.RateLimit == 0:
		p.addf(burstPos, join(field, "burst"), "a burst needs a rate_limit")
		rt.RateBurst = 0
	case rt.RateLimit > 0 && !burstSet:
		rt.RateBurst = deploy.DefaultBurst(rt.RateLimit)
	}
	return text, rt, ro, true
}

// checkRefs checks every queue, topic and secret name used against those declared,
// and what depends on all of them: one consumer per queue, dead-letter
// chains.
func (p *parser) checkRefs(m *Manifest) {
	queues := map[string]Queue{}
	for _, q := range m.Queues {
		queues[q.Name] = q
	}
	topics := map[string]bool{}
	for _, t := range m.Topics {
		topics[t.Name] = true
	}
	slices.SortStableFunc(p.refs, func(a, b ref) int {
		return cmp.Or(cmp.Compare(a.pos.Line, b.pos.Line), cmp.Compare(a.pos.Column, b.pos.Column))
	})
	consumers := map[string]ref{}
	for _, r := range p.refs {
		var known []string
		var ok bool
		switch r.kind {
		case "queue":
			_, ok = queues[r.name]
			for _, q := range m.Queues {
				known = append(known, q.Name)
			}
		case "secret":
			ok = slices.Contains(m.Secrets, r.name)
			known = m.Secrets
		default:
			ok = topics[r.name]
			for _, t := range m.Topics {
				known = append(known, t.Name)
			}
		}
		if !ok {
			p.unknownName(r, known)
			continue
		}
		if r.consumer == "" {
			continue
		}
		if prev, taken := consumers[r.name]; taken {
			p.addf(r.pos, r.field, "queue %q is already consumed by function %q (%s:%s); a queue has one consumer (use a topic to fan out)",
				r.name, prev.consumer, p.file, prev.pos)
			continue
		}
		consumers[r.name] = r
	}
	for _, q := range m.Queues {
		if q.DeadLetter == "" {
			continue
		}
		if _, ok := queues[q.DeadLetter]; !ok {
			continue // reported as an unknown queue
		}
		err := deploy.DeadLetterCheck(q.Name, q.DeadLetter, func(n string) (string, bool) {
			d, ok := queues[n]
			return d.DeadLetter, ok
		})
		if err != nil {
			pos := q.Pos
			for _, r := range p.refs {
				if r.field == "queues."+q.Name+".dead_letter" {
					pos = r.pos
				}
			}
			p.addf(pos, "queues."+q.Name+".dead_letter", "%v", err)
		}
	}
}

func (p *parser) unknownName(r ref, known []string) {
	plural := r.kind + "s"
	switch {
	case len(known) == 0:
		p.addf(r.pos, r.field, "unknown %s %q; this project declares no %s (add it under %s:)", r.kind, r.name, plural, plural)
	case suggest(r.name, known) != "":
		p.addf(r.pos, r.field, "unknown %s %q; did you mean %q?", r.kind, r.name, suggest(r.name, known))
	default:
		p.addf(r.pos, r.field, "unknown %s %q; the project's %s are %s", r.kind, r.name, plural, strings.Join(known, ", "))
	}
}
