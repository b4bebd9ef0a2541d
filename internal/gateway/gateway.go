package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	oteltrace "go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/events"
	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/lambda"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/sockets"
	"github.com/stratahq/strata/internal/trace"
	"github.com/stratahq/strata/sdk/go/wire"
)

// HeaderTraceparent carries the W3C trace context of a request and its
// response. The invocation id and version the gateway adds to every
// function response are apitype.HeaderInvocationID and
// apitype.HeaderVersion: the admin API's client reads them.
const HeaderTraceparent = "Traceparent"

// Log attribute keys.
const (
	logFunction   = "function"
	logInvocation = "invocation_id"
	logStatus     = "status"
)

// DefaultMaxBody is the default cap on request bodies: 6 MiB, as Lambda's
// synchronous payload limit.
const DefaultMaxBody = 6 << 20

// Router finds the route, and so the function, for a request.
type Router interface {
	MatchRoute(method, path string) (r *record.Route, params []wire.Param, allowed []string, ok bool)
}

// AsyncInvoker stores a request to run later (async routes).
type AsyncInvoker interface {
	InvokeAsync(ctx context.Context, function string, req *wire.Request, traceParent string) (*apitype.SendResult, error)
}

// Invoker runs one invocation. It must not keep r.Wire, nor anything it
// points to, once Invoke returns: the gateway reuses them.
type Invoker interface {
	Invoke(ctx context.Context, r invoke.Request) (*invoke.Result, error)
}

// WorkflowStarter starts workflow executions (routes with a workflow); the
// flow engine implements it.
type WorkflowStarter interface {
	// Start starts an execution, or returns the existing one with p.ID
	// (created false).
	Start(ctx context.Context, p flow.StartParams) (*record.FlowExecution, bool, error)
}

// Config configures the gateway.
type Config struct {
	Invoker   Invoker
	Async     AsyncInvoker    // runs async routes; nil refuses them
	Workflows WorkflowStarter // starts workflow routes' executions; nil refuses them
	Objects   Objects         // serves object routes; nil refuses them
	Admin     http.Handler    // the admin API and console, served under /_strata/api/ and /_strata/console; nil: 404 there (a separate admin listener)
	// Executions answers the public status path of workflow executions
	// (GET /_strata/executions/{link}); with StatusKey, which signs the
	// links (workflow.go). Nil: workflow routes answer no Location.
	Executions ExecutionReader
	StatusKey  []byte
	// Owners finds the base URL (scheme://host:port) of the node that
	// holds an object's lease, by node id; with NodeKey (shared by every
	// node, from the secret key) an object request that reaches a node
	// not holding the object is forwarded to its owner (forward.go). Nil:
	// such a request answers 503.
	Owners  func(ctx context.Context, node string) (string, bool)
	NodeKey []byte
	NodeID  string
	Logger  *slog.Logger
	MaxBody int64  // request body cap; default DefaultMaxBody
	Version string // reported by the health endpoint
	// Sockets holds the connections of WebSocket routes (socket.go); nil
	// refuses them with 503.
	Sockets *sockets.Hub
	// Tracer records a server span per routed request, named for its
	// route's pattern ("GET /users/{id}"), continuing the request's
	// traceparent; nil records none.
	Tracer *trace.Tracer
	// StepFunctions serves requests whose X-Amz-Target names a Step
	// Functions operation ("AWSStepFunctions.…", the AWS JSON 1.0
	// protocol, package sfn), whatever their path; nil: they are routed
	// as any other request. Other AWS targets reach the routes.
	StepFunctions http.Handler
	// LambdaAPI serves the AWS Lambda Invoke API: every request whose
	// path is under LambdaAPIPrefix (package lambdaapi), before the
	// routes; nil: such requests are routed as any other.
	LambdaAPI http.Handler
}

// LambdaAPIPrefix is the path of the Lambda Invoke API's requests
// (POST /2015-03-31/functions/{name}/invocations).
const LambdaAPIPrefix = "/2015-03-31/functions/"

// Gateway is the HTTP handler in front of all functions.
type Gateway struct {
	cfg    Config
	router atomic.Pointer[routerBox]
	calls  sync.Pool // *call
	// loading, while the node loads what is deployed after a start, lists
	// what is still loading; nil once everything is loaded.
	loading atomic.Pointer[func() []string]
	// draining: the node is stopping (SetDraining); health and readiness
	// answer 503 so balancers stop sending.
	draining atomic.Bool
}

// SetDraining marks the node as draining before it stops: /_strata/health
// and /_strata/ready answer 503 with status "draining", so a load
// balancer's health check takes the node out while it finishes what is
// in flight. Requests that still arrive are served.
func (g *Gateway) SetDraining() { g.draining.Store(true) }

// RetryAfterLoading is the Retry-After, in seconds, of answers refused
// because the node is still loading a function.
const RetryAfterLoading = "5"

// SetLoading marks the node as loading its deployed functions (fn lists
// what is still loading) or, with nil, as done: /_strata/ready answers 503
// and workflow routes are refused with 503 until then.
func (g *Gateway) SetLoading(fn func() []string) {
	if fn == nil {
		g.loading.Store(nil)
		return
	}
	g.loading.Store(&fn)
}

// stillLoading reports whether the node is loading, and what.
func (g *Gateway) stillLoading() ([]string, bool) {
	fn := g.loading.Load()
	if fn == nil {
		return nil, false
	}
	return (*fn)(), true
}

type routerBox struct {
	r      Router
	limits map[string]*rate.Limiter // route key → its limiter, for routes with a rate limit
	// spanNames caches each route's span name ("GET /users/{id}") by the
	// route the router returns, whose address is stable for the table's
	// life: a request's span costs no string building.
	spanNames sync.Map // *record.Route → string
}

// spanName is rt's span name: its method and pattern, never the request's
// path (ids in paths would make every name distinct).
func (b *routerBox) spanName(rt *record.Route) string {
	if n, ok := b.spanNames.Load(rt); ok {
		return n.(string)
	}
	n := rt.Method + " " + rt.Path
	b.spanNames.Store(rt, n)
	return n
}

// limit is rt's rate limiter, nil when it has none.
func (b *routerBox) limit(rt *record.Route) *rate.Limiter {
	if len(b.limits) == 0 {
		return nil
	}
	return b.limits[rt.Method+" "+rt.Path]
}

// New returns a gateway with no routes.
func New(cfg Config) *Gateway {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{cfg: cfg}
	g.calls.New = func() any { return new(call) }
	return g
}

// SetRouter swaps the route table atomically; requests in flight keep the
// table they matched against. Routes with a rate limit get a token bucket;
// a limiter whose route kept its limit carries over, so a redeploy does not
// hand out a fresh burst.
func (g *Gateway) SetRouter(r Router, routes []record.Route) {
	box := &routerBox{r: r, limits: map[string]*rate.Limiter{}}
	old := g.router.Load()
	for _, rt := range routes {
		if rt.RateLimit <= 0 {
			continue
		}
		key := rt.Method + " " + rt.Path
		burst := max(rt.RateBurst, 1)
		if old != nil {
			if l := old.limits[key]; l != nil && l.Limit() == rate.Limit(rt.RateLimit) && l.Burst() == burst {
				box.limits[key] = l
				continue
			}
		}
		box.limits[key] = rate.NewLimiter(rate.Limit(rt.RateLimit), burst)
	}
	g.router.Store(box)
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cleanRequestPath(r)
	if g.cfg.StepFunctions != nil && strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AWSStepFunctions.") {
		g.cfg.StepFunctions.ServeHTTP(w, r)
		return
	}
	if g.cfg.LambdaAPI != nil && strings.HasPrefix(r.URL.Path, LambdaAPIPrefix) {
		g.cfg.LambdaAPI.ServeHTTP(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/_strata/") {
		g.servePlatform(w, r)
		return
	}
	box := g.router.Load()
	if box == nil {
		WriteError(w, Errorf(http.StatusNotFound, "no route for %s %s: nothing is deployed", r.Method, r.URL.Path), "")
		return
	}
	rt, params, allowed, ok := box.r.MatchRoute(r.Method, r.URL.Path)
	if !ok {
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			WriteError(w, Errorf(http.StatusMethodNotAllowed, "method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allowed, ", ")), "")
			return
		}
		WriteError(w, Errorf(http.StatusNotFound, "no route for %s %s", r.Method, r.URL.Path), "")
		return
	}
	if l := box.limit(rt); l != nil {
		if res := l.Reserve(); res.Delay() > 0 {
			res.Cancel()
			// Over the route's rate: refused at once, with when to retry.
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(res.Delay().Seconds()))))
			WriteError(w, Errorf(http.StatusTooManyRequests, "rate limit of %g requests/s on %s %s exceeded", rt.RateLimit, rt.Method, rt.Path), "")
			return
		}
	}
	if g.cfg.Tracer != nil {
		sw := &spanWriter{ResponseWriter: w}
		ctx := trace.WithParentHeader(r.Context(), r.Header.Get(HeaderTraceparent))
		ctx, span := g.cfg.Tracer.Start(ctx, box.spanName(rt), oteltrace.WithSpanKind(oteltrace.SpanKindServer),
			oteltrace.WithAttributes(trace.KeyMethod.String(rt.Method), trace.KeyRoute.String(rt.Path),
				trace.KeyProject.String(rt.Project), trace.KeyFunction.String(orDefault(rt.Function, rt.Workflow))))
		defer sw.end(span)
		w, r = sw, r.WithContext(ctx)
	}
	if rt.Object != "" {
		g.serveObject(w, r, rt, params)
		return
	}
	if rt.WebSocket {
		g.serveSocket(w, r, rt, params)
		return
	}
	if rt.Workflow != "" {
		g.startWorkflow(w, r, rt)
		return
	}
	if rt.Async {
		g.invokeAsync(w, r, rt.Function, params)
		return
	}
	g.invoke(w, r, rt, rt.Function, params, "http")
}

// spanWriter notes the status a traced request is answered with, for its
// span.
type spanWriter struct {
	http.ResponseWriter
	status int
}

func (w *spanWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *spanWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *spanWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// end sets the answer's status on span (an error from 500 up, as the
// HTTP conventions have it for servers) and ends it.
func (w *spanWriter) end(span oteltrace.Span) {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	span.SetAttributes(trace.KeyHTTP.Int(status))
	if status >= 500 {
		trace.Fail(span, http.StatusText(status))
	}
	span.End()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// invokeAsync stores the request for the function's async queue and
// answers 202 with the event id: the request is durable before the client
// hears back, so a webhook accepted is never lost.
func (g *Gateway) invokeAsync(w http.ResponseWriter, r *http.Request, fn string, params []wire.Param) {
	if g.cfg.Async == nil {
		WriteError(w, Errorf(http.StatusServiceUnavailable, "async routes are not available on this node"), "")
		return
	}
	req, err := ReadRequest(w, r, events.MaxEventBytes)
	if err != nil {
		WriteError(w, err, "")
		return
	}
	req.Params = params
	res, err := g.cfg.Async.InvokeAsync(r.Context(), fn, req, r.Header.Get("Traceparent"))
	if err != nil {
		if errors.Is(err, events.ErrTooLarge) {
			err = &StatusError{Code: http.StatusRequestEntityTooLarge, Err: err}
		}
		WriteError(w, err, "")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]string{"id": res.ID, "status": "accepted"})
}

// invoke runs fn for an HTTP request and writes its response. The admin
// API's invoke endpoint uses it as well, so both paths behave the same.
// A route's own function that takes Lambda event shapes gets its
// request as an API Gateway event (rt set); a direct invoke (rt nil) passes
// the request as it is, as Lambda's Invoke passes its payload.
func (g *Gateway) invoke(w http.ResponseWriter, r *http.Request, rt *record.Route, fn string, params []wire.Param, trigger string) {
	c := g.calls.Get().(*call)
	defer g.putCall(c)
	if !g.read(w, r, c, params) {
		return
	}
	var shaper invoke.Shaper
	if rt != nil {
		c.shape = httpShaper{method: rt.Method, path: rt.Path, protocol: r.Proto}
		shaper = &c.shape
	}
	g.serve(w, r, fn, &c.req, trigger, shaper)
}

// httpShaper gives a function that takes Lambda event shapes the API
// Gateway HTTP API (payload 2.0) event of a request on its route, and
// answers with what its result describes.
type httpShaper struct {
	method, path, protocol string // the route's, and the request's protocol
}

var _ invoke.Shaper = (*httpShaper)(nil)

func (s *httpShaper) LambdaRequest(inv lambda.Invocation, req *wire.Request) (*wire.Request, error) {
	return lambda.HTTPEventRequest(inv, lambda.RouteKey(s.method, s.path), s.protocol, req)
}

func (s *httpShaper) LambdaResponse(resp *wire.Response) (*wire.Response, error) {
	return lambda.HTTPResponse(resp.Body)
}

// read makes c the guest's form of r, with its body (up to MaxBody) and
// params; on a body it cannot take it writes the error and answers false.
func (g *Gateway) read(w http.ResponseWriter, r *http.Request, c *call, params []wire.Param) bool {
	if r.ContentLength > g.cfg.MaxBody {
		WriteError(w, Errorf(http.StatusRequestEntityTooLarge, "request body of %d bytes is over the %d byte limit", r.ContentLength, g.cfg.MaxBody), "")
		return false
	}
	if r.Body != nil && r.Body != http.NoBody {
		if _, err := c.body.ReadFrom(http.MaxBytesReader(w, r.Body, g.cfg.MaxBody)); err != nil {
			WriteError(w, bodyError(err, g.cfg.MaxBody), "")
			return false
		}
	}
	c.fill(r, c.body.Bytes())
	c.req.Params = params
	return true
}

// call is the guest's form of one request, reused across requests (a
// sync.Pool): nothing keeps it once the invocation returns, as the
// instance encodes the request into its own buffer.
type call struct {
	req     wire.Request
	headers []wire.Header
	body    bytes.Buffer
	shape   httpShaper
}

// putCall returns c to the pool, unless it holds a large body.
func (g *Gateway) putCall(c *call) {
	if c.body.Cap() > 1<<20 { // do not keep huge buffers alive
		return
	}
	c.body.Reset()
	clear(c.headers)
	c.req = wire.Request{}
	c.shape = httpShaper{}
	g.calls.Put(c)
}

// fill makes c.req the guest's view of r with body.
func (c *call) fill(r *http.Request, body []byte) {
	c.headers = appendWireHeaders(c.headers[:0], r.Header)
	c.req = wire.Request{
		Method:     r.Method,
		Path:       r.URL.Path,
		RawQuery:   r.URL.RawQuery,
		Host:       r.Host,
		RemoteAddr: r.RemoteAddr,
		Headers:    c.headers,
		Body:       body,
	}
}

// serve runs fn for req, the guest's form of r, and writes its
// response. shaper, when set, reshapes the invocation for a function that
// takes Lambda event shapes (nil: the request as it is).
func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, fn string, req *wire.Request, trigger string, shaper invoke.Shaper) {
	res, err := g.cfg.Invoker.Invoke(r.Context(), invoke.Request{
		Function: fn, Trigger: trigger, TraceParent: r.Header.Get("Traceparent"), Wire: req, Shaper: shaper,
	})
	g.writeResult(w, r, fn, res, err)
}

// writeResult writes an invocation's response, or its error.
func (g *Gateway) writeResult(w http.ResponseWriter, r *http.Request, fn string, res *invoke.Result, err error) {
	h := w.Header()
	if err != nil {
		id := ""
		if res != nil {
			h.Set(HeaderTraceparent, res.TraceHeader)
			id = res.InvocationID
		}
		WriteError(w, err, id)
		return
	}
	if st := res.Response.Status; st < 200 || st > 999 {
		// A 1xx is not a final answer, and a 101 without the gateway's
		// own handshake would have a proxy in front treat the connection
		// as switched while this server goes on reading HTTP from it; so
		// the guest's answer is refused, never relayed.
		h.Set(HeaderTraceparent, res.TraceHeader)
		g.cfg.Logger.Error("function answered a status that is not a final response",
			logFunction, fn, logInvocation, res.InvocationID, logStatus, st)
		WriteError(w, &StatusError{Code: http.StatusBadGateway, Err: fmt.Errorf(
			"function %s answered status %d, which is not a final HTTP response; a function must answer 200..999 (1xx and protocol switches are not relayed)",
			fn, st)}, res.InvocationID)
		return
	}
	for _, hv := range res.Response.Headers {
		if hopByHop(hv.Name) {
			continue
		}
		h[http.CanonicalHeaderKey(hv.Name)] = hv.Values
	}
	// The platform's headers, set with one allocation for their values
	// (Header.Set makes a slice for each).
	ph := &platformHeaders{}
	ph.vals[0] = res.TraceHeader
	ph.vals[1] = res.InvocationID
	ph.vals[2] = ph.itoa(0, res.Version)
	ph.vals[3] = ph.itoa(1, len(res.Response.Body))
	if _, ok := h[HeaderTraceparent]; !ok { // a guest's own traceparent is relayed
		h[HeaderTraceparent] = ph.vals[0:1:1]
	}
	h[apitype.HeaderInvocationID] = ph.vals[1:2:2]
	h[apitype.HeaderVersion] = ph.vals[2:3:3]
	h["Content-Length"] = ph.vals[3:4:4]
	w.WriteHeader(res.Response.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(res.Response.Body)
	}
}

// platformHeaders holds the values of the headers the gateway adds to a
// function's response, and the digits of the numeric ones, in one
// allocation. net/http writes the headers after the handler returns, so
// these must outlive serve (no pooling).
type platformHeaders struct {
	vals   [4]string
	digits [2][20]byte
}

// itoa formats n in the i-th digit buffer.
func (p *platformHeaders) itoa(i, n int) string {
	b := strconv.AppendInt(p.digits[i][:0], int64(n), 10)
	return unsafe.String(&b[0], len(b))
}

// Invoke serves the admin API's direct invoke: the request goes to fn
// whatever the routes say. When the path matches one of fn's own routes,
// its path parameters are filled in, so a handler reading r.PathValue works
// the same when invoked directly.
func (g *Gateway) Invoke(w http.ResponseWriter, r *http.Request, fn string) {
	cleanRequestPath(r)
	var params []wire.Param
	if box := g.router.Load(); box != nil {
		if matched, p, _, ok := box.r.MatchRoute(r.Method, r.URL.Path); ok && matched.Function == fn {
			params = p
		}
	}
	g.invoke(w, r, nil, fn, params, "invoke")
}

// InvokeEvent serves the admin API's invoke of fn with an event (strata
// invoke --event): req was built by the event engine, as a delivery from
// trigger's source would be, so its Ce-* and X-Strata-* headers are the
// platform's own and reach the function (a client's never do: see
// platformHeader).
//
// shaper, when set, gives a function that takes Lambda event shapes the
// same event as a delivery from that source.
func (g *Gateway) InvokeEvent(w http.ResponseWriter, r *http.Request, fn string, req *wire.Request, trigger string, shaper invoke.Shaper) {
	g.serve(w, r, fn, req, trigger, shaper)
}

func (g *Gateway) servePlatform(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == stubForwardPath:
		g.serveStubForward(w, r)
	case r.URL.Path == "/_strata/health":
		// Liveness: the node answers. It says whether loading is done, but
		// stays 200 while it is not (a node that is loading is not broken).
		_, loading := g.stillLoading()
		w.Header().Set("Content-Type", "application/json")
		if g.draining.Load() {
			// Not broken, but leaving: a balancer's health check must
			// take the node out now, before it stops answering.
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]any{"status": "draining", "version": g.cfg.Version, "ready": false})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "ok", "version": g.cfg.Version, "ready": !loading})
	case r.URL.Path == "/_strata/ready":
		// Readiness: 200 once every deployed function is loaded (or
		// refused) and queues and workflows run; 503 before, so a load
		// balancer sends traffic to nodes that serve all of it.
		w.Header().Set("Content-Type", "application/json")
		if g.draining.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]any{"status": "draining", "version": g.cfg.Version})
			return
		}
		if fns, loading := g.stillLoading(); loading {
			w.Header().Set("Retry-After", RetryAfterLoading)
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]any{"status": "loading", "version": g.cfg.Version, "loading": fns})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "ready", "version": g.cfg.Version})
	case (strings.HasPrefix(r.URL.Path, "/_strata/api/") || IsConsolePath(r.URL.Path)) && g.cfg.Admin != nil:
		g.cfg.Admin.ServeHTTP(w, r)
	case strings.HasPrefix(r.URL.Path, ExecutionStatusPath):
		g.executionStatus(w, r)
	default:
		WriteError(w, Errorf(http.StatusNotFound, "unknown platform path %s", r.URL.Path), "")
	}
}

// bodyError explains a failed body read.
func bodyError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return Errorf(http.StatusRequestEntityTooLarge, "request body over the %d byte limit", limit)
	}
	return Errorf(http.StatusBadRequest, "read request body: %v", err)
}

// wireRequest is the guest's view of an HTTP request with its body.
func wireRequest(r *http.Request, body []byte) *wire.Request {
	return &wire.Request{
		Method:     r.Method,
		Path:       r.URL.Path,
		RawQuery:   r.URL.RawQuery,
		Host:       r.Host,
		RemoteAddr: r.RemoteAddr,
		Headers:    wireHeaders(r.Header),
		Body:       body,
	}
}

// ReadRequest reads a whole request (body up to limit bytes) into the
// guest's form, for requests stored to run later.
func ReadRequest(w http.ResponseWriter, r *http.Request, limit int64) (*wire.Request, error) {
	cleanRequestPath(r) // for the admin API's async invoke; a no-op after ServeHTTP
	if r.ContentLength > limit {
		return nil, Errorf(http.StatusRequestEntityTooLarge, "request body of %d bytes is over the %d byte limit", r.ContentLength, limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, bodyError(err, limit)
	}
	return wireRequest(r, body), nil
}

func wireHeaders(h http.Header) []wire.Header {
	return appendWireHeaders(make([]wire.Header, 0, len(h)), h)
}

// appendWireHeaders appends h's headers, but for the platform's, to out.
func appendWireHeaders(out []wire.Header, h http.Header) []wire.Header {
	for name, vals := range h {
		if platformHeader(name) {
			continue
		}
		out = append(out, wire.Header{Name: name, Values: vals})
	}
	return out
}

// platformHeader reports the request headers only Strata may set, which a
// client's request never carries to a function:
//
//   - X-Strata-*: the flow engine's (X-Strata-Flow-*: a function runs as a
//     workflow's orchestrator or activity, so a client sending them could
//     run a step or forge an idempotency key) and the event engine's
//     (X-Strata-Queue, X-Strata-Receive-Count, X-Strata-Event-Id);
//   - Ce-*: the CloudEvents binary-mode attributes. Events reach functions
//     from the event engine, never through the gateway, so no HTTP route is
//     an event route; a client's ce-id would make the SDK take its request
//     for an event from one of the project's queues.
func platformHeader(name string) bool {
	return hasPrefixFold(name, "X-Strata-") || hasPrefixFold(name, "Ce-")
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// cleanRequestPath resolves the "." and ".." segments of the request's
// (unescaped) path, so that they never reach the router or a function as
// path parameters: "/a/%2e%2e/b" is "/a/../b" once unescaped, and routed as
// "/b". This is RFC 3986's remove_dot_segments; a ".." above the root stays
// at the root. Other segments are left as they are (an empty segment "//"
// is not a "." and no route parameter matches it).
func cleanRequestPath(r *http.Request) {
	if p, changed := cleanPath(r.URL.Path); changed {
		r.URL.Path = p
		r.URL.RawPath = "" // the escaped form described the old path
	}
}

func cleanPath(p string) (string, bool) {
	if !hasDotSegment(p) {
		return p, false // the common case: no allocation
	}
	segs := strings.Split(p, "/")[1:] // p starts with "/"; the server ensures it
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
			continue
		}
		if last {
			out = append(out, "") // "/a/." is "/a/": a directory, as RFC 3986 has it
		}
	}
	return "/" + strings.Join(out, "/"), true
}

// hasDotSegment reports whether p has a segment "." or "..".
func hasDotSegment(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] != '.' || (i > 0 && p[i-1] != '/') {
			continue
		}
		j := i + 1
		if j < len(p) && p[j] == '.' {
			j++
		}
		if j == len(p) || p[j] == '/' {
			return true
		}
	}
	return false
}

// hopByHop reports headers that describe one connection, which a guest must
// not set on the client's connection.
func hopByHop(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "Te", "Trailer", "Content-Length":
		return true
	}
	return false
}

// NewServer wraps a handler in an http.Server with timeouts that stop slow
// clients from holding connections: request headers must arrive within
// headerTimeout and the whole request within readTimeout.
func NewServer(h http.Handler, headerTimeout, readTimeout time.Duration, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: headerTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.Background() },
	}
}

// IsConsolePath reports whether path is the web console's
// (/_strata/console and under it), served with the admin API.
func IsConsolePath(path string) bool {
	return path == "/_strata/console" || strings.HasPrefix(path, "/_strata/console/")
}
