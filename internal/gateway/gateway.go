package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Response headers the gateway adds to every function response.
const (
	HeaderInvocationID = "X-Strata-Invocation-Id"
	HeaderVersion      = "X-Strata-Version"
	HeaderTraceparent  = "Traceparent"
)

// DefaultMaxBody is the default cap on request bodies: 6 MiB, as Lambda's
// synchronous payload limit.
const DefaultMaxBody = 6 << 20

// Router finds the function for a request.
type Router interface {
	Match(method, path string) (fn string, params []wire.Param, allowed []string, ok bool)
}

// Invoker runs one invocation.
type Invoker interface {
	Invoke(ctx context.Context, r invoke.Request) (*invoke.Result, error)
}

// Config configures the gateway.
type Config struct {
	Invoker Invoker
	Admin   http.Handler // the admin API, served under /_strata/api/
	Logger  *slog.Logger
	MaxBody int64  // request body cap; default DefaultMaxBody
	Version string // reported by the health endpoint
}

// Gateway is the HTTP handler in front of all functions.
type Gateway struct {
	cfg    Config
	router atomic.Pointer[routerBox]
	bufs   sync.Pool
}

type routerBox struct{ r Router }

// New returns a gateway with no routes.
func New(cfg Config) *Gateway {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{cfg: cfg}
	g.bufs.New = func() any { return new(bytes.Buffer) }
	return g
}

// SetRouter swaps the route table atomically; requests in flight keep the
// table they matched against.
func (g *Gateway) SetRouter(r Router) { g.router.Store(&routerBox{r: r}) }

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_strata/") {
		g.servePlatform(w, r)
		return
	}
	box := g.router.Load()
	if box == nil {
		WriteError(w, Errorf(http.StatusNotFound, "no route for %s %s: nothing is deployed", r.Method, r.URL.Path), "")
		return
	}
	fn, params, allowed, ok := box.r.Match(r.Method, r.URL.Path)
	if !ok {
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			WriteError(w, Errorf(http.StatusMethodNotAllowed, "method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allowed, ", ")), "")
			return
		}
		WriteError(w, Errorf(http.StatusNotFound, "no route for %s %s", r.Method, r.URL.Path), "")
		return
	}
	g.invoke(w, r, fn, params, "http")
}

// invoke runs fn for an HTTP request and writes its response. The admin
// API's invoke endpoint uses it as well, so both paths behave the same.
func (g *Gateway) invoke(w http.ResponseWriter, r *http.Request, fn string, params []wire.Param, trigger string) {
	buf := g.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 1<<20 { // do not keep huge buffers alive
			g.bufs.Put(buf)
		}
	}()
	if r.ContentLength > g.cfg.MaxBody {
		WriteError(w, Errorf(http.StatusRequestEntityTooLarge, "request body of %d bytes is over the %d byte limit", r.ContentLength, g.cfg.MaxBody), "")
		return
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, g.cfg.MaxBody)); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			WriteError(w, Errorf(http.StatusRequestEntityTooLarge, "request body over the %d byte limit", g.cfg.MaxBody), "")
			return
		}
		WriteError(w, Errorf(http.StatusBadRequest, "read request body: %v", err), "")
		return
	}
	req := &wire.Request{
		Method:     r.Method,
		Path:       r.URL.Path,
		RawQuery:   r.URL.RawQuery,
		Host:       r.Host,
		RemoteAddr: r.RemoteAddr,
		Headers:    wireHeaders(r.Header),
		Params:     params,
		Body:       buf.Bytes(),
	}
	res, err := g.cfg.Invoker.Invoke(r.Context(), invoke.Request{
		Function: fn, Trigger: trigger, TraceParent: r.Header.Get("Traceparent"), Wire: req,
	})
	h := w.Header()
	if res != nil {
		h.Set(HeaderTraceparent, res.Trace.Header())
	}
	if err != nil {
		id := ""
		if res != nil {
			id = res.InvocationID
		}
		WriteError(w, err, id)
		return
	}
	for _, hv := range res.Response.Headers {
		if hopByHop(hv.Name) {
			continue
		}
		h[http.CanonicalHeaderKey(hv.Name)] = hv.Values
	}
	h.Set(HeaderInvocationID, res.InvocationID)
	h.Set(HeaderVersion, strconv.Itoa(res.Version))
	h.Set("Content-Length", strconv.Itoa(len(res.Response.Body)))
	w.WriteHeader(res.Response.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(res.Response.Body)
	}
}

// Invoke serves the admin API's direct invoke: the request goes to fn
// whatever the routes say. When the path matches one of fn's own routes,
// its path parameters are filled in, so a handler reading r.PathValue works
// the same when invoked directly.
func (g *Gateway) Invoke(w http.ResponseWriter, r *http.Request, fn string) {
	var params []wire.Param
	if box := g.router.Load(); box != nil {
		if matched, p, _, ok := box.r.Match(r.Method, r.URL.Path); ok && matched == fn {
			params = p
		}
	}
	g.invoke(w, r, fn, params, "invoke")
}

func (g *Gateway) servePlatform(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/_strata/health":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "ok", "version": g.cfg.Version})
	case strings.HasPrefix(r.URL.Path, "/_strata/api/") && g.cfg.Admin != nil:
		g.cfg.Admin.ServeHTTP(w, r)
	default:
		WriteError(w, Errorf(http.StatusNotFound, "unknown platform path %s", r.URL.Path), "")
	}
}

func wireHeaders(h http.Header) []wire.Header {
	out := make([]wire.Header, 0, len(h))
	for name, vals := range h {
		out = append(out, wire.Header{Name: name, Values: vals})
	}
	return out
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
