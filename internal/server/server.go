package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stratahq/strata/internal/api"
	"github.com/stratahq/strata/internal/bindings"
	"github.com/stratahq/strata/internal/cluster"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/console"
	"github.com/stratahq/strata/internal/events"
	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/flow/orchestrator"
	"github.com/stratahq/strata/internal/gateway"
	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/lambdaapi"
	"github.com/stratahq/strata/internal/metrics"
	"github.com/stratahq/strata/internal/objects"
	"github.com/stratahq/strata/internal/process"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/registry"
	"github.com/stratahq/strata/internal/route"
	"github.com/stratahq/strata/internal/sfn"
	"github.com/stratahq/strata/internal/sockets"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/postgres"
	"github.com/stratahq/strata/internal/store/sqlite"
	"github.com/stratahq/strata/internal/telemetry"
	stratatrace "github.com/stratahq/strata/internal/trace"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/sdk/go/wire"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Server is one running Strata node.
type Server struct {
	cfg config.Config
	log *slog.Logger
	// wake tells the other nodes of a cluster about sends, signals and
	// deploys (nil on SQLite); syncKick asks syncLoop to sync at once.
	wake     *wakeups
	syncKick chan struct{}
	// nodes is the membership as nodeURL last read it (nodesMu).
	nodesMu sync.Mutex
	nodes   []record.Node
	nodesAt time.Time
	logTap  func(record.LogLine)

	st store.Store
	rt *wasm.Runtime
	// procs runs process functions (kind: process).
	procs *process.Runtime
	reg   *registry.Registry
	inv   *invoke.Invoker
	ev    *events.Engine
	fl    *flow.Engine
	obj   *objects.Engine
	wfs   workflowIndex
	bnd   *bindings.Bindings
	// sink and flowHost answer guests' event and workflow host calls.
	// They need the engines, which run functions on the runtime, so they
	// are built after it: the runtime reaches them through the functions
	// Start gives it (hostCalls), and Start builds them before any
	// function loads.
	sink     *eventSink
	flowHost *orchestrator.Host
	gw       *gateway.Gateway
	// hub holds the node's WebSocket connections; closed after the
	// listeners stop (Shutdown does not track hijacked connections).
	hub     *sockets.Hub
	api     *api.API
	sfn     *sfn.Handler
	console *console.Console
	http    *http.Server
	ln      net.Listener
	// adminHTTP and adminLn serve the admin API alone when
	// config.AdminAddr is set; nil otherwise.
	adminHTTP *http.Server
	adminLn   net.Listener
	tls       *tls.Config // nil: plain HTTP

	// tracerProvider makes every span the node records (gateway,
	// invocations, host calls, queues, workflows); New sets a no-op one,
	// Start replaces it with the configured exporter pipeline unless
	// WithTracerProvider gave one (tests record spans in memory).
	tracerProvider    trace.TracerProvider
	tracerFromOptions bool                 // WithTracerProvider set it: Start keeps it
	tel               *telemetry.Telemetry // the pipeline behind tracerProvider; nil when tracing is off or given
	// metrics is the node's Prometheus registry: components register
	// their collectors here and /metrics serves it.
	metrics *prometheus.Registry
	// metricsHTTP and metricsLn serve /metrics alone when
	// config.MetricsAddr is set; nil otherwise.
	metricsHTTP *http.Server
	metricsLn   net.Listener

	// members keeps this node's row in the store's node list (its
	// heartbeat); nil until Start joins.
	members *cluster.Membership
	// draining is set by Drain: the engines take no new work (drainStore)
	// and health answers 503. requests counts HTTP requests in progress
	// (countRequests), which the drain waits for.
	draining atomic.Bool
	// enginesUp is set once s.ev and s.fl exist: the membership's
	// heartbeat loop, started before them, may release a gone node's
	// leases and wake them only from then on.
	enginesUp atomic.Bool
	// bgStopped is set by Stop once the background work is cancelled.
	bgStopped atomic.Bool
	requests  atomic.Int64

	loaded       chan struct{} // closed when load is done
	stopping     chan struct{} // closed when Drain or Stop begins: streaming answers end
	stoppingOnce sync.Once
	cancel       context.CancelCauseFunc
	bg           sync.WaitGroup
	stopOnce     sync.Once
	stopErr      error
}

// Option adjusts a server before it starts.
type Option func(*Server)

// WithLogTap makes every guest log line visible to fn as it is recorded
// (strata dev prints them).
func WithLogTap(fn func(record.LogLine)) Option { return func(s *Server) { s.logTap = fn } }

// WithTracerProvider records the node's spans with tp instead of the
// provider built from the configuration.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(s *Server) { s.tracerProvider, s.tracerFromOptions = tp, true }
}

// New validates cfg and returns a server that is not started.
func New(cfg config.Config, logger *slog.Logger, opts ...Option) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	s := &Server{cfg: cfg, log: logger, loaded: make(chan struct{}), stopping: make(chan struct{}),
		tracerProvider: noop.NewTracerProvider(), metrics: prometheus.NewRegistry()}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// OpenStore opens the configured backend. It is the one place that picks one.
func OpenStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	switch {
	case cfg.IsPostgres():
		// A stalled node's open transaction must not hold up the
		// release of its leases past the node lease (see
		// postgres.WithIdleInTransactionTimeout).
		lease := cfg.NodeLease
		if lease <= 0 {
			lease = cluster.DefaultLease
		}
		idle := min(max(lease/2, 500*time.Millisecond), postgres.DefaultIdleInTransactionTimeout)
		st, err := postgres.Open(ctx, cfg.Store, postgres.WithIdleInTransactionTimeout(idle))
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL store: %w", err)
		}
		return st, nil
	default:
		path := cfg.SQLitePath()
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("open SQLite store %s: %w", path, err)
		}
		return st, nil
	}
}

// The bindings serve the guests' binding calls (strata_v1.binding_call).
var _ wasm.Bindings = (*bindings.Bindings)(nil)

// Start opens everything and starts serving; what is deployed loads in
// the background (see load and Loaded), so a slow module does not keep the
// node from serving the others.
func (s *Server) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = s.Stop(context.Background())
		}
	}()
	if err := os.MkdirAll(s.cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if s.st, err = OpenStore(ctx, s.cfg); err != nil {
		return err
	}
	// Both backends time their operations for the metrics (an optional
	// interface: a store without it is simply not timed).
	if o, ok := s.st.(interface {
		ObserveOperations(func(op string, d time.Duration))
	}); ok {
		o.ObserveOperations(metrics.NewStoreOps(s.metrics).Observe)
	}
	if err := s.startTelemetry(ctx); err != nil {
		return err
	}
	key, err := secretKey(s.cfg)
	if err != nil {
		return err
	}
	if s.bnd, err = bindings.New(ctx, bindings.Config{Store: s.st, DataDir: s.cfg.DataDir, Key: key, Logger: s.log}); err != nil {
		return fmt.Errorf("start bindings: %w", err)
	}
	if s.cfg.IsPostgres() {
		// Nodes sharing a database must share the key (a SQLite store
		// has one node, whose key lives beside it in the data dir).
		if err := checkKeyFingerprint(ctx, s.st, s.bnd); err != nil {
			return err
		}
	}
	// Listen before anything runs: the node's default id is the host's
	// name and the port it got. Served once everything is built.
	if s.ln, err = net.Listen("tcp", s.cfg.Addr); err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	nodeID, advertise := s.cfg.NodeID, s.cfg.Advertise
	if nodeID == "" {
		nodeID = cluster.DefaultID(s.ln.Addr().String())
	}
	if advertise == "" {
		advertise = cluster.DefaultAddr(s.ln.Addr().String())
	}
	if bus, ok := s.st.(wakeBus); ok {
		s.wake = newWakeups(bus, nodeID, s.log)
	}
	s.syncKick = make(chan struct{}, 1)
	// The engines see the store through the drain: once the node drains
	// they claim no new work.
	engineStore := drainStore{Store: s.st, draining: &s.draining}
	sends, flows := s.hostCalls()
	objectCalls := wasm.ObjectsFunc(func(ctx context.Context, c *host.Call, req wire.ObjectRequest) (*wire.ObjectResponse, error) {
		return s.obj.Object(ctx, c, req)
	})
	// Every component records its spans with this tracer (nil when the
	// provider is a no-op: then nothing does any tracing work).
	tracer := stratatrace.NewTracer(s.tracerProvider)
	if s.rt, err = wasm.New(ctx, wasm.Config{CacheDir: s.cfg.CacheDir, Logger: quiet(s.log), Events: sends, Bindings: s.bnd, Flow: flows, Objects: objectCalls, Tracer: tracer,
		CompileBudget: s.cfg.CompileBudget, InitTimeout: s.cfg.InitTimeout, MaxFunctionBranches: s.cfg.MaxFunctionBranches}); err != nil {
		return fmt.Errorf("start runtime: %w", err)
	}
	icfg := invoke.Config{
		Store: s.st, Logger: s.log, LogTap: s.logTap, MaxConcurrency: s.cfg.MaxConcurrency, Bindings: s.bnd,
		ProjectConcurrency: s.cfg.ProjectConcurrency, MemoryBudgetMB: s.cfg.InstanceMemoryBudgetMB(), Tracer: tracer,
	}
	// Invocation metrics come from the invoker (one map lookup and atomic
	// adds per invocation); pools and the store are read at scrape time.
	icfg.Observer = metrics.NewInvocations(s.metrics)
	// Process functions: their code and sockets live under the data
	// directory, never inside any sandbox's view.
	// Their binding calls go to the same handlers as Wasm guests'.
	if s.procs, err = process.New(process.Config{Dir: filepath.Join(s.cfg.DataDir, "process"), Logger: quiet(s.log), Bindings: s.bnd, Events: sends, Tracer: tracer}); err != nil {
		return fmt.Errorf("start process runtime: %w", err)
	}
	s.reg = registry.New(registry.Config{Store: s.st, Runtime: s.rt, Process: s.procs, Logger: s.log, IdleTimeout: s.cfg.IdleTimeout, Pools: icfg.PoolLimits(), Tracer: tracer})
	icfg.Registry = s.reg
	s.inv = invoke.New(icfg)
	// Join before any engine claims work under this node's id: a second
	// node with the id of a live one stops here.
	s.members = cluster.New(cluster.Config{Store: s.st, ID: nodeID, Addr: advertise, Version: s.cfg.Version,
		Lease: s.cfg.NodeLease, Load: s.inv.Running, Logger: s.log, Released: s.released})
	if err := s.members.Join(ctx); err != nil {
		s.members = nil // not joined: Stop has nothing to leave
		return err
	}
	s.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		metrics.NewPools(s.reg.EachPool), metrics.NewStoreCollector(s.st, s.log, nil, 0))
	if lim, ok := s.cfg.GoMemoryLimit(); ok {
		// Guest memories live on the Go heap: a soft limit makes the
		// collector run (and return memory) before the node runs out.
		debug.SetMemoryLimit(lim)
		s.log.Debug("memory limits set", "instance_budget_mb", s.cfg.InstanceMemoryBudgetMB(), "gomemlimit_mb", lim>>20)
	}
	engines := metrics.NewEngines(s.metrics)
	s.ev = events.New(events.Config{Store: engineStore, Invoker: s.inv, Logger: s.log, Tracer: tracer, OnScheduleFire: engines.ObserveScheduleFire,
		Published: func(queue string) { s.wake.publish(wakeQueue, queue) }, Node: nodeID})
	s.sink = &eventSink{st: s.st, ev: s.ev} // before any function loads, so before any guest can send
	orch := &orchestrators{code: &orchestrator.Orchestrator{Invoker: s.inv}}
	s.fl = flow.New(flow.Config{
		Store: engineStore, Invoker: s.inv, Orchestrator: orch, Node: nodeID, Qualify: sfn.Qualify,
		Published: func(id string) { s.wake.publish(wakeExecution, id) },
		Workflows: s.wfs.lookup, ProjectOf: s.wfs.projectOf, Logger: s.log, Tracer: tracer, OnStep: engines.ObserveStep,
	})
	s.flowHost = &orchestrator.Host{Engine: s.fl, ProjectOf: s.wfs.projectOf}
	s.enginesUp.Store(true)
	s.hub = sockets.NewHub(sockets.Config{Logger: s.log}) // one per node: the gateway's routes and the objects' sockets
	if s.obj, err = objects.New(objects.Config{Store: engineStore, Registry: s.reg, Invoker: s.inv, Node: nodeID, Logger: s.log, Hub: s.hub,
		Forward: s.forwardStub}); err != nil {
		return fmt.Errorf("start durable objects: %w", err)
	}
	s.metrics.MustRegister(metrics.NewObjects(func() metrics.ObjectStats {
		st := s.obj.Stats()
		return metrics.ObjectStats{Live: st.Live, Events: st.Events, Evictions: st.Evictions, Commits: st.Commits, Writes: st.Writes, Sockets: s.hub.Len()}
	}))
	// The API invokes through the gateway and the gateway mounts the API:
	// the gateway is built first and serves the API through a function
	// that reaches s.api, built next (before the listener opens).
	gcfg := gateway.Config{Invoker: s.inv, Async: s.ev, Workflows: s.fl, Objects: s.obj, Logger: s.log, MaxBody: s.cfg.MaxBody, Version: s.cfg.Version,
		Executions: s.fl, StatusKey: s.bnd.Derive("execution status links"), Tracer: tracer, Sockets: s.hub,
		Owners: s.nodeURL, NodeKey: s.bnd.Derive("object requests forwarded between nodes"), NodeID: nodeID}
	if s.cfg.AdminAddr == "" {
		gcfg.Admin = http.HandlerFunc(s.serveAdmin)
	}
	// The Step Functions API checks tokens as the admin API does (its
	// cache included); s.api is set below, before anything is served.
	s.sfn = sfn.New(sfn.Config{Store: s.st, Invoker: s.inv, Logger: s.log, Executions: s.fl, ProjectOf: s.wfs.projectOf,
		Authenticate: func(ctx context.Context, token string) (record.Token, error) {
			return s.api.TokenByHash(ctx, api.HashToken(token))
		}})
	orch.states = s.sfn.Orchestrator()
	gcfg.StepFunctions = s.sfn
	// The Lambda Invoke API authenticates as the Step Functions API does.
	gcfg.LambdaAPI = lambdaapi.New(lambdaapi.Config{Invoker: s.inv, Async: s.ev, ProjectOf: s.wfs.projectOf, Account: sfn.Account, Logger: s.log,
		Authenticate: func(ctx context.Context, token string) (record.Token, error) {
			return s.api.TokenByHash(ctx, api.HashToken(token))
		},
		ActiveVersion: func(function string) int {
			if d, _, _ := s.reg.Lookup(function); d != nil {
				return d.Version.Number
			}
			return 0
		}})
	s.gw = gateway.New(gcfg)
	s.api = api.New(api.Config{
		Store: s.st, Invoker: s.reg, Gateway: s.gw, Events: s.ev, Bindings: s.bnd, Flows: s.fl, Logger: s.log, Prices: s.cfg.Prices, OnChange: s.changedHere,
		Stopping: s.stopping, SyncLogs: s.inv.SyncLogs, Metrics: s.metricsHandler(), Objects: s.obj, Sockets: s.hub,
		StateMachines: s.sfn, Nodes: s.members, Serving: s.reg.Versions,
	})
	if s.console, err = s.newConsole(); err != nil {
		return err
	}
	// Routes first: a route whose function is still loading answers 503
	// (invoke.ErrLoading), not 404.
	s.gw.SetLoading(s.reg.Loading)
	if err := s.reg.MarkLoading(ctx); err != nil {
		return err
	}
	if err := s.changed(ctx); err != nil {
		return err
	}
	if s.cfg.TLSCert != "" {
		// Loaded before listening, so a wrong path or a key that does
		// not match fails the start with a clear message.
		pair, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("--tls-cert %s / --tls-key %s: %w", s.cfg.TLSCert, s.cfg.TLSKey, err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}
	s.http = s.newHTTPServer(s.gw)
	if s.cfg.AdminAddr != "" {
		if s.adminLn, err = net.Listen("tcp", s.cfg.AdminAddr); err != nil {
			s.ln.Close() // not served yet, so Stop would not close it
			return fmt.Errorf("listen on admin addr %s: %w", s.cfg.AdminAddr, err)
		}
		s.adminHTTP = s.newHTTPServer(s.adminHandler())
	}
	if s.cfg.MetricsAddr != "" {
		if s.metricsLn, err = net.Listen("tcp", s.cfg.MetricsAddr); err != nil {
			s.ln.Close() // not served yet, so Stop would not close them
			if s.adminLn != nil {
				s.adminLn.Close()
			}
			return fmt.Errorf("listen on metrics addr %s: %w", s.cfg.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.metricsHandler())
		s.metricsHTTP = s.newHTTPServer(mux)
	}

	bgCtx, cancel := context.WithCancelCause(context.Background())
	s.cancel = cancel
	s.serve(s.http, s.ln)
	if s.adminHTTP != nil {
		s.serve(s.adminHTTP, s.adminLn)
	}
	if s.metricsHTTP != nil {
		s.serve(s.metricsHTTP, s.metricsLn)
	}
	s.goBackground(func() {
		ok := s.load(bgCtx)
		close(s.loaded)
		if ok {
			s.syncLoop(bgCtx)
		}
	})
	if s.wake != nil {
		ready := make(chan struct{})
		s.goBackground(func() { s.wake.run(bgCtx) })
		s.goBackground(func() { s.wake.listen(bgCtx, ready, s.woken) })
		// Listening before the node serves, so no wake-up of a peer is
		// missed once it is up (a slow database only delays it: polling
		// covers the gap).
		select {
		case <-ready:
		case <-time.After(2 * time.Second):
		}
	}
	s.goBackground(func() { s.retentionLoop(bgCtx) })
	s.log.Info("strata listening; loading deployed functions", "addr", s.ln.Addr().String(), "node", nodeID, "advertise", advertise, "admin_addr", s.AdminAddr(), "tls", s.tls != nil, "store", s.storeName())
	return nil
}

// newHTTPServer is an HTTP server of h with the node's timeouts and TLS.
func (s *Server) newHTTPServer(h http.Handler) *http.Server {
	hs := gateway.NewServer(s.countRequests(h), s.cfg.HeaderTimeout, s.cfg.ReadTimeout, s.log)
	hs.TLSConfig = s.tls
	return hs
}

// serve runs hs on ln in the background: HTTPS when the node has a
// certificate (ServeTLS also sets up HTTP/2), else plain HTTP.
func (s *Server) serve(hs *http.Server, ln net.Listener) {
	s.goBackground(func() {
		var err error
		if s.tls != nil {
			err = hs.ServeTLS(ln, "", "")
		} else {
			err = hs.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "addr", ln.Addr().String(), "err", err)
		}
	})
}

// metricsHandler serves the node's Prometheus registry (text or
// protobuf exposition, as the scraper asks).
func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{Registry: s.metrics})
}

// MetricsURL is the URL of /metrics on the --metrics-addr listener, ""
// when there is none.
func (s *Server) MetricsURL() string {
	if s.metricsLn == nil {
		return ""
	}
	return s.scheme() + s.metricsLn.Addr().String() + "/metrics"
}

// adminHandler serves the admin listener (config.AdminAddr): the admin
// API, and health and readiness so a probe can watch either listener.
// Functions are not served there.
func (s *Server) adminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/_strata/api/") || gateway.IsConsolePath(r.URL.Path):
			s.serveAdmin(w, r)
		case r.URL.Path == "/_strata/health" || r.URL.Path == "/_strata/ready":
			s.gw.ServeHTTP(w, r)
		default:
			gateway.WriteError(w, gateway.Errorf(http.StatusNotFound,
				"%s is not served here: this is the admin listener (the admin API under /_strata/api/, the console at /_strata/console, /_strata/health and /_strata/ready); functions are served on the public address", r.URL.Path), "")
		}
	})
}

// hostCalls are the runtime's event and workflow handlers: they forward
// to s.sink and s.flowHost, which Start builds once the engines exist
// (the engines run functions on the runtime, so they come after it).
// Guests call them only once a function has loaded, after Start.
func (s *Server) hostCalls() (wasm.EventSink, wasm.Flow) {
	sends := wasm.EventSinkFunc(func(ctx context.Context, ev wasm.OutboundEvent) (string, error) {
		return s.sink.SendEvent(ctx, ev)
	})
	flows := wasm.FlowFunc(func(ctx context.Context, c *host.Call, req wire.FlowRequest) (*wire.FlowResponse, error) {
		return s.flowHost.Flow(ctx, c, req)
	})
	return sends, flows
}

// Loaded is closed once every deployed function is loaded (or refused) and
// queues and workflows run (or the server stopped first).
func (s *Server) Loaded() <-chan struct{} { return s.loaded }

// load loads what is deployed while the node already serves: each
// function's active version is compiled and initialised alongside the
// others (each bounded by the compile budget and the init timeout) and
// serves as soon as it is ready, so one slow module holds up only its own
// routes, which answer 503 with Retry-After meanwhile. Queue consumers
// and the workflow engine start after it: they then find every function
// that can load loaded. It reports false when the server stopped first.
func (s *Server) load(ctx context.Context) bool {
	start := time.Now()
	for {
		err := s.reg.Load(ctx, runtime.GOMAXPROCS(0))
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return false
		}
		// The store did not answer: nothing loaded can be trusted yet.
		s.log.Error("load deployed functions; retrying", "err", err)
		if !sleepCtx(ctx, s.cfg.SyncInterval) {
			return false
		}
	}
	for {
		err := s.changed(ctx)
		if err == nil {
			// Consumers start after the functions they feed are loaded.
			err = s.ev.Start(ctx)
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return false
		}
		s.log.Error("start queues and workflows after loading; retrying", "err", err)
		if !sleepCtx(ctx, s.cfg.SyncInterval) {
			return false
		}
	}
	s.fl.Run()
	s.gw.SetLoading(nil)
	if err := s.members.SetState(ctx, record.NodeServing); err != nil && ctx.Err() == nil {
		s.log.Warn("record node serving", "err", err)
	}
	s.log.Info("strata serving; deployed functions loaded", "duration", time.Since(start))
	return true
}

// sleepCtx waits d, or less if ctx ends; it reports whether ctx is live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (s *Server) storeName() string {
	if s.cfg.IsPostgres() {
		return "postgres"
	}
	return "sqlite:" + s.cfg.SQLitePath()
}

func (s *Server) goBackground(fn func()) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		fn()
	}()
}

// changed brings what this node serves up to date after a deploy or
// rollback: routes, and database pools whose configuration changed.
func (s *Server) changed(ctx context.Context) error {
	if err := s.wfs.rebuild(ctx, s.st, s.reg); err != nil {
		return err
	}
	if err := s.reloadRoutes(ctx); err != nil {
		return err
	}
	return s.refreshBindings(ctx)
}

// refreshBindings retires database pools whose configuration or URL secrets
// changed (through this node or another one).
func (s *Server) refreshBindings(ctx context.Context) error {
	dbs, err := s.st.DatabaseList(ctx)
	if err != nil {
		return fmt.Errorf("list databases: %w", err)
	}
	secrets, err := s.st.SecretList(ctx)
	if err != nil {
		return fmt.Errorf("list secrets: %w", err)
	}
	s.bnd.Refresh(ctx, dbs, secrets)
	return nil
}

// reloadRoutes rebuilds the route table from the store.
func (s *Server) reloadRoutes(ctx context.Context) error {
	routes, err := s.st.RouteList(ctx)
	if err != nil {
		return fmt.Errorf("load routes: %w", err)
	}
	r, err := route.NewRouter(routes)
	if err != nil {
		return fmt.Errorf("build routes: %w", err)
	}
	s.gw.SetRouter(r, routes)
	return nil
}

// syncLoop picks up deploys and rollbacks made through other nodes sharing
// the store: every SyncInterval, and at once when a node says it deployed
// (wakeDeploy).
func (s *Server) syncLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.syncKick:
		}
		if err := s.reg.Sync(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sync deployed functions", "err", err)
			continue
		}
		if err := s.changed(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sync routes and database pools", "err", err)
		}
	}
}

// retentionLoop deletes logs and usage records past their retention.
func (s *Server) retentionLoop(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := s.st.LogDeleteBefore(ctx, time.Now().Add(-s.cfg.LogRetention)); err != nil && ctx.Err() == nil {
			s.log.Warn("delete old logs", "err", err)
		} else if n > 0 {
			s.log.Info("deleted old logs", "lines", n)
		}
		if n, err := s.st.UsageDeleteBefore(ctx, time.Now().Add(-s.cfg.UsageRetention)); err != nil && ctx.Err() == nil {
			s.log.Warn("delete old usage", "err", err)
		} else if n > 0 {
			s.log.Info("deleted old usage records", "records", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Addr is the address the server listens on (useful with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the base URL of the server's public listener.
func (s *Server) URL() string { return s.scheme() + s.Addr() }

// AdminAddr is the address the admin API is served on: the admin
// listener's, or the public one's when there is none.
func (s *Server) AdminAddr() string {
	if s.adminLn != nil {
		return s.adminLn.Addr().String()
	}
	return s.Addr()
}

// AdminURL is the base URL of the admin API (give it to --server).
func (s *Server) AdminURL() string { return s.scheme() + s.AdminAddr() }

func (s *Server) scheme() string {
	if s.tls != nil {
		return "https://"
	}
	return "http://"
}

// Store returns the server's store.
func (s *Server) Store() store.Store { return s.st }

// API returns the admin API.
func (s *Server) API() *api.API { return s.api }

// EnsureAdminToken creates a first admin token when the store has none and
// returns it; it returns "" when tokens exist already (the token is shown
// once and only its hash is kept).
func (s *Server) EnsureAdminToken(ctx context.Context) (string, error) {
	n, err := s.st.TokenCount(ctx)
	if err != nil {
		return "", err
	}
	if n > 0 {
		return "", nil
	}
	tok := NewToken()
	if err := s.st.TokenPut(ctx, record.Token{Hash: api.HashToken(tok), Name: "admin"}); err != nil {
		return "", err
	}
	return tok, nil
}

// AddToken records a token (its hash) if it is not known yet.
func (s *Server) AddToken(ctx context.Context, tok, name string) error {
	h := api.HashToken(tok)
	_, err := s.st.TokenGet(ctx, h)
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return s.st.TokenPut(ctx, record.Token{Hash: h, Name: name})
}

// NewToken returns a fresh random admin token.
func NewToken() string { return api.NewToken() }

// startTelemetry builds the tracing pipeline from the configuration,
// spans going to the node's store and to a collector when one is set,
// unless WithTracerProvider gave a provider or tracing is off.
func (s *Server) startTelemetry(ctx context.Context) error {
	if s.tracerFromOptions || s.cfg.TraceSample == 0 {
		return nil
	}
	maxSpans := s.cfg.TraceMaxSpans
	if maxSpans == 0 {
		maxSpans = -1 // no cap
	}
	tel, err := telemetry.New(ctx, telemetry.Config{
		SampleRatio: s.cfg.TraceSample, Store: s.st, Retention: s.cfg.TraceRetention, MaxSpans: maxSpans,
		OTLPEndpoint: s.cfg.OTLPEndpoint, OTLPFromEnv: s.cfg.OTLPFromEnv, OTLPProtocol: s.cfg.OTLPProtocol,
		Version: s.cfg.Version, Registerer: s.metrics, Logger: s.log,
	})
	if err != nil {
		return fmt.Errorf("start tracing: %w", err)
	}
	s.tel, s.tracerProvider = tel, tel.TracerProvider()
	return nil
}

// Stop stops accepting requests, lets in-flight ones finish (bounded by
// ctx), drains pools, flushes usage and logs, and closes the store. It is
// idempotent.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		var errs []error
		s.closeStopping() // streaming answers end, so Shutdown need not wait for them
		if s.http == nil && s.ln != nil {
			s.ln.Close() // Start failed after listening, before serving
		}
		if s.http != nil {
			errs = append(errs, s.http.Shutdown(ctx))
		}
		if s.adminHTTP != nil {
			errs = append(errs, s.adminHTTP.Shutdown(ctx))
		}
		if s.metricsHTTP != nil {
			errs = append(errs, s.metricsHTTP.Shutdown(ctx))
		}
		if s.hub != nil {
			// After the listeners, before the invoker: each connection's
			// $disconnect still runs.
			s.hub.Close()
		}
		if s.cancel != nil {
			s.cancel(errors.New("server stopping"))
		}
		s.bgStopped.Store(true)
		s.bg.Wait()
		if s.sfn != nil {
			s.sfn.Stop() // before the invoker: its executions' tasks still run
		}
		if s.ev != nil {
			errs = append(errs, s.ev.Stop(ctx))
		}
		if s.fl != nil {
			s.fl.Close()
		}
		if s.obj != nil {
			// Commits what objects wrote and releases their leases, so
			// another node (or this one restarted) takes them at once.
			errs = append(errs, s.obj.Close(ctx))
		}
		if s.reg != nil {
			errs = append(errs, s.reg.Close(ctx))
		}
		if s.inv != nil {
			errs = append(errs, s.inv.Close(ctx))
		}
		if s.rt != nil {
			errs = append(errs, s.rt.Close(ctx))
		}
		if s.procs != nil {
			errs = append(errs, s.procs.Close())
		}
		if s.members != nil {
			// After the engines let go of their work: what they still
			// held (a task whose run was cut short, messages received
			// and not acked) is released for the others to take now,
			// then the node is listed gone and its id is free at once.
			s.members.Release(ctx)
			errs = append(errs, s.members.Leave(ctx))
		}
		if s.tel != nil {
			// Every span is ended by now; what is buffered goes to the
			// store before it closes (and to the collector), within ctx.
			errs = append(errs, s.tel.Shutdown(ctx))
		}
		if s.bnd != nil {
			errs = append(errs, s.bnd.Close())
		}
		if s.st != nil {
			errs = append(errs, s.st.Close())
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

// changedHere is the API's OnChange: what this node deployed is applied
// here, and the other nodes are told to sync now.
func (s *Server) changedHere(ctx context.Context) error {
	err := s.changed(ctx)
	s.wake.publish(wakeDeploy, "")
	return err
}

// released wakes the engines that can take over what a node let go of
// (cluster.Config.Released): here, and on the other nodes through the
// wake bus. On a stopping node the engines and the bus's publisher are
// gone: the wake-ups are published directly, within the stop's bounds.
func (s *Server) released(r store.NodeReleased) {
	if !s.enginesUp.Load() {
		return
	}
	var kinds [][2]string
	for _, q := range r.Queues {
		kinds = append(kinds, [2]string{wakeQueue, q})
	}
	if r.Tasks > 0 {
		// An empty id wakes the claim loop only.
		kinds = append(kinds, [2]string{wakeExecution, ""})
	}
	stopping := s.bgStopped.Load()
	for _, k := range kinds {
		if !stopping {
			s.woken(k[0], k[1])
			s.wake.publish(k[0], k[1])
			continue
		}
		if s.wake != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = s.wake.bus.Publish(ctx, s.wake.node+sep+k[0]+sep+k[1])
			cancel()
		}
	}
}

// woken acts on another node's wake-up.
func (s *Server) woken(kind, key string) {
	switch kind {
	case wakeQueue:
		s.ev.Wake(key)
	case wakeExecution:
		s.fl.Wake(key)
	case wakeDeploy:
		select {
		case s.syncKick <- struct{}{}:
		default:
		}
	}
}

// nodeURL is the base URL of live node id (serving or draining), from
// the membership, read at most once a second.
func (s *Server) nodeURL(ctx context.Context, id string) (string, bool) {
	if s.members == nil {
		return "", false
	}
	s.nodesMu.Lock()
	defer s.nodesMu.Unlock()
	if time.Since(s.nodesAt) > time.Second {
		nodes, err := s.members.Nodes(ctx)
		if err != nil {
			return "", false
		}
		s.nodes, s.nodesAt = nodes, time.Now()
	}
	for _, n := range s.nodes {
		if n.ID == id && (n.State == record.NodeServing || n.State == record.NodeDraining) && n.Addr != "" {
			return s.scheme() + n.Addr, true
		}
	}
	return "", false
}

// forwardStub runs a stub call on the node that holds the object.
func (s *Server) forwardStub(ctx context.Context, owner string, key record.ObjectKey, name string, req *wire.Request) (*wire.Response, error) {
	base, ok := s.nodeURL(ctx, owner)
	if !ok {
		return nil, fmt.Errorf("node %s, which holds the object, is not serving", owner)
	}
	return s.gw.ForwardStub(ctx, base, gateway.StubCall{Project: key.Project, Class: key.Class, ID: key.ID, Name: name, Request: req})
}
