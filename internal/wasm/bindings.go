package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero/api"

	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Bindings serves the binding calls guests make (strata_v1.binding_call):
// SQL, KV, outbound fetch and secrets. The composition root passes
// *bindings.Bindings; the runtime only decodes requests, encodes answers
// and moves the bytes. ctx is the invocation's (it carries the deadline);
// c is the calling invocation (Env.Call, nil outside one), whose
// function's bindings say what the call may reach.
//
// An error's text reaches the guest, so it should say what to fix and hold
// nothing secret. Errors the database itself reports travel inside
// SQLResponse.Error, not as an error.
type Bindings interface {
	SQL(ctx context.Context, c *host.Call, req wire.SQLRequest) (*wire.SQLResponse, error)
	KV(ctx context.Context, c *host.Call, req wire.KVRequest) (*wire.KVResponse, error)
	Fetch(ctx context.Context, c *host.Call, req wire.FetchRequest) (*wire.FetchResponse, error)
	Secret(ctx context.Context, c *host.Call, name string) ([]byte, error)
}

// Flow serves strata_v1.binding_call op 5 (internal/flow). c is the
// calling invocation (nil outside one): its project bounds the
// executions it reaches, and c.Workflow is the run or activity it works
// for.
type Flow interface {
	Flow(ctx context.Context, c *host.Call, req wire.FlowRequest) (*wire.FlowResponse, error)
}

// FlowFunc is a Flow made of a function. A composition root whose flow
// engine is built after the runtime (the engine runs functions on it)
// gives the runtime a FlowFunc that forwards to the engine's handler.
type FlowFunc func(ctx context.Context, c *host.Call, req wire.FlowRequest) (*wire.FlowResponse, error)

// Flow implements Flow.
func (f FlowFunc) Flow(ctx context.Context, c *host.Call, req wire.FlowRequest) (*wire.FlowResponse, error) {
	return f(ctx, c, req)
}

// Objects serves strata_v1.binding_call op 6 (internal/objects). c is the
// calling invocation (nil outside one): its project bounds the objects
// and connections it reaches, and c.Object is the object it runs for.
type Objects interface {
	Object(ctx context.Context, c *host.Call, req wire.ObjectRequest) (*wire.ObjectResponse, error)
}

// ObjectsFunc is an Objects made of a function, for a composition root
// whose objects engine is built after the runtime.
type ObjectsFunc func(ctx context.Context, c *host.Call, req wire.ObjectRequest) (*wire.ObjectResponse, error)

// Object implements Objects.
func (f ObjectsFunc) Object(ctx context.Context, c *host.Call, req wire.ObjectRequest) (*wire.ObjectResponse, error) {
	return f(ctx, c, req)
}

// ErrNoObjects is the error a guest sees when the runtime has no Objects.
var ErrNoObjects = errors.New("durable objects are not available on this host (runtime.Config.Objects is not set)")

// ErrNoFlow is the error a guest sees when the runtime has no Flow.
var ErrNoFlow = errors.New("workflows are not available on this host (runtime.Config.Flow is not set)")

// ErrNoBindings is the error a guest sees when the runtime has no Bindings.
var ErrNoBindings = errors.New("bindings (sql, kv, fetch, secrets) are not available on this host (runtime.Config.Bindings is not set)")

// Binding families of binding_call's op (docs/ABI.md).
const (
	BindingSQL    = 1
	BindingKV     = 2
	BindingFetch  = 3
	BindingSecret = 4
	BindingFlow   = 5
	BindingObject = 6
)

// Results of binding_call. On 0 the result text is the answer; on a
// negative result it is the reason.
const (
	bindingOK      = 0
	bindingInvalid = -1 // outside an invocation, a range outside memory, an unknown op, a request that does not decode
	bindingFailed  = -2 // the host refused or failed the call
)

// maxBindingRequest bounds the request a guest may hand the host: a fetch
// body of 6 MiB is 8 MiB in base64, plus headers. The bindings enforce
// their own, smaller limits on what is inside.
const maxBindingRequest = 12 << 20

// keepResult is the largest result buffer an instance keeps between
// invocations; a fetch body or a large SQL result is dropped after use so
// idle instances do not pin megabytes.
const keepResult = 64 << 10

// bindingCall implements strata_v1.binding_call(op, req_ptr, req_len) -> i32.
func bindingCall(ctx context.Context, mod api.Module, stack []uint64) {
	i, _ := ctx.Value(invocationKey{}).(*Instance)
	if i == nil {
		stack[0] = api.EncodeI32(bindingInvalid)
		return
	}
	if i.cpu.pause() {
		// The call waits (a query, a fetch, another object): not the
		// guest's CPU time.
		defer i.cpu.resume()
	}
	stack[0] = api.EncodeI32(i.callBinding(ctx, mod.Memory(), stack))
}

// resultAppender lets a json.Encoder write straight into the instance's
// result buffer, which is reused across calls.
type resultAppender struct{ buf *[]byte }

func (a resultAppender) Write(p []byte) (int, error) {
	*a.buf = append(*a.buf, p...)
	return len(p), nil
}

// callBinding runs one binding call and leaves its answer or its error in
// i.result. A failed call is an ordinary result for the guest: nothing
// here breaks the instance.
func (i *Instance) callBinding(ctx context.Context, mem api.Memory, stack []uint64) int32 {
	op := api.DecodeI32(stack[0])
	ptr, n := api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
	fail := func(code int32, format string, args ...any) int32 {
		i.result = fmt.Appendf(i.result[:0], format, args...)
		return code
	}
	if n > maxBindingRequest {
		return fail(bindingInvalid, "binding_call: request of %d bytes (at most %d)", n, maxBindingRequest)
	}
	// A view of guest memory, not a copy: the guest is blocked in this
	// call, and decoding copies what it keeps.
	req, ok := mem.Read(ptr, n)
	if !ok {
		return fail(bindingInvalid, "binding_call: request outside guest memory")
	}
	b := i.m.r.cfg.Bindings
	var resp any
	var err error
	switch op {
	case BindingSQL:
		var r wire.SQLRequest
		if err := json.Unmarshal(req, &r); err != nil {
			return fail(bindingInvalid, "binding_call: decode SQL request: %v", err)
		}
		if b == nil {
			return fail(bindingFailed, "%s", ErrNoBindings)
		}
		resp, err = nonNil(b.SQL(ctx, i.call, r))
	case BindingKV:
		var r wire.KVRequest
		if err := json.Unmarshal(req, &r); err != nil {
			return fail(bindingInvalid, "binding_call: decode KV request: %v", err)
		}
		if b == nil {
			return fail(bindingFailed, "%s", ErrNoBindings)
		}
		resp, err = nonNil(b.KV(ctx, i.call, r))
	case BindingFetch:
		var r wire.FetchRequest
		if err := json.Unmarshal(req, &r); err != nil {
			return fail(bindingInvalid, "binding_call: decode fetch request: %v", err)
		}
		if b == nil {
			return fail(bindingFailed, "%s", ErrNoBindings)
		}
		resp, err = nonNil(b.Fetch(ctx, i.call, r))
	case BindingSecret:
		// The request is the secret's name and the answer its value, raw:
		// nothing to structure, and values may be binary.
		if b == nil {
			return fail(bindingFailed, "%s", ErrNoBindings)
		}
		v, err := b.Secret(ctx, i.call, string(req))
		if err != nil {
			return fail(bindingFailed, "%s", err)
		}
		i.result = append(i.result[:0], v...)
		return bindingOK
	case BindingFlow:
		var r wire.FlowRequest
		if err := json.Unmarshal(req, &r); err != nil {
			return fail(bindingInvalid, "binding_call: decode flow request: %v", err)
		}
		f := i.m.r.cfg.Flow
		if f == nil {
			return fail(bindingFailed, "%s", ErrNoFlow)
		}
		resp, err = nonNil(f.Flow(ctx, i.call, r))
	case BindingObject:
		// Binary both ways (wire.AppendObjectRequest), not JSON: a guest
		// encoding JSON by reflection paid more for it than for the call.
		r, derr := wire.DecodeObjectRequest(req)
		if derr != nil {
			return fail(bindingInvalid, "binding_call: decode object request: %v", derr)
		}
		o := i.m.r.cfg.Objects
		if o == nil {
			return fail(bindingFailed, "%s", ErrNoObjects)
		}
		or, oerr := o.Object(ctx, i.call, *r)
		if oerr == nil && or == nil {
			oerr = errors.New("binding_call: the host returned no answer")
		}
		if oerr != nil {
			return fail(bindingFailed, "%s", oerr)
		}
		i.result = wire.AppendObjectResponse(i.result[:0], or)
		return bindingOK
	default:
		return fail(bindingInvalid, "binding_call: op %d (want 1 sql, 2 kv, 3 fetch, 4 secret, 5 flow, 6 object)", op)
	}
	if err != nil {
		return fail(bindingFailed, "%s", err)
	}
	i.result = i.result[:0]
	enc := json.NewEncoder(resultAppender{&i.result})
	enc.SetEscapeHTML(false) // fewer bytes; the guest decodes, no browser sees it
	if err := enc.Encode(resp); err != nil {
		return fail(bindingFailed, "binding_call: encode answer: %v", err)
	}
	return bindingOK
}

// nonNil turns a nil answer without an error (a host bug) into an error
// rather than a "null" the guest would misread as empty.
func nonNil[T any](resp *T, err error) (any, error) {
	if err == nil && resp == nil {
		return nil, errors.New("binding_call: the host returned no answer")
	}
	return resp, err
}
