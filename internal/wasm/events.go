package wasm

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/stratahq/strata/sdk/go/wire"
)

// EventSink delivers the events guests send (strata_v1.event_send). The
// composition root implements it on top of the events engine, checking that
// the caller may use the queue or topic; the runtime only moves bytes.
type EventSink interface {
	// SendEvent stores ev durably and returns its event id. ctx is the
	// invocation's (it carries the deadline). The error's text reaches the
	// guest, so it should say what to fix and hold nothing secret.
	SendEvent(ctx context.Context, ev OutboundEvent) (id string, err error)
}

// EventSinkFunc is an EventSink made of a function, for a composition
// root whose events engine is built after the runtime (see FlowFunc).
type EventSinkFunc func(ctx context.Context, ev OutboundEvent) (id string, err error)

// SendEvent implements EventSink.
func (f EventSinkFunc) SendEvent(ctx context.Context, ev OutboundEvent) (string, error) {
	return f(ctx, ev)
}

// OutboundEvent is one event a guest sends.
type OutboundEvent struct {
	Caller       string // the sending function (ModuleSpec.Function)
	Topic        bool   // publish to a topic; false sends to a queue
	Name         string // the queue or topic
	Body         []byte // owned by the sink
	Options      wire.EventOptions
	InvocationID string // the sending invocation
	TraceParent  string // the sending invocation's traceparent, to continue the trace
}

// ErrNoEvents is the error a guest sees when the runtime has no EventSink.
var ErrNoEvents = errors.New("sending events is not available on this host (runtime.Config.Events is not set)")

// Results of event_send (docs/ABI.md). On a negative result the host sets
// the result text to the reason.
const (
	eventOK      = 0
	eventInvalid = -1 // outside an invocation, a range outside memory, a bad kind, name or options
	eventFailed  = -2 // the host refused or could not store the event
)

// maxEventName bounds a queue or topic name read from the guest.
const maxEventName = 1024

// eventSend implements strata_v1.event_send(kind, name_ptr, name_len,
// body_ptr, body_len, opts_ptr, opts_len) -> i32.
func eventSend(ctx context.Context, mod api.Module, stack []uint64) {
	i, _ := ctx.Value(invocationKey{}).(*Instance)
	if i == nil {
		stack[0] = api.EncodeI32(eventInvalid)
		return
	}
	if i.cpu.pause() {
		defer i.cpu.resume() // the send waits for the store: not the guest's CPU time
	}
	code, text := i.sendEvent(ctx, mod.Memory(), stack)
	i.result = append(i.result[:0], text...)
	stack[0] = api.EncodeI32(code)
}

func (i *Instance) sendEvent(ctx context.Context, mem api.Memory, stack []uint64) (int32, string) {
	kind := api.DecodeI32(stack[0])
	namePtr, nameLen := api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
	bodyPtr, bodyLen := api.DecodeU32(stack[3]), api.DecodeU32(stack[4])
	optsPtr, optsLen := api.DecodeU32(stack[5]), api.DecodeU32(stack[6])
	if kind != 0 && kind != 1 {
		return eventInvalid, fmt.Sprintf("event_send: kind %d (want 0 for a queue, 1 for a topic)", kind)
	}
	if nameLen == 0 || nameLen > maxEventName {
		return eventInvalid, fmt.Sprintf("event_send: name of %d bytes (want 1..%d)", nameLen, maxEventName)
	}
	name, ok := mem.Read(namePtr, nameLen)
	if !ok {
		return eventInvalid, "event_send: name outside guest memory"
	}
	body, ok := mem.Read(bodyPtr, bodyLen)
	if !ok {
		return eventInvalid, "event_send: body outside guest memory"
	}
	optBytes, ok := mem.Read(optsPtr, optsLen)
	if !ok {
		return eventInvalid, "event_send: options outside guest memory"
	}
	opts, err := wire.DecodeEventOptions(optBytes)
	if err != nil {
		return eventInvalid, "event_send: " + err.Error()
	}
	sink := i.m.r.cfg.Events
	if sink == nil {
		return eventFailed, ErrNoEvents.Error()
	}
	ev := OutboundEvent{
		Caller: i.m.function, Topic: kind == 1, Name: string(name),
		// The views alias guest memory, which the guest may reuse at once.
		Body:    append([]byte(nil), body...),
		Options: *opts, InvocationID: i.invocationID, TraceParent: i.traceParent,
	}
	id, err := SendEvent(ctx, i.m.r.cfg.Tracer, i.call, sink, ev)
	if err != nil {
		return eventFailed, err.Error()
	}
	return eventOK, id
}

// resultLen implements strata_v1.result_len() -> i32: the length of the
// text the last host call of this invocation left (an event id or an
// error message), or -1 outside an invocation.
func resultLen(ctx context.Context, _ api.Module, stack []uint64) {
	i, _ := ctx.Value(invocationKey{}).(*Instance)
	if i == nil {
		stack[0] = api.EncodeI32(-1)
		return
	}
	stack[0] = api.EncodeI32(int32(len(i.result)))
}

// resultRead implements strata_v1.result_read(ptr, len) -> i32: copies
// min(len, result_len) bytes of the last result to ptr and returns the
// count, or -1 outside an invocation or memory.
func resultRead(ctx context.Context, mod api.Module, stack []uint64) {
	i, _ := ctx.Value(invocationKey{}).(*Instance)
	if i == nil {
		stack[0] = api.EncodeI32(-1)
		return
	}
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	if int(n) > len(i.result) {
		n = uint32(len(i.result))
	}
	if !mod.Memory().Write(ptr, i.result[:n]) {
		stack[0] = api.EncodeI32(-1)
		return
	}
	stack[0] = api.EncodeI32(int32(n))
}

// functionOf derives the function from a module name "fn@3" when the
// ModuleSpec does not name it.
func functionOf(name string) string {
	if i := strings.LastIndexByte(name, '@'); i > 0 {
		return name[:i]
	}
	return name
}
