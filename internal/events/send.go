package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/trace"
	"github.com/stratahq/strata/sdk/go/wire"
)

// MaxEventBytes caps a message, a published event and an async invoke
// payload: 1 MiB, as Lambda's async payload limit.
const MaxEventBytes = 1 << 20

// ErrTooLarge is returned for events over MaxEventBytes.
var ErrTooLarge = errors.New("event over the 1 MiB limit")

// AsyncQueue is the internal queue holding a function's async invokes and
// scheduled fires.
func AsyncQueue(function string) string { return "_async." + function }

// SendParams is a message to send to a queue or publish to a topic.
type SendParams struct {
	Body        []byte
	ContentType string
	Type        string // CloudEvents type; default "strata.message"
	Source      string // CloudEvents source; default /queues/<name> or /topics/<name>
	Subject     string
	GroupID     string
	DedupID     string
	Delay       time.Duration
	TraceParent string
}

func (p SendParams) message(queue, defSource string) (store.MessageSendParams, string, error) {
	if len(p.Body) > MaxEventBytes {
		return store.MessageSendParams{}, "", fmt.Errorf("%w (%d bytes)", ErrTooLarge, len(p.Body))
	}
	id := newEventID()
	attrs := map[string]string{
		"id":     id,
		"type":   orDefault(p.Type, "strata.message"),
		"source": orDefault(p.Source, defSource),
		"time":   time.Now().UTC().Format(time.RFC3339Nano),
	}
	if p.ContentType != "" {
		attrs["datacontenttype"] = p.ContentType
	}
	if p.Subject != "" {
		attrs["subject"] = p.Subject
	}
	if p.TraceParent != "" {
		attrs["traceparent"] = p.TraceParent
	}
	return store.MessageSendParams{Queue: queue, Body: p.Body, Attributes: attrs, GroupID: p.GroupID, DedupID: p.DedupID, Delay: p.Delay}, id, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Send stores a message durably in a queue and wakes its consumer.
func (e *Engine) Send(ctx context.Context, queue string, p SendParams) (*apitype.SendResult, error) {
	p.TraceParent = trace.HeaderOr(ctx, p.TraceParent)
	m, id, err := p.message(queue, "/queues/"+queue)
	if err != nil {
		return nil, err
	}
	res, err := e.sends.send(ctx, m)
	if err != nil {
		return nil, store.Wrapf(err, "send to queue %s", queue)
	}
	e.Notify(queue)
	return &apitype.SendResult{ID: id, Duplicate: res.Duplicate}, nil
}

// Publish stores one copy of an event for every subscriber of a topic and
// wakes their consumers. It returns how many subscribers got it.
func (e *Engine) Publish(ctx context.Context, topic string, p SendParams) (*apitype.SendResult, int, error) {
	p.TraceParent = trace.HeaderOr(ctx, p.TraceParent)
	m, id, err := p.message("", "/topics/"+topic)
	if err != nil {
		return nil, 0, err
	}
	n, err := e.cfg.Store.TopicPublish(ctx, topic, m)
	if err != nil {
		return nil, 0, store.Wrapf(err, "publish to topic %s", topic)
	}
	if t, err := e.cfg.Store.TopicGet(ctx, topic); err == nil {
		for _, q := range t.Queues {
			e.Notify(q)
		}
	}
	return &apitype.SendResult{ID: id}, n, nil
}

// InvokeAsync stores an HTTP request for a function durably and returns its
// event id; the function runs it later (retried on failure, then sent to its
// dead-letter queue). Accepted means stored: it survives a crash.
func (e *Engine) InvokeAsync(ctx context.Context, function string, req *wire.Request, traceParent string) (*apitype.SendResult, error) {
	return e.invokeAsync(ctx, function, req, traceParent, false)
}

// InvokeAsyncPayload is InvokeAsync for a Lambda Invoke API payload
// (InvocationType Event): req is a POST / whose body is the payload, and a
// function with events: lambda gets it as it is, as Lambda hands an
// asynchronous invocation's payload to its handler, where InvokeAsync's
// request reaches such a function as an API Gateway event.
func (e *Engine) InvokeAsyncPayload(ctx context.Context, function string, req *wire.Request, traceParent string) (*apitype.SendResult, error) {
	return e.invokeAsync(ctx, function, req, traceParent, true)
}

func (e *Engine) invokeAsync(ctx context.Context, function string, req *wire.Request, traceParent string, direct bool) (*apitype.SendResult, error) {
	body := wire.AppendRequest(nil, req)
	if len(body) > MaxEventBytes {
		return nil, fmt.Errorf("%w: async request of %d bytes", ErrTooLarge, len(req.Body))
	}
	queue := AsyncQueue(function)
	// The span in ctx (the gateway's request span) is the parent the
	// invocation joins when it runs; the caller's header is the fallback.
	traceParent = trace.HeaderOr(ctx, traceParent)
	id := newEventID()
	attrs := map[string]string{
		"id": id, "type": "strata.invoke", "source": "/functions/" + function,
		"time": time.Now().UTC().Format(time.RFC3339Nano), attrEncoding: encodingRequest,
	}
	if traceParent != "" {
		attrs["traceparent"] = traceParent
	}
	if direct {
		attrs[attrPayload] = payloadDirect
	}
	_, err := e.sends.send(ctx, store.MessageSendParams{Queue: queue, Body: body, Attributes: attrs})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("function %s is not deployed: %w", function, err)
		}
		return nil, fmt.Errorf("store async invoke of %s: %w", function, err)
	}
	e.Notify(queue)
	return &apitype.SendResult{ID: id}, nil
}
