package strata

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/stratahq/strata/sdk/go/internal/dispatch"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Result codes returned by strata_handle. The host treats any non-zero code as
// a failed invocation; the values only help it tell why (docs/ABI.md).
const (
	codeOK         int32 = 0 // response written
	codePanic      int32 = 1 // the handler panicked; details went to stderr
	codeBadRequest int32 = 2 // the request could not be read or decoded
	codeRejected   int32 = 3 // the host rejected the response (too large)
	codeNoHandler  int32 = 4 // HandleHTTP was never called
)

var (
	handler http.Handler
	// registeredBy says which call registered handler, for the panic of
	// a second registration.
	registeredBy string
)

// register installs h as the function's one handler. A second
// registration panics: with several, the last would silently win and the
// others' requests would go to the wrong code.
func register(kind string, h http.Handler) {
	if h == nil {
		panic("strata." + kind + ": nil handler")
	}
	at := "an unknown place"
	// Skip register and the Handle function: the caller's line.
	if _, file, line, ok := runtime.Caller(2); ok {
		at = fmt.Sprintf("%s:%d", file, line)
	}
	if handler != nil {
		panic(fmt.Sprintf("strata.%s at %s: this function already has a handler, registered by %s; "+
			"a function has one handler (HandleHTTP, HandleFunc, HandleEvent, HandleBatch or Lambda): "+
			"serve several paths with one http.ServeMux, or split the code into functions", kind, at, registeredBy))
	}
	handler, registeredBy = h, "strata."+kind+" at "+at
}

// HandleHTTP registers h as the function's handler. Call it from an init
// function, once: registering a second handler (with HandleHTTP,
// HandleFunc, HandleEvent, HandleBatch or Lambda) panics. Durable object
// events go to the classes registered with package objects instead, and
// workflows and activities to package flow's handler unless h serves
// them (flow.Handler); h gets every other request.
func HandleHTTP(h http.Handler) { register("HandleHTTP", h) }

// HandleFunc registers f as the function's handler, as HandleHTTP.
func HandleFunc(f func(http.ResponseWriter, *http.Request)) {
	if f == nil {
		register("HandleFunc", nil)
	}
	register("HandleFunc", http.HandlerFunc(f))
}

type ctxKey int

const (
	keyInvocationID ctxKey = iota
	keyTraceParent
)

// InvocationID returns the id the platform gave this invocation (as shown in
// logs and usage records), or "" outside an invocation.
func InvocationID(ctx context.Context) string {
	s, _ := ctx.Value(keyInvocationID).(string)
	return s
}

// TraceParent returns the W3C traceparent header value of this invocation,
// or "" if there is none. Pass it on outgoing calls to join the trace.
func TraceParent(ctx context.Context) string {
	s, _ := ctx.Value(keyTraceParent).(string)
	return s
}

// Deadline returns the time after which the host interrupts this invocation.
// It is the same as r.Context().Deadline().
func Deadline(ctx context.Context) (time.Time, bool) { return ctx.Deadline() }

// invocationContext is the request context. It reports the host's
// deadline, and its Done channel closes a little before it (doneMargin),
// so a handler waiting on it, or a library call it passed the context to,
// stops with context.DeadlineExceeded while there is still time to
// answer: at the deadline itself the host stops the guest, and nobody
// would be left to observe the channel. The channel and its timer are
// made on the first call to Done, so a handler that never asks pays
// nothing; the timer is stopped when the handler returns.
type invocationContext struct {
	deadline     time.Time
	fire         time.Time // when Done closes (deadline less doneMargin)
	invocationID string
	traceParent  string

	mu    sync.Mutex
	done  chan struct{} // nil until Done is first called
	timer *time.Timer
	err   error // context.DeadlineExceeded once done is closed
}

// doneMargin is how long before the host's deadline Done closes: a tenth
// of the time left when the request arrives, at most 100ms.
func doneMargin(left time.Duration) time.Duration { return min(left/10, 100*time.Millisecond) }

func (c *invocationContext) Deadline() (time.Time, bool) { return c.deadline, !c.deadline.IsZero() }

func (c *invocationContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return c.done
	}
	if c.err != nil {
		// Over (the handler returned) before anyone asked.
		c.done = make(chan struct{})
		close(c.done)
		return c.done
	}
	if c.deadline.IsZero() {
		return nil // no deadline: never done while the handler runs
	}
	c.done = make(chan struct{})
	now := time.Now()
	at := c.fire
	if !now.Before(at) {
		c.expire()
		return c.done
	}
	c.timer = time.AfterFunc(at.Sub(now), func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.err == nil {
			c.expire()
		}
	})
	return c.done
}

// expire closes done; c.mu is held and done is not closed.
func (c *invocationContext) expire() {
	c.err = context.DeadlineExceeded
	close(c.done)
}

func (c *invocationContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && c.done == nil && !c.deadline.IsZero() && !time.Now().Before(c.fire) {
		// Past the time without anyone having asked for Done.
		c.done = make(chan struct{})
		c.expire()
	}
	return c.err
}

// stop ends the context once the handler has returned, as net/http
// cancels a request's context: its timer is released, and goroutines the
// handler left waiting on Done (database/sql's, for a transaction left
// open) end with context.Canceled.
func (c *invocationContext) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if c.err == nil {
		c.err = context.Canceled
		if c.done != nil {
			close(c.done)
		}
	}
}

func (c *invocationContext) Value(key any) any {
	switch key {
	case keyInvocationID:
		return c.invocationID
	case keyTraceParent:
		return c.traceParent
	}
	return nil
}

// responseWriter buffers the whole response; the host sends it in one piece.
// It is reused across invocations (one at a time per instance).
type responseWriter struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        []byte
}

// reset readies w for the next request. The header map is cleared rather
// than replaced: a handler may not use the ResponseWriter (nor its Header
// map) after it returns.
func (w *responseWriter) reset() {
	if w.header == nil {
		w.header = make(http.Header)
	}
	clear(w.header)
	w.status = http.StatusOK
	w.wroteHeader = false
	w.body = w.body[:0]
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	// 1xx informational responses cannot be relayed through a buffered
	// response; like net/http, they do not count as the final status.
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		return
	}
	w.status = code
	w.wroteHeader = true
}

func (w *responseWriter) Write(p []byte) (int, error) {
	w.wroteHeader = true
	w.body = append(w.body, p...)
	return len(p), nil
}

func (w *responseWriter) WriteString(s string) (int, error) {
	w.wroteHeader = true
	w.body = append(w.body, s...)
	return len(s), nil
}

// Flush is a no-op so handlers that flush (http.Flusher) keep working; the
// response is always sent whole.
func (w *responseWriter) Flush() {}

var (
	_ http.ResponseWriter = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
	_ io.StringWriter     = (*responseWriter)(nil)
)

// server holds the state reused between invocations of one instance.
type server struct {
	w       responseWriter
	body    bodyReader
	respBuf []byte
	headers []wire.Header
	stderr  io.Writer
	view    wire.RequestView // the request being served, aliasing the request buffer
	tmpl    http.Request     // the request before WithContext, which copies it
}

// bodyReader is the request body: a reader over the request buffer that a
// handler may close. It is reused, as the body may be read only while the
// handler runs (the net/http contract).
type bodyReader struct{ bytes.Reader }

func (*bodyReader) Close() error { return nil }

// requestState is what one request needs beside the *http.Request, in one
// allocation: its URL, its context and (most often) its header values and
// the bytes of its strings. In a Go guest an allocation costs about half a
// microsecond, a good part of a warm call, so the fewer the better.
type requestState struct {
	url   url.URL
	ctx   invocationContext
	vals  [4]string // the header values, when they are this few
	bytes [256]byte // the request's strings, when they fit
}

// buildRequest turns the decoded request (s.view, whose strings alias the
// request buffer) into an *http.Request without re-parsing what the
// gateway already parsed. A handler may keep the request's strings after
// it returns, so they are copied, all into one buffer; the header values
// share one slice, and the URL and context one allocation.
func (s *server) buildRequest() *http.Request {
	wr := &s.view.Request
	size := len(wr.Path) + 1 + len(wr.RawQuery) + len(wr.Host) + len(wr.RemoteAddr) + len(wr.InvocationID) + len(wr.TraceParent)
	nv := 0
	for _, hd := range wr.Headers {
		size += len(hd.Name)
		nv += len(hd.Values)
		for _, v := range hd.Values {
			size += len(v)
		}
	}
	for _, p := range wr.Params {
		size += len(p.Name) + len(p.Value)
	}
	st := &requestState{}
	a := arena{buf: st.bytes[:0]}
	if size > len(st.bytes) {
		a.buf = make([]byte, 0, size)
	}
	st.ctx.invocationID = a.own(wr.InvocationID)
	st.ctx.traceParent = a.own(wr.TraceParent)
	if wr.DeadlineMS > 0 {
		st.ctx.deadline = time.UnixMilli(wr.DeadlineMS)
		st.ctx.fire = st.ctx.deadline.Add(-doneMargin(time.Until(st.ctx.deadline)))
	}
	// The path and the query are adjacent, so the request URI is the one
	// string holding both.
	requestURI := a.own(wr.Path)
	path := requestURI
	if wr.RawQuery != "" {
		requestURI = a.join(requestURI, "?", wr.RawQuery)
		st.url.RawQuery = requestURI[len(path)+1:]
	}
	st.url.Path = path

	h := make(http.Header, len(wr.Headers))
	vals := st.vals[:0]
	if nv > len(st.vals) {
		vals = make([]string, 0, nv)
	}
	for _, hd := range wr.Headers {
		k := textproto.CanonicalMIMEHeaderKey(a.own(hd.Name))
		start := len(vals)
		for _, v := range hd.Values {
			vals = append(vals, a.own(v))
		}
		if prev, ok := h[k]; ok {
			// The same name twice in different cases: appending to prev
			// makes it a copy (its capacity is its length).
			h[k] = append(prev, vals[start:]...)
			continue
		}
		h[k] = vals[start:len(vals):len(vals)]
	}

	s.tmpl = http.Request{
		Method:        method(wr.Method),
		URL:           &st.url,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		ContentLength: int64(len(wr.Body)),
		Host:          a.own(wr.Host),
		RemoteAddr:    a.own(wr.RemoteAddr),
		RequestURI:    requestURI,
		Body:          http.NoBody,
	}
	if len(wr.Body) > 0 {
		s.body.Reset(wr.Body)
		s.tmpl.Body = &s.body
	}
	if te, ok := h["Transfer-Encoding"]; ok {
		s.tmpl.TransferEncoding = te
	}
	r := s.tmpl.WithContext(&st.ctx)
	s.tmpl = http.Request{} // keep nothing of this request alive
	for _, p := range wr.Params {
		r.SetPathValue(a.own(p.Name), a.own(p.Value))
	}
	return r
}

// method returns the request method, the common ones as constants (no
// copy to keep).
func method(m string) string {
	switch m {
	case "", http.MethodGet:
		return http.MethodGet
	case http.MethodPost:
		return http.MethodPost
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPut:
		return http.MethodPut
	case http.MethodPatch:
		return http.MethodPatch
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodOptions:
		return http.MethodOptions
	}
	return strings.Clone(m)
}

// arena copies strings into one buffer sized up front, so a request's
// strings cost one allocation. Its strings stay valid while any of them is
// referenced, as the buffer is never reused.
type arena struct{ buf []byte }

func (a *arena) own(s string) string {
	if s == "" {
		return ""
	}
	start := len(a.buf)
	a.buf = append(a.buf, s...) // never grows: the capacity was counted
	return unsafe.String(&a.buf[start], len(s))
}

// join appends sep and s right after prev, the arena's last string, and
// returns the string spanning all three.
func (a *arena) join(prev, sep, s string) string {
	start := len(a.buf) - len(prev)
	a.buf = append(a.buf, sep...)
	a.buf = append(a.buf, s...)
	return unsafe.String(&a.buf[start], len(a.buf)-start)
}

// serve runs the handler for one encoded request and returns the encoded
// response. It is the host-independent core of strata_handle, so it can be
// tested without WebAssembly. The returned slice is reused by the next call.
func (s *server) serve(reqBytes []byte) (resp []byte, code int32) {
	if handler == nil && dispatch.Object == nil && dispatch.Default == nil {
		writeLine(s.stderr, "strata: no handler registered; call strata.HandleHTTP from an init function")
		return nil, codeNoHandler
	}
	if err := s.view.Decode(reqBytes); err != nil {
		writeLine(s.stderr, "strata: decode request: "+err.Error())
		return nil, codeBadRequest
	}
	r := s.buildRequest()
	s.w.reset()
	h := handler
	if h == nil {
		h = dispatch.Default
	}
	if dispatch.Object != nil {
		// An object event goes to package objects; the plain path pays
		// only the nil check above.
		if _, ok := r.Header[wire.ObjectEventHeader]; ok {
			h = dispatch.Object
		}
	}
	ok := s.run(h, r)
	if c, isOurs := r.Context().(*invocationContext); isOurs {
		c.stop()
	}
	s.body.Reset(nil)
	if !ok {
		return nil, codePanic
	}
	return s.encode(), codeOK
}

// writeLine writes msg and a newline to w, without fmt.
func writeLine(w io.Writer, msg string) { _, _ = io.WriteString(w, msg+"\n") }

// run calls the handler, turning a panic into a log entry on stderr.
func (s *server) run(h http.Handler, r *http.Request) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				fmt.Fprintln(s.stderr, "strata: handler aborted")
			} else {
				fmt.Fprintf(s.stderr, "panic: %v\n\n%s", v, debug.Stack())
			}
			ok = false
		}
	}()
	if h == nil {
		// A function that defines only object classes got a plain request.
		http.Error(&s.w, "this function serves durable object events only (it registers no handler with strata.HandleHTTP)", http.StatusNotFound)
		return true
	}
	h.ServeHTTP(&s.w, r)
	return true
}

// encode appends the buffered response to the reused response buffer.
func (s *server) encode() []byte {
	w := &s.w
	if _, ok := w.header["Content-Type"]; !ok && len(w.body) > 0 && w.header.Get("Transfer-Encoding") == "" {
		// net/http sniffs a missing Content-Type; keep that behaviour so a
		// handler behaves the same here as behind a plain http.Server.
		w.header.Set("Content-Type", http.DetectContentType(w.body))
	}
	s.headers = s.headers[:0]
	for k, v := range w.header {
		if len(v) == 0 {
			continue
		}
		s.headers = append(s.headers, wire.Header{Name: k, Values: v})
	}
	// Map order is random; sort so identical handlers give identical bytes.
	if len(s.headers) > 1 {
		slices.SortFunc(s.headers, func(a, b wire.Header) int { return strings.Compare(a.Name, b.Name) })
	}
	s.respBuf = wire.AppendResponse(s.respBuf[:0], &wire.Response{Status: w.status, Headers: s.headers, Body: w.body})
	return s.respBuf
}

// srv is the instance's one server; strata_handle (abi_wasip1.go, built for
// wasip1 only) uses it.
//
//lint:ignore U1000 used by the wasip1 build
var srv = &server{stderr: os.Stderr}
