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
	"runtime/debug"
	"slices"
	"strings"
	"time"

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

var handler http.Handler

// HandleHTTP registers h as the function's handler. Call it from an init
// function; the last registration wins.
func HandleHTTP(h http.Handler) { handler = h }

// HandleFunc registers f as the function's handler.
func HandleFunc(f func(http.ResponseWriter, *http.Request)) { handler = http.HandlerFunc(f) }

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

// invocationContext is the request context. It reports the host deadline
// but its Done channel is nil: the host stops the guest at the deadline, so
// there is nobody left to observe a closed channel, and not arming a timer
// keeps the per-request path cheap.
type invocationContext struct {
	deadline     time.Time
	invocationID string
	traceParent  string
}

func (c *invocationContext) Deadline() (time.Time, bool) { return c.deadline, !c.deadline.IsZero() }
func (c *invocationContext) Done() <-chan struct{}       { return nil }
func (c *invocationContext) Err() error                  { return nil }
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

func (w *responseWriter) reset() {
	w.header = make(http.Header)
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
	body    bytes.Reader
	respBuf []byte
	headers []wire.Header
	stderr  io.Writer
}

// buildRequest turns a decoded wire request into an *http.Request without
// re-parsing what the gateway already parsed.
func (s *server) buildRequest(wr *wire.Request) *http.Request {
	ctx := &invocationContext{invocationID: wr.InvocationID, traceParent: wr.TraceParent}
	if wr.DeadlineMS > 0 {
		ctx.deadline = time.UnixMilli(wr.DeadlineMS)
	}
	h := make(http.Header, len(wr.Headers))
	for _, hd := range wr.Headers {
		k := textproto.CanonicalMIMEHeaderKey(hd.Name)
		h[k] = append(h[k], hd.Values...)
	}
	requestURI := wr.Path
	if wr.RawQuery != "" {
		requestURI += "?" + wr.RawQuery
	}
	r := &http.Request{
		Method:        wr.Method,
		URL:           &url.URL{Path: wr.Path, RawQuery: wr.RawQuery},
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		ContentLength: int64(len(wr.Body)),
		Host:          wr.Host,
		RemoteAddr:    wr.RemoteAddr,
		RequestURI:    requestURI,
	}
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	if len(wr.Body) == 0 {
		r.Body = http.NoBody
	} else {
		s.body.Reset(wr.Body)
		r.Body = io.NopCloser(&s.body)
	}
	if te, ok := h["Transfer-Encoding"]; ok {
		r.TransferEncoding = te
	}
	r = r.WithContext(ctx)
	for _, p := range wr.Params {
		r.SetPathValue(p.Name, p.Value)
	}
	return r
}

// serve runs the handler for one encoded request and returns the encoded
// response. It is the host-independent core of strata_handle, so it can be
// tested without WebAssembly. The returned slice is reused by the next call.
func (s *server) serve(reqBytes []byte) (resp []byte, code int32) {
	if handler == nil {
		fmt.Fprintln(s.stderr, "strata: no handler registered; call strata.HandleHTTP from an init function")
		return nil, codeNoHandler
	}
	wr, err := wire.DecodeRequest(reqBytes)
	if err != nil {
		fmt.Fprintf(s.stderr, "strata: decode request: %v\n", err)
		return nil, codeBadRequest
	}
	r := s.buildRequest(wr)
	s.w.reset()
	if !s.run(r) {
		return nil, codePanic
	}
	return s.encode(), codeOK
}

// run calls the handler, turning a panic into a log entry on stderr.
func (s *server) run(r *http.Request) (ok bool) {
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
	handler.ServeHTTP(&s.w, r)
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
	slices.SortFunc(s.headers, func(a, b wire.Header) int { return strings.Compare(a.Name, b.Name) })
	s.respBuf = wire.AppendResponse(s.respBuf[:0], &wire.Response{Status: w.status, Headers: s.headers, Body: w.body})
	return s.respBuf
}

// srv is the instance's one server; strata_handle (abi_wasip1.go, built for
// wasip1 only) uses it.
//
//lint:ignore U1000 used by the wasip1 build
var srv = &server{stderr: os.Stderr}
