package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Sources a function can be tried with (`strata invoke FN --event SOURCE`).
const (
	SourceQueue    = "queue"
	SourceTopic    = "topic"
	SourceSchedule = "schedule"
)

// ErrNoSource marks a try that names a source the function does not
// consume (the admin API answers 400). errors.Is finds it in every
// sourceError, whose text is the whole message.
var ErrNoSource = errors.New("no such event source")

type sourceError struct{ msg string }

func (e *sourceError) Error() string        { return e.msg }
func (e *sourceError) Is(target error) bool { return target == ErrNoSource }

func sourceErrorf(format string, args ...any) error {
	return &sourceError{fmt.Sprintf(format, args...)}
}

// TryParams asks for the request a function would get from one of its
// event sources, so it can be run by hand.
type TryParams struct {
	Function    string
	Source      string // SourceQueue, SourceTopic or SourceSchedule
	Name        string // the queue, topic or schedule; "" when the function has exactly one
	Data        []byte // nil or empty: a sample
	ContentType string // of Data; JSON is assumed when Data is JSON
}

// Try is the request built by TryRequest and the trigger it is metered as.
type Try struct {
	Request *wire.Request
	Trigger string
	EventID string
	// Shaper gives a function with events: lambda the same Lambda event
	// as a delivery (an SQS record, an EventBridge scheduled event).
	Shaper invoke.Shaper
}

// SampleData is what a try carries when no data is given: small JSON with
// a positive id, so consumers that check for one (the examples do) accept it.
func SampleData(source string) []byte {
	return fmt.Appendf(nil, `{"id":1,"sample":true,"note":"sample %s event from strata invoke"}`, source)
}

// TryRequest builds the request p.Function would get from the source: the
// same CloudEvents attributes and headers as a delivery (one event in
// binary mode, or a JSON batch for a consumer with batch_size > 1), and
// for a schedule the same data as a scheduled fire at now. Only sources the
// function consumes can be named, so whoever may invoke the function
// learns nothing about other projects' queues.
func (e *Engine) TryRequest(ctx context.Context, p TryParams) (*Try, error) {
	now := e.cfg.Clock.Now()
	if len(p.Data) > MaxEventBytes {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, len(p.Data))
	}
	var q record.QueueConfig
	var m record.Message
	trigger := p.Source
	switch p.Source {
	case SourceQueue, SourceTopic:
		var err error
		q, m, err = e.tryQueue(ctx, p)
		if err != nil {
			return nil, err
		}
	case SourceSchedule:
		s, err := e.pickSchedule(ctx, p.Function, p.Name)
		if err != nil {
			return nil, err
		}
		qc, err := e.cfg.Store.QueueGet(ctx, AsyncQueue(p.Function))
		if err != nil {
			return nil, err
		}
		q = *qc
		sm := scheduleMessage(s, now, 0)
		m = record.Message{Queue: q.Name, Body: sm.Body, Attributes: sm.Attributes}
		if len(p.Data) > 0 {
			m.Body = p.Data
		}
	default:
		return nil, sourceErrorf("event source %q: want queue, topic or schedule", p.Source)
	}
	m.SentAt, m.ReceiveCount = now, 1
	var req *wire.Request
	var err error
	if q.BatchSize > 1 {
		req, err = batchRequest(q.Name, []record.Message{m})
	} else {
		req, err = singleRequest(m)
	}
	if err != nil {
		return nil, err
	}
	return &Try{Request: req, Trigger: trigger, EventID: m.Attributes["id"],
		Shaper: &deliveryShaper{q: q, msgs: []record.Message{m}}}, nil
}

// tryQueue finds the queue the function consumes for a queue or topic try
// and the message a send to it would store.
func (e *Engine) tryQueue(ctx context.Context, p TryParams) (record.QueueConfig, record.Message, error) {
	qs, err := e.cfg.Store.QueueList(ctx)
	if err != nil {
		return record.QueueConfig{}, record.Message{}, err
	}
	kind := record.QueueUser
	if p.Source == SourceTopic {
		kind = record.QueueTopic
	}
	var topics []record.TopicConfig
	if kind == record.QueueTopic {
		if topics, err = e.cfg.Store.TopicList(ctx); err != nil {
			return record.QueueConfig{}, record.Message{}, err
		}
	}
	// name is what the user calls the source: the queue, or the topic
	// behind a subscription queue.
	name := func(q record.QueueConfig) string {
		if kind == record.QueueUser {
			return q.Name
		}
		for _, t := range topics {
			if slices.Contains(t.Queues, q.Name) {
				return t.Name
			}
		}
		return ""
	}
	var found []record.QueueConfig
	var names []string
	for _, q := range qs {
		if q.Kind == kind && q.Consumer == p.Function {
			found = append(found, q)
			names = append(names, name(q))
		}
	}
	q, err := pick(p.Function, p.Source, p.Name, found, names)
	if err != nil {
		return record.QueueConfig{}, record.Message{}, err
	}
	data, ct := p.Data, p.ContentType
	if len(data) == 0 {
		data, ct = SampleData(p.Source), "application/json"
	}
	if ct == "" && json.Valid(data) {
		ct = "application/json"
	}
	source := "/queues/" + q.Name
	if kind == record.QueueTopic {
		source = "/topics/" + name(q)
	}
	sp := SendParams{Body: data, ContentType: ct, Source: source}
	msg, _, err := sp.message(q.Name, source)
	if err != nil {
		return record.QueueConfig{}, record.Message{}, err
	}
	return q, record.Message{Queue: q.Name, Body: msg.Body, Attributes: msg.Attributes}, nil
}

// pick chooses the one source named, or the only one there is.
func pick[T any](fn, source, want string, found []T, names []string) (T, error) {
	var zero T
	if want != "" {
		for i, n := range names {
			if n == want {
				return found[i], nil
			}
		}
	}
	switch {
	case len(found) == 0:
		return zero, sourceErrorf("function %s is not triggered by any %s (its %s: in strata.yaml)", fn, source, source)
	case want != "":
		return zero, sourceErrorf("function %s is not triggered by %s %q; its %s: %s", fn, source, want, plural(source, len(names)), strings.Join(names, ", "))
	case len(found) > 1:
		return zero, sourceErrorf("function %s is triggered by %d %s (%s); name one with --%s", fn, len(found), plural(source, len(found)), strings.Join(names, ", "), source)
	}
	return found[0], nil
}

func plural(s string, n int) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

func (e *Engine) pickSchedule(ctx context.Context, fn, want string) (record.Schedule, error) {
	ss, err := e.cfg.Store.ScheduleList(ctx)
	if err != nil {
		return record.Schedule{}, err
	}
	var found []record.Schedule
	var names []string
	for _, s := range ss {
		if s.Function == fn {
			found = append(found, s)
			names = append(names, s.Name)
		}
	}
	return pick(fn, SourceSchedule, want, found, names)
}

// FireNow fires a schedule at once, as its next tick would: the same event
// (type strata.schedule, source /schedules/NAME, scheduled_time now) in the
// function's async queue, so it runs, is retried, metered and logged like
// any fire. The schedule's own next fire time is left as it is.
func (e *Engine) FireNow(ctx context.Context, s record.Schedule) (*apitype.SendResult, error) {
	msg := scheduleMessage(s, e.cfg.Clock.Now(), 0)
	if _, err := e.sends.send(ctx, msg); err != nil {
		return nil, fmt.Errorf("fire schedule %s: %w", s.Name, err)
	}
	e.Notify(msg.Queue)
	return &apitype.SendResult{ID: msg.Attributes["id"]}, nil
}

// scheduleMessage is the event of a fire of s scheduled for due.
func scheduleMessage(s record.Schedule, due time.Time, skipped int) store.MessageSendParams {
	return store.MessageSendParams{
		Queue: AsyncQueue(s.Function),
		Attributes: map[string]string{
			"id":              newEventID(),
			"type":            TypeSchedule,
			"source":          "/schedules/" + s.Name,
			"time":            due.UTC().Format(time.RFC3339),
			"subject":         s.Spec,
			"datacontenttype": "application/json",
		},
		Body: fmt.Appendf(nil, `{"schedule":%q,"spec":%q,"timezone":%q,"scheduled_time":%q,"skipped":%d}`,
			s.Name, s.Spec, s.Timezone, due.UTC().Format(time.RFC3339), skipped),
	}
}
