package strata

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stratahq/strata/sdk/go/internal/hostcall"
	"github.com/stratahq/strata/sdk/go/wire"
)

// hostMu keeps a host call and the read of its result text together when a
// handler sends from several goroutines; it is shared with the binding
// packages (db, kv, fetch, secrets), which use the same result text.
var hostMu = &hostcall.Mu

// SendOption sets an optional attribute of an event sent with Send or
// Publish.
type SendOption func(*wire.EventOptions)

// WithType sets the CloudEvents type (default "strata.message").
func WithType(t string) SendOption { return func(o *wire.EventOptions) { o.Type = t } }

// WithSubject sets the CloudEvents subject.
func WithSubject(s string) SendOption { return func(o *wire.EventOptions) { o.Subject = s } }

// WithContentType sets the media type of the data (CloudEvents
// datacontenttype). SendJSON and PublishJSON set application/json.
func WithContentType(ct string) SendOption {
	return func(o *wire.EventOptions) { o.ContentType = ct }
}

// WithGroup sets the message group of a FIFO queue: messages of one group
// are delivered in order.
func WithGroup(id string) SendOption { return func(o *wire.EventOptions) { o.GroupID = id } }

// WithDedupID sets a deduplication id: a second message with the same id
// within the queue's deduplication window is accepted but not stored again.
func WithDedupID(id string) SendOption { return func(o *wire.EventOptions) { o.DedupID = id } }

// WithDelay delays delivery by d (rounded up to whole milliseconds).
func WithDelay(d time.Duration) SendOption {
	return func(o *wire.EventOptions) {
		if d < 0 {
			o.DelayMS = -1 // rejected by Send with a clear error
			return
		}
		o.DelayMS = int64((d + time.Millisecond - 1) / time.Millisecond)
	}
}

// SendError is a send or publish the host refused or could not complete:
// an unknown queue or topic, one of another project, an oversized body.
// Message is the host's explanation.
type SendError struct {
	Topic   bool   // Publish (true) or Send (false)
	Name    string // the queue or topic
	Message string
}

func (e *SendError) Error() string {
	if e.Topic {
		return fmt.Sprintf("strata: publish to topic %s: %s", e.Name, e.Message)
	}
	return fmt.Sprintf("strata: send to queue %s: %s", e.Name, e.Message)
}

// Send stores data durably as a message in a queue of the function's
// project and returns the message's event id. The queue's consumer (if any)
// receives it as a CloudEvent. Call it while handling an invocation.
func Send(ctx context.Context, queue string, data []byte, opts ...SendOption) (string, error) {
	return sendEvent(ctx, false, queue, data, nil, opts)
}

// Publish stores one copy of an event for every subscriber of a topic of
// the function's project and returns the event id.
func Publish(ctx context.Context, topic string, data []byte, opts ...SendOption) (string, error) {
	return sendEvent(ctx, true, topic, data, nil, opts)
}

// SendJSON sends v encoded as JSON, with content type application/json
// unless an option sets another.
func SendJSON(ctx context.Context, queue string, v any, opts ...SendOption) (string, error) {
	return sendJSON(ctx, false, queue, v, opts)
}

// PublishJSON publishes v encoded as JSON, with content type
// application/json unless an option sets another.
func PublishJSON(ctx context.Context, topic string, v any, opts ...SendOption) (string, error) {
	return sendJSON(ctx, true, topic, v, opts)
}

func sendJSON(ctx context.Context, topic bool, name string, v any, opts []SendOption) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", &SendError{Topic: topic, Name: name, Message: "encode JSON: " + err.Error()}
	}
	return sendEvent(ctx, topic, name, data, &wire.EventOptions{ContentType: "application/json"}, opts)
}

// optsBuf holds the encoded options between calls (one invocation runs at
// a time per instance; hostSend serialises the host calls).
var optsBuf []byte

func sendEvent(ctx context.Context, topic bool, name string, data []byte, base *wire.EventOptions, opts []SendOption) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	var o wire.EventOptions
	if base != nil {
		o = *base
	}
	for _, opt := range opts {
		opt(&o)
	}
	if name == "" {
		return "", &SendError{Topic: topic, Name: name, Message: "empty name"}
	}
	if o.DelayMS < 0 {
		return "", &SendError{Topic: topic, Name: name, Message: "negative delay"}
	}
	hostMu.Lock()
	defer hostMu.Unlock()
	optsBuf = wire.AppendEventOptions(optsBuf[:0], &o)
	id, msg, ok := hostSend(topic, name, data, optsBuf)
	if !ok {
		return "", &SendError{Topic: topic, Name: name, Message: msg}
	}
	return id, nil
}
