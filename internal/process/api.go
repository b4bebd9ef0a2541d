package process

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/stratahq/strata/internal/wasm"
)

// apiPrefix is the Runtime API's version, as in Lambda.
const apiPrefix = "/2018-06-01/runtime"

// maxDrain bounds what is read and dropped of a response above
// MaxPayload before answering 413.
const maxDrain = 64 << 20

// maxErrorBody bounds what /error and /init/error read.
const maxErrorBody = 1 << 20

// api is the Runtime API one process sees, on its own socket: nobody
// else can reach it (the socket's directory is mapped into that sandbox
// alone), so it needs no authentication, and a request id names an
// invocation of this process only.
func (i *Instance) api() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+apiPrefix+"/invocation/next", i.next)
	mux.HandleFunc("POST "+apiPrefix+"/invocation/{id}/response", i.response)
	mux.HandleFunc("POST "+apiPrefix+"/invocation/{id}/error", i.invocationError)
	mux.HandleFunc("POST "+apiPrefix+"/init/error", i.initError)
	i.routeBindings(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "InvalidRequest",
			fmt.Sprintf("%s %s is not part of the Runtime API (GET %s/invocation/next, POST …/invocation/{id}/response or /error, POST %s/init/error)", r.Method, r.URL.Path, apiPrefix, apiPrefix))
	})
	return mux
}

// apiError answers a Lambda-style error. Every answer has a
// Content-Length, which the bootstraps' minimal clients rely on.
func apiError(w http.ResponseWriter, status int, typ, msg string) {
	b, _ := json.Marshal(map[string]string{"errorType": typ, "errorMessage": msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// next hands the runtime the next invocation, waiting for one as long as
// it takes (Lambda's runtime blocks here between invocations).
func (i *Instance) next(w http.ResponseWriter, r *http.Request) {
	i.readyOnce.Do(func() { close(i.ready) })
	select {
	case p := <-i.invoke:
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", p.id)
		if !p.deadline.IsZero() {
			h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(p.deadline.UnixMilli(), 10))
		}
		h.Set("Lambda-Runtime-Invoked-Function-Arn", p.arn)
		if p.trace != "" {
			h.Set("Lambda-Runtime-Trace-Id", p.trace)
		}
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(p.body)))
		_, _ = w.Write(p.body)
	case <-r.Context().Done():
	case <-i.closing:
	}
}

// current returns the invocation id names, or nil when id is not the
// invocation in flight (already answered, timed out, or made up).
func (i *Instance) current(id string) *pending {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.cur == nil || i.cur.id != id {
		return nil
	}
	return i.cur
}

// finish answers the invocation once; later answers for it are refused.
func (i *Instance) finish(p *pending, res result) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.cur != p {
		return false
	}
	i.cur = nil
	p.done <- res
	return true
}

func (i *Instance) response(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p := i.current(id)
	if p == nil {
		apiError(w, http.StatusBadRequest, "InvalidRequestID", fmt.Sprintf("no invocation %q in flight on this runtime (answered already, timed out, or never given)", id))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayload+1))
	if err != nil {
		apiError(w, http.StatusBadRequest, "InvalidRequest", "read the response: "+err.Error())
		return
	}
	if len(body) > MaxPayload {
		// Read the rest (within reason) so the connection, and the
		// request for the next invocation pipelined behind it, survive.
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxDrain))
		i.finish(p, result{err: fmt.Errorf("%s: the handler's result is above %d bytes (Lambda's 6 MiB): %w", i.m.spec.Name, MaxPayload, wasm.ErrResponseTooLarge)})
		apiError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", fmt.Sprintf("response above %d bytes", MaxPayload))
		return
	}
	if !i.finish(p, result{payload: body}) {
		apiError(w, http.StatusBadRequest, "InvalidRequestID", fmt.Sprintf("invocation %q was answered already", id))
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// lambdaError is what a runtime posts to /error and /init/error.
type lambdaError struct {
	ErrorMessage string   `json:"errorMessage"`
	ErrorType    string   `json:"errorType"`
	StackTrace   []string `json:"stackTrace"`
}

// readLambdaError reads the error object a runtime posts to /error or
// /init/error: its type and message (the Lambda-Runtime-Function-Error-Type
// header's type when the body has none; "Unknown" and the body's start
// when the body is not an error object).
func readLambdaError(r *http.Request) (typ, msg string) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxErrorBody))
	var e lambdaError
	typ = r.Header.Get("Lambda-Runtime-Function-Error-Type")
	if err := json.Unmarshal(body, &e); err != nil || e.ErrorMessage == "" && e.ErrorType == "" {
		if len(body) > 500 {
			body = body[:500]
		}
		if typ == "" {
			typ = "Unknown"
		}
		return typ, string(body)
	}
	if e.ErrorType == "" {
		e.ErrorType = typ
	}
	return e.ErrorType, e.ErrorMessage
}

func (i *Instance) invocationError(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p := i.current(id)
	if p == nil {
		apiError(w, http.StatusBadRequest, "InvalidRequestID", fmt.Sprintf("no invocation %q in flight on this runtime", id))
		return
	}
	typ, msg := readLambdaError(r)
	herr := &HandlerError{Type: typ, Message: msg, Trap: &wasm.TrapError{Module: i.m.spec.Name, Message: "the handler failed: " + typ + ": " + msg}}
	if !i.finish(p, result{err: herr}) {
		apiError(w, http.StatusBadRequest, "InvalidRequestID", fmt.Sprintf("invocation %q was answered already", id))
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (i *Instance) initError(w http.ResponseWriter, r *http.Request) {
	select {
	case <-i.ready:
		apiError(w, http.StatusForbidden, "InvalidStateTransition", "init/error after the runtime asked for an invocation")
		return
	default:
	}
	typ, msg := readLambdaError(r)
	i.mu.Lock()
	i.initErr = typ + ": " + msg
	i.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}
