package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/stratahq/strata/internal/bindings"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/sdk/go/wire"
)

// bindingsPrefix is where a process reaches the platform's bindings, on
// the same private socket as its Runtime API (docs/process.md, "Bindings").
const bindingsPrefix = "/strata/v1"

// Limits of binding calls, per process.
const (
	// maxBindingCalls is how many binding calls one process may have in
	// flight at once; more are answered 429 at once rather than queued,
	// so a runaway loop cannot pile up work on the host.
	maxBindingCalls = 32
	// maxBindingBody bounds a binding request's body, as the Wasm ABI
	// bounds binding_call's request (a 6 MiB fetch body is 8 MiB in
	// base64, plus headers). The bindings enforce their own, smaller
	// limits on what is inside.
	maxBindingBody = 12 << 20
	// maxEventName bounds a queue or topic name, as the Wasm ABI does.
	maxEventName = 1024
)

// requestIDHeader names the invocation a binding call is made for: the
// id the runtime got from /invocation/next.
const requestIDHeader = "Lambda-Runtime-Aws-Request-Id"

// Headers of POST /strata/v1/queues/{name} and /topics/{name} carrying
// the event's options (wire.EventOptions); the body is the event's data.
const (
	hdrEventType    = "Strata-Event-Type"
	hdrEventSubject = "Strata-Event-Subject"
	hdrGroupID      = "Strata-Group-Id"
	hdrDedupID      = "Strata-Dedup-Id"
	hdrDelayMS      = "Strata-Delay-Ms"
)

// routeBindings adds the binding endpoints to a process's Runtime API.
// The socket is the process's own, but the process is untrusted: every
// call must name the invocation in flight (requestIDHeader), and runs
// with that invocation's *host.Call, so the same handlers as for Wasm
// guests decide what it reaches (its project, its declared bindings and
// secrets, its fetch allow-list) and meter it.
func (i *Instance) routeBindings(mux *http.ServeMux) {
	mux.HandleFunc("POST "+bindingsPrefix+"/sql", i.binding(i.sql))
	mux.HandleFunc("POST "+bindingsPrefix+"/kv", i.binding(i.kv))
	mux.HandleFunc("POST "+bindingsPrefix+"/fetch", i.binding(i.fetch))
	mux.HandleFunc("GET "+bindingsPrefix+"/secrets/{name}", i.binding(i.secret))
	mux.HandleFunc("POST "+bindingsPrefix+"/queues/{name}", i.binding(i.sendEvent(false)))
	mux.HandleFunc("POST "+bindingsPrefix+"/topics/{name}", i.binding(i.sendEvent(true)))
	mux.HandleFunc(bindingsPrefix+"/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "InvalidRequest",
			fmt.Sprintf("%s %s is no binding call (POST %[3]s/sql, %[3]s/kv, %[3]s/fetch, %[3]s/queues/{name}, %[3]s/topics/{name}; GET %[3]s/secrets/{name})", r.Method, r.URL.Path, bindingsPrefix))
	})
}

// bindingFunc serves one binding call within its invocation: ctx ends
// when the invocation does (or the process hangs up), p is the
// invocation.
type bindingFunc func(ctx context.Context, p *pending, w http.ResponseWriter, r *http.Request)

// binding admits a call: it must name the invocation in flight, stay
// within the process's concurrent calls and its body limit. The call
// counts against the invocation, whose Handle waits for it after
// cancelling it: no binding call outlives its invocation.
func (i *Instance) binding(serve bindingFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, msg := i.enter(r.Header.Get(requestIDHeader))
		if p == nil {
			drain(r)
			apiError(w, http.StatusConflict, "InvocationMismatch", msg)
			return
		}
		defer p.calls.Done()
		select {
		case i.sem <- struct{}{}:
			defer func() { <-i.sem }()
		default:
			drain(r)
			apiError(w, http.StatusTooManyRequests, "TooManyRequests",
				fmt.Sprintf("more than %d binding calls in flight in this process; wait for some to finish", maxBindingCalls))
			return
		}
		if r.ContentLength > maxBindingBody {
			apiError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
				fmt.Sprintf("binding request of %d bytes (at most %d)", r.ContentLength, maxBindingBody))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBindingBody)
		var ctx context.Context
		var cancel context.CancelFunc
		if p.deadline.IsZero() {
			ctx, cancel = context.WithCancel(p.ctx)
		} else {
			ctx, cancel = context.WithDeadline(p.ctx, p.deadline)
		}
		defer cancel()
		// The process hanging up ends the call too.
		stop := context.AfterFunc(r.Context(), cancel)
		defer stop()
		serve(ctx, p, w, r)
	}
}

// enter finds the invocation id names and counts a call against it, or
// says why there is none.
func (i *Instance) enter(id string) (*pending, string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	switch {
	case i.cur == nil:
		return nil, "no invocation is in flight on this process: binding calls are made while a handler runs (an answered or timed-out invocation's calls are refused)"
	case id == "":
		return nil, "the binding call has no " + requestIDHeader + " header: send the id of the invocation it is made for (the one /invocation/next gave)"
	case id != i.cur.id:
		return nil, fmt.Sprintf("%s %q is not the invocation in flight on this process (it ended, or was never given)", requestIDHeader, id)
	}
	p := i.cur
	if p.ctx == nil {
		p.ctx, p.cancel = context.WithCancel(p.parent)
	}
	p.calls.Add(1)
	return p, ""
}

// drain reads what is left of a refused request's body (within reason),
// so the connection it came on survives for the next call.
func drain(r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxBindingBody))
}

// readJSON decodes a request body, answering 413 or 400 itself when it
// cannot.
func readJSON(w http.ResponseWriter, r *http.Request, what string, v any) bool {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			apiError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", fmt.Sprintf("binding request above %d bytes", maxBindingBody))
			return false
		}
		apiError(w, http.StatusBadRequest, "InvalidRequest", "read the "+what+" request: "+err.Error())
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		apiError(w, http.StatusBadRequest, "InvalidRequest", "decode the "+what+" request: "+err.Error()+" (docs/process.md gives its JSON)")
		return false
	}
	return true
}

// writeJSON answers 200 with v, always with a Content-Length (the
// bootstraps' clients rely on it).
func writeJSON(w http.ResponseWriter, v any, err error) {
	if err != nil {
		bindingError(w, err)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		apiError(w, http.StatusInternalServerError, "BindingFailed", "encode the answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// bindingError answers a call the binding refused or failed. Its text is
// the binding's, which is written for the function (Bindings' contract:
// what to fix, nothing secret); the status says which kind of failure.
func bindingError(w http.ResponseWriter, err error) {
	status, typ := http.StatusBadGateway, "BindingFailed"
	switch {
	case errors.Is(err, bindings.ErrNotPermitted), errors.Is(err, bindings.ErrNoCaller):
		status, typ = http.StatusForbidden, "NotPermitted"
	case errors.Is(err, bindings.ErrBadRequest):
		status, typ = http.StatusBadRequest, "InvalidRequest"
	case errors.Is(err, bindings.ErrLimit):
		status, typ = http.StatusRequestEntityTooLarge, "LimitExceeded"
	case errors.Is(err, bindings.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		status, typ = http.StatusGatewayTimeout, "Timeout"
	case errors.Is(err, context.Canceled):
		status, typ = http.StatusConflict, "InvocationEnded"
	}
	apiError(w, status, typ, err.Error())
}

// nonNil turns a nil answer without an error (a host bug) into an error.
func nonNil[T any](resp *T, err error) (*T, error) {
	if err == nil && resp == nil {
		return nil, errors.New("the host returned no answer")
	}
	return resp, err
}

func (i *Instance) sql(ctx context.Context, p *pending, w http.ResponseWriter, r *http.Request) {
	var req wire.SQLRequest
	if !readJSON(w, r, "sql", &req) {
		return
	}
	b := i.m.r.cfg.Bindings
	if b == nil {
		bindingError(w, wasm.ErrNoBindings)
		return
	}
	resp, err := nonNil(b.SQL(ctx, p.call, req))
	writeJSON(w, resp, err)
}

func (i *Instance) kv(ctx context.Context, p *pending, w http.ResponseWriter, r *http.Request) {
	var req wire.KVRequest
	if !readJSON(w, r, "kv", &req) {
		return
	}
	b := i.m.r.cfg.Bindings
	if b == nil {
		bindingError(w, wasm.ErrNoBindings)
		return
	}
	resp, err := nonNil(b.KV(ctx, p.call, req))
	writeJSON(w, resp, err)
}

func (i *Instance) fetch(ctx context.Context, p *pending, w http.ResponseWriter, r *http.Request) {
	var req wire.FetchRequest
	if !readJSON(w, r, "fetch", &req) {
		return
	}
	b := i.m.r.cfg.Bindings
	if b == nil {
		bindingError(w, wasm.ErrNoBindings)
		return
	}
	resp, err := nonNil(b.Fetch(ctx, p.call, req))
	writeJSON(w, resp, err)
}

// secret answers the value raw, as the Wasm ABI does: values may be
// binary.
func (i *Instance) secret(ctx context.Context, p *pending, w http.ResponseWriter, r *http.Request) {
	b := i.m.r.cfg.Bindings
	if b == nil {
		bindingError(w, wasm.ErrNoBindings)
		return
	}
	v, err := b.Secret(ctx, p.call, r.PathValue("name"))
	if err != nil {
		bindingError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(v)))
	_, _ = w.Write(v)
}

// sendEvent sends the body to a queue or publishes it to a topic through
// the same sink as Wasm guests' event_send, which decides which queues
// and topics the function may use (its own project's).
func (i *Instance) sendEvent(topic bool) bindingFunc {
	return func(ctx context.Context, p *pending, w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if name == "" || len(name) > maxEventName {
			apiError(w, http.StatusBadRequest, "InvalidRequest", fmt.Sprintf("queue or topic name of %d bytes (want 1..%d)", len(name), maxEventName))
			return
		}
		opts := wire.EventOptions{
			ContentType: r.Header.Get("Content-Type"), Type: r.Header.Get(hdrEventType), Subject: r.Header.Get(hdrEventSubject),
			GroupID: r.Header.Get(hdrGroupID), DedupID: r.Header.Get(hdrDedupID),
		}
		if d := r.Header.Get(hdrDelayMS); d != "" {
			n, err := strconv.ParseInt(d, 10, 64)
			if err != nil || n < 0 {
				apiError(w, http.StatusBadRequest, "InvalidRequest", fmt.Sprintf("%s: %q is not a number of milliseconds >= 0", hdrDelayMS, d))
				return
			}
			opts.DelayMS = n
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				apiError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", fmt.Sprintf("event body above %d bytes", maxBindingBody))
				return
			}
			apiError(w, http.StatusBadRequest, "InvalidRequest", "read the event: "+err.Error())
			return
		}
		sink := i.m.r.cfg.Events
		if sink == nil {
			apiError(w, http.StatusBadGateway, "SendFailed", wasm.ErrNoEvents.Error())
			return
		}
		ev := wasm.OutboundEvent{
			Caller: i.m.spec.Function, Topic: topic, Name: name, Body: body, Options: opts,
			InvocationID: p.id, TraceParent: p.traceParent,
		}
		id, err := wasm.SendEvent(ctx, i.m.r.cfg.Tracer, p.call, sink, ev)
		if err != nil {
			// The sink's errors are written for the function (which
			// queue, what to declare) and never name another project.
			apiError(w, http.StatusBadRequest, "SendFailed", err.Error())
			return
		}
		writeJSON(w, map[string]string{"id": id}, nil)
	}
}
