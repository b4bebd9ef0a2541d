package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/events"
	"github.com/stratahq/strata/internal/gateway"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/schedule"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Events is what the API needs from the events engine.
type Events interface {
	Send(ctx context.Context, queue string, p events.SendParams) (*apitype.SendResult, error)
	Publish(ctx context.Context, topic string, p events.SendParams) (*apitype.SendResult, int, error)
	InvokeAsync(ctx context.Context, function string, req *wire.Request, traceParent string) (*apitype.SendResult, error)
	// TryRequest builds the request a function would get from one of its
	// event sources (strata invoke --event).
	TryRequest(ctx context.Context, p events.TryParams) (*events.Try, error)
	// FireNow fires a schedule at once, as a tick would.
	FireNow(ctx context.Context, s record.Schedule) (*apitype.SendResult, error)
	Reconcile(ctx context.Context) error
	// Notify wakes the consumer of a queue this node just filled.
	Notify(queue string)
}

func (a *API) routeEvents() {
	a.handle("GET /queues", a.queues)
	a.handle("GET /queues/{name}", a.queue)
	a.handle("POST /queues/{name}/messages", a.queueSend)
	// Peeking reads a queue's data: a project token may, on its own
	// project's queues only (QueueProject).
	a.handleScoped("GET /queues/{name}/messages", QueueProject("name"), a.queuePeek)
	a.handle("POST /queues/{name}/redrive", a.queueRedrive)
	a.handle("GET /topics", a.topics)
	a.handle("POST /topics/{name}/messages", a.topicPublish)
	a.handle("GET /schedules", a.schedules)
	a.handleScoped("POST /schedules/{name}/fire", ScheduleProject("name"), a.scheduleFire)
}

func (a *API) queueInfo(ctx context.Context, q record.QueueConfig) (apitype.QueueInfo, error) {
	st, err := a.cfg.Store.QueueStats(ctx, q.Name)
	if err != nil {
		return apitype.QueueInfo{}, fmt.Errorf("stats of queue %s: %w", q.Name, err)
	}
	return apitype.QueueInfo{QueueConfig: q, Visible: st.Visible, InFlight: st.InFlight, Delayed: st.Delayed, OldestSent: st.OldestSent}, nil
}

func (a *API) queues(w http.ResponseWriter, r *http.Request) error {
	qs, err := a.cfg.Store.QueueList(r.Context())
	if err != nil {
		return err
	}
	all, _ := strconv.ParseBool(r.URL.Query().Get("all"))
	out := []apitype.QueueInfo{}
	for _, q := range qs {
		if q.Kind != record.QueueUser && !all {
			continue // internal queues are shown with ?all=true
		}
		info, err := a.queueInfo(r.Context(), q)
		if err != nil {
			return err
		}
		out = append(out, info)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) queue(w http.ResponseWriter, r *http.Request) error {
	q, err := a.cfg.Store.QueueGet(r.Context(), r.PathValue("name"))
	if err != nil {
		return err // the store names the queue
	}
	info, err := a.queueInfo(r.Context(), *q)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, info)
}

// sendParams reads an event to send from a request: the body is the data,
// Content-Type its type, and optional headers carry the rest.
func sendParams(w http.ResponseWriter, r *http.Request) (events.SendParams, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, events.MaxEventBytes))
	if err != nil {
		return events.SendParams{}, gateway.Errorf(http.StatusRequestEntityTooLarge, "event over the %d byte limit", events.MaxEventBytes)
	}
	p := events.SendParams{
		Body:        body,
		ContentType: r.Header.Get("Content-Type"),
		Type:        r.Header.Get(apitype.HeaderEventType),
		Source:      r.Header.Get(apitype.HeaderEventSource),
		Subject:     r.Header.Get(apitype.HeaderEventSubject),
		GroupID:     r.Header.Get(apitype.HeaderGroupID),
		DedupID:     r.Header.Get(apitype.HeaderDedupID),
		TraceParent: r.Header.Get("Traceparent"),
	}
	if d := r.Header.Get(apitype.HeaderDelay); d != "" {
		delay, err := time.ParseDuration(d)
		if err != nil || delay < 0 || delay > 15*time.Minute {
			return p, gateway.Errorf(http.StatusBadRequest, "X-Strata-Delay %q: want a duration from 0 to 15m", d)
		}
		p.Delay = delay
	}
	return p, nil
}

func (a *API) queueSend(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	p, err := sendParams(w, r)
	if err != nil {
		return err
	}
	res, err := a.cfg.Events.Send(r.Context(), name, p)
	if err != nil {
		return eventErr(err)
	}
	return writeJSON(w, http.StatusCreated, res)
}

// eventErr gives event errors their status.
func eventErr(err error) error {
	if errors.Is(err, events.ErrTooLarge) {
		return &gateway.StatusError{Code: http.StatusRequestEntityTooLarge, Err: err}
	}
	return err
}

func (a *API) queuePeek(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return gateway.Errorf(http.StatusBadRequest, "limit must be 1..1000")
		}
		limit = n
	}
	if _, err := a.cfg.Store.QueueGet(r.Context(), name); err != nil {
		return err
	}
	ms, err := a.cfg.Store.MessagePeek(r.Context(), name, limit)
	if err != nil {
		return err
	}
	out := []apitype.MessageInfo{}
	for _, m := range ms {
		mi := apitype.MessageInfo{ID: m.ID, EventID: m.Attributes["id"], Attributes: m.Attributes, SentAt: m.SentAt,
			ReceiveCount: m.ReceiveCount, LastError: m.LastError}
		if utf8.Valid(m.Body) {
			mi.Body = string(m.Body)
		} else {
			mi.BodyBase64 = m.Body
		}
		out = append(out, mi)
	}
	return writeJSON(w, http.StatusOK, out)
}

// queueRedrive moves a dead-letter queue's messages back. Without "to", each
// message goes back to the queue it came from (its source_queue attribute),
// so one DLQ shared by several functions redrives correctly.
func (a *API) queueRedrive(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	var body apitype.RedriveRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		return gateway.Errorf(http.StatusBadRequest, "redrive wants {\"to\": \"queue\", \"max\": N}: %v", err)
	}
	ctx := r.Context()
	if _, err := a.cfg.Store.QueueGet(ctx, name); err != nil {
		return err
	}
	if body.To != "" {
		if _, err := a.cfg.Store.QueueGet(ctx, body.To); err != nil {
			return err // the store names the queue
		}
	}
	moved, err := a.cfg.Store.QueueRedrive(ctx, name, body.To, body.Max)
	if err != nil {
		return err
	}
	// Wake the consumers of wherever the messages went.
	if body.To != "" {
		a.notify(body.To)
	} else if qs, err := a.cfg.Store.QueueList(ctx); err == nil {
		// Each message went back to its own source queue.
		for _, q := range qs {
			a.notify(q.Name)
		}
	}
	return writeJSON(w, http.StatusOK, apitype.RedriveResult{Moved: moved})
}

func (a *API) notify(queue string) { a.cfg.Events.Notify(queue) }

func (a *API) topics(w http.ResponseWriter, r *http.Request) error {
	ts, err := a.cfg.Store.TopicList(r.Context())
	if err != nil {
		return err
	}
	if ts == nil {
		ts = []record.TopicConfig{}
	}
	return writeJSON(w, http.StatusOK, ts)
}

func (a *API) topicPublish(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	p, err := sendParams(w, r)
	if err != nil {
		return err
	}
	res, n, err := a.cfg.Events.Publish(r.Context(), name, p)
	if err != nil {
		return eventErr(err)
	}
	return writeJSON(w, http.StatusAccepted, apitype.PublishResult{ID: res.ID, Subscribers: n})
}

func (a *API) schedules(w http.ResponseWriter, r *http.Request) error {
	ss, err := a.cfg.Store.ScheduleList(r.Context())
	if err != nil {
		return err
	}
	out := []apitype.ScheduleInfo{}
	for _, s := range ss {
		info := apitype.ScheduleInfo{Name: s.Name, Function: s.Function, Spec: s.Spec, Timezone: s.Timezone, Next: []time.Time{s.NextFire}}
		if sc, err := schedule.Parse(s.Spec, s.Timezone); err == nil {
			t := s.NextFire
			for len(info.Next) < 5 {
				t = sc.Next(t)
				if t.IsZero() {
					break
				}
				info.Next = append(info.Next, t)
			}
		}
		out = append(out, info)
	}
	return writeJSON(w, http.StatusOK, out)
}

// scheduleFire fires a schedule now: the event goes through the function's
// async queue like a tick's, so it is retried, metered and logged the same.
func (a *API) scheduleFire(w http.ResponseWriter, r *http.Request) error {
	s, err := a.scheduleGet(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	res, err := a.cfg.Events.FireNow(r.Context(), *s)
	if err != nil {
		return err
	}
	a.cfg.Logger.Info("schedule fired by hand", "schedule", s.Name, "function", s.Function, "event", res.ID)
	return writeJSON(w, http.StatusAccepted, apitype.ScheduleFireResult{ID: res.ID, Schedule: s.Name, Function: s.Function})
}

func (a *API) scheduleGet(ctx context.Context, name string) (*record.Schedule, error) {
	ss, err := a.cfg.Store.ScheduleList(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		if s.Name == name {
			return &s, nil
		}
	}
	return nil, gateway.Errorf(http.StatusNotFound, "schedule %q not found (strata schedules lists them)", name)
}

// invokeEvent runs a function once with the request one of its event
// sources would send it, the data (or a sample) wrapped as that source's
// CloudEvent. The function's own project is checked by the route
// (FunctionProject); TryRequest only looks at sources the function
// consumes.
func (a *API) invokeEvent(w http.ResponseWriter, r *http.Request, name, source, sourceName string) error {
	if _, err := a.cfg.Store.FunctionGet(r.Context(), name); err != nil {
		return err
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, events.MaxEventBytes))
	if err != nil {
		return gateway.Errorf(http.StatusRequestEntityTooLarge, "event over the %d byte limit", events.MaxEventBytes)
	}
	try, err := a.cfg.Events.TryRequest(r.Context(), events.TryParams{
		Function: name, Source: source, Name: sourceName,
		Data: data, ContentType: r.Header.Get("Content-Type"),
	})
	switch {
	case errors.Is(err, events.ErrNoSource):
		return &gateway.StatusError{Code: http.StatusBadRequest, Err: err}
	case err != nil:
		return eventErr(err)
	}
	if tp := r.Header.Get("Traceparent"); tp != "" {
		try.Request.Headers = append(try.Request.Headers, wire.Header{Name: "Traceparent", Values: []string{tp}})
	}
	w.Header().Set(apitype.HeaderEventID, try.EventID)
	a.cfg.Gateway.InvokeEvent(w, r, name, try.Request, try.Trigger, try.Shaper)
	return nil
}

// invokeAsync stores a direct invoke for later and answers 202 with its id.
func (a *API) invokeAsync(w http.ResponseWriter, r *http.Request, name string, req *wire.Request) error {
	if _, err := a.cfg.Store.FunctionGet(r.Context(), name); err != nil {
		return err // the store names the function
	}
	res, err := a.cfg.Events.InvokeAsync(r.Context(), name, req, r.Header.Get("Traceparent"))
	if err != nil {
		return eventErr(err)
	}
	return writeJSON(w, http.StatusAccepted, res)
}
