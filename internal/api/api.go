package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/deploy"
	"github.com/stratahq/strata/internal/events"
	"github.com/stratahq/strata/internal/gateway"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/meter"
	"github.com/stratahq/strata/internal/pool"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/registry"
	"github.com/stratahq/strata/internal/sockets"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/sdk/go/wire"
)

// MaxBlobBytes caps an uploaded module.
const MaxBlobBytes = 256 << 20

// Invoker is what the API needs of the versions this node serves
// (*registry.Registry): compiling a version before a deploy writes it,
// serving what the store says after, and the pools' statistics.
type Invoker interface {
	Prepare(ctx context.Context, function string, bin []byte, sha string, c record.FunctionConfig) (registry.Prepared, error)
	Sync(ctx context.Context) error
	PoolStats() map[string]pool.Stats
}

// DirectInvoker runs a function for an HTTP request without route matching.
type DirectInvoker interface {
	Invoke(w http.ResponseWriter, r *http.Request, fn string)
	// InvokeEvent runs fn with a request the event engine built, its
	// CloudEvents headers kept.
	InvokeEvent(w http.ResponseWriter, r *http.Request, fn string, req *wire.Request, trigger string, shaper invoke.Shaper)
}

// Config configures the API.
type Config struct {
	Store    store.Store
	Invoker  Invoker
	Gateway  DirectInvoker
	Logger   *slog.Logger
	Prices   apitype.Prices
	Events   Events                          // queues, topics, async invokes
	Bindings BindingsAdmin                   // secrets, databases
	Flows    Flows                           // workflow executions; nil: not enabled (503)
	Clock    clock.Clock                     // token cache expiry; nil: the real clock
	OnChange func(ctx context.Context) error // called after a deploy or rollback changed what is served
	// Stopping, when closed, ends streaming answers (logs -f): a graceful
	// shutdown waits for open requests, and a follower's never ends by
	// itself. The client reconnects after the restart.
	Stopping <-chan struct{}
	// SyncLogs, if set, writes the log lines this node has recorded but
	// not yet stored; GET /logs calls it before reading, so a line of a
	// request already answered is always listed (lines are batched to the
	// store in the background, off the request path).
	SyncLogs func(ctx context.Context) error
	// Metrics, if set, serves GET /metrics (Prometheus): to a token of
	// every project with read scope or more, because the metrics name
	// every project's functions, queues and workflows.
	Metrics http.Handler
	// Objects, if set, says which durable objects this node holds in
	// memory (the live field of GET /objects; *objects.Engine); nil: none
	// is shown live. Listing, reading and deleting objects go to the
	// store and work without it.
	Objects LiveObjects

	// Sockets are the node's WebSocket connections (GET and DELETE
	// /connections); nil: 503 there.
	Sockets *sockets.Hub

	// StateMachines runs state machine executions for POST
	// /state-machines/{name}/start (*sfn.Handler); nil: 503 there.
	// Deploys tell it which machines they changed.
	StateMachines StateMachineRunner

	// Nodes lists the cluster's nodes for GET /nodes (*cluster.Membership);
	// nil: 503 there.
	Nodes NodeLister
	// Serving is the active version of every function this node serves
	// (registry.Versions), for GET /node.
	Serving func() []record.Version
}

// API is the admin HTTP handler.
type API struct {
	cfg Config
	mux *http.ServeMux
	// deployMu serialises reading the deployed state with planning, and
	// applying a plan, on this node (the store keeps nodes consistent).
	// Compiles happen outside it, under the project's lock (locks.go).
	deployMu sync.Mutex
	projects projectLocks

	tokens tokenCache // tokens seen valid, for TokenCacheTTL
}

// New builds the API handler.
func New(cfg Config) *API {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	a := &API{cfg: cfg, mux: http.NewServeMux()}
	// Routes registered with handle need an admin token; those a
	// project-scoped token may use are registered with handleScoped and
	// say which project they act on (auth.go).
	a.handleToken("GET /whoami", AnyProject, a.whoami)
	a.handleScoped("HEAD /blobs/{sha}", AnyProject, a.blobHead)
	a.handleScoped("PUT /blobs/{sha}", AnyProject, a.blobPut)
	a.handleToken("POST /deploy", AnyProject, a.deploy) // checks the spec's project
	a.handleToken("GET /functions", AnyProject, a.functions)
	a.handleScoped("GET /functions/{name}/versions", FunctionProject("name"), a.versions)
	a.handleScoped("POST /functions/{name}/rollback", FunctionProject("name"), a.rollback)
	a.handleScoped("POST /functions/{name}/invoke", FunctionProject("name"), a.invoke)
	a.routeTokens()
	a.handle("GET /routes", a.routes)
	a.handleScoped("GET /logs", QueryFunctionProject("function"), a.logs)
	a.handleScoped("GET /usage", QueryFunctionProject("function"), a.usage)
	a.routeEvents()
	a.routeBindings()
	a.routeFlows()
	a.routeObjects()
	a.routeStateMachines()

	a.routeConnections()
	a.routeNodes()
	if a.cfg.Metrics != nil {
		// AdminOnly access: a project-scoped token gets 403 (metrics span
		// every project); read scope is enough.
		a.handle("GET /metrics", func(w http.ResponseWriter, r *http.Request) error {
			a.cfg.Metrics.ServeHTTP(w, r)
			return nil
		})
	}
	// Go's profiler, for operators: behind the admin token like the rest.
	prof := http.NewServeMux()
	prof.HandleFunc("/debug/pprof/", pprof.Index)
	prof.HandleFunc("/debug/pprof/profile", pprof.Profile)
	prof.HandleFunc("/debug/pprof/trace", pprof.Trace)
	prof.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	a.handleAdmin("GET /debug/pprof/", func(w http.ResponseWriter, r *http.Request) error {
		http.StripPrefix(apitype.Prefix, prof).ServeHTTP(w, r)
		return nil
	})
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		gateway.WriteError(w, gateway.Errorf(http.StatusNotFound, "unknown API endpoint %s %s", r.Method, r.URL.Path), "")
	})
	return a
}

// handle registers a route of every project (project-scoped tokens get
// 403); its scope follows its method (scopeOf).
func (a *API) handle(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
	a.handleScoped(pattern, AdminOnly, h)
}

// handleAdmin registers a route only an admin token (admin scope, every
// project) may use: tokens and the profiler.
func (a *API) handleAdmin(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
	a.handleAt(pattern, AdminOnly, record.ScopeAdmin, func(w http.ResponseWriter, r *http.Request, _ record.Token) error { return h(w, r) })
}

// scopeOf is the scope a route needs unless it is an admin route: what
// only looks (GET, HEAD) needs read; what changes anything (deploy,
// rollback, invoke, secrets, sends, workflow starts and signals,
// database queries) needs deploy.
func scopeOf(method string) string {
	if method == http.MethodGet || method == http.MethodHead {
		return record.ScopeRead
	}
	return record.ScopeDeploy
}

// handleScoped registers a route that project-scoped tokens may use on
// the project acc names.
func (a *API) handleScoped(pattern string, acc Access, h func(w http.ResponseWriter, r *http.Request) error) {
	a.handleToken(pattern, acc, func(w http.ResponseWriter, r *http.Request, _ record.Token) error { return h(w, r) })
}

// handleToken is handleScoped for a handler that needs the token that
// authorised the request (to filter or check by its project): it gets it
// as an argument.
func (a *API) handleToken(pattern string, acc Access, h func(w http.ResponseWriter, r *http.Request, tok record.Token) error) {
	method, _, _ := strings.Cut(pattern, " ")
	a.handleAt(pattern, acc, scopeOf(method), h)
}

// handleAt registers a route with its access and the scope it needs.
func (a *API) handleAt(pattern string, acc Access, need string, h func(w http.ResponseWriter, r *http.Request, tok record.Token) error) {
	method, path, _ := strings.Cut(pattern, " ")
	a.mux.HandleFunc(method+" "+apitype.Prefix+path, func(w http.ResponseWriter, r *http.Request) {
		tok, err := a.authorize(r, acc, need)
		if err != nil {
			gateway.WriteError(w, err, "")
			return
		}
		if err := h(w, r, tok); err != nil {
			if gateway.Status(err) >= 500 {
				a.cfg.Logger.Error("admin API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			gateway.WriteError(w, err, "")
		}
	})
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

func writeJSON(w http.ResponseWriter, code int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func validSHA(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

func (a *API) blobHead(w http.ResponseWriter, r *http.Request) error {
	sha := r.PathValue("sha")
	if !validSHA(sha) {
		return gateway.Errorf(http.StatusBadRequest, "blob id %q is not a lowercase hex SHA-256", sha)
	}
	ok, err := a.cfg.Store.BlobExists(r.Context(), sha)
	if err != nil {
		return err
	}
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return nil
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (a *API) blobPut(w http.ResponseWriter, r *http.Request) error {
	sha := r.PathValue("sha")
	if !validSHA(sha) {
		return gateway.Errorf(http.StatusBadRequest, "blob id %q is not a lowercase hex SHA-256", sha)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBlobBytes))
	if err != nil {
		return gateway.Errorf(http.StatusRequestEntityTooLarge, "read module: %v", err)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != sha {
		return gateway.Errorf(http.StatusBadRequest, "module bytes do not match their SHA-256 %s", sha)
	}
	if err := a.cfg.Store.BlobPut(r.Context(), sha, data); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, apitype.BlobStored{SHA256: sha})
}

func (a *API) deploy(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	var spec apitype.Spec
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return gateway.Errorf(http.StatusBadRequest, "decode deploy spec: %v", err)
	}
	if err := a.allow(tok, spec.Project); err != nil {
		return err
	}
	planOnly, _ := strconv.ParseBool(r.URL.Query().Get("plan"))
	res, err := a.Deploy(r.Context(), spec, planOnly)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

// Deploy plans spec against what is deployed and, unless planOnly, applies
// it: every new module is compiled first (a module that fails to compile
// rejects the whole deploy before anything is written), then the store
// applies the plan in one transaction, then the invoker and router pick up
// the change.
//
// Deploys of one project run one at a time; compiles run outside the
// node-wide deploy lock, so a slow compile (bounded by the runtime's
// compile budget, and stopped when ctx ends) holds up only its own
// project. The plan is computed again under the lock before applying, as
// other projects may have deployed meanwhile; the modules are compiled by
// then, so that second pass costs no compile.
func (a *API) Deploy(ctx context.Context, spec apitype.Spec, planOnly bool) (*apitype.DeployResult, error) {
	if err := deploy.Validate(spec); err != nil {
		return nil, &gateway.StatusError{Code: http.StatusBadRequest, Err: err}
	}
	unlock, err := a.projects.lock(ctx, spec.Project)
	if err != nil {
		return nil, err
	}
	defer unlock()

	a.deployMu.Lock()
	plan, err := a.plan(ctx, spec)
	a.deployMu.Unlock()
	if err != nil {
		return nil, err
	}
	if planOnly || plan.Empty() {
		return deployResult(plan)
	}
	kinds, stats, err := a.prepare(ctx, plan, nil)
	if err != nil {
		return nil, err
	}

	a.deployMu.Lock()
	defer a.deployMu.Unlock()
	if plan, err = a.plan(ctx, spec); err != nil {
		return nil, err
	}
	if plan.Empty() {
		return deployResult(plan)
	}
	if _, _, err := a.prepare(ctx, plan, kinds); err != nil {
		return nil, err
	}
	out, err := a.cfg.Store.DeploymentApply(ctx, plan.ApplyParams(spec, time.Now()))
	if err != nil {
		return nil, fmt.Errorf("apply deploy of %s: %w", spec.Project, err)
	}
	err = plan.ApplyStateMachines(ctx, a.cfg.Store)
	a.forgetMachines(plan)
	if err != nil {
		return nil, fmt.Errorf("apply deploy of %s: %w", spec.Project, err)
	}
	// The answer shows the plan as applied: prepare filled in the kinds it
	// detected.
	res, err := deployResult(plan)
	if err != nil {
		return nil, err
	}
	res.Applied, res.Versions = true, out.Versions
	res.Prepared = preparedInfo(stats, out.Versions)
	if err := a.changed(ctx); err != nil {
		return res, err
	}
	a.cfg.Logger.Info("deployed", "project", spec.Project, "new_versions", len(out.Versions), "removed", len(plan.Remove))
	return res, nil
}

// plan computes spec's plan against the deployed state. The caller holds
// deployMu.
func (a *API) plan(ctx context.Context, spec apitype.Spec) (*deploy.Plan, error) {
	cur, err := a.state(ctx)
	if err != nil {
		return nil, err
	}
	if cur.StateMachines, err = a.projectMachines(ctx, spec.Project); err != nil {
		return nil, err
	}
	plan, err := deploy.Compute(spec, cur)
	if err != nil {
		return nil, &gateway.StatusError{Code: http.StatusConflict, Err: err}
	}
	return plan, nil
}

// prepare compiles the module of every added or changed function, and
// initialises one instance of each, several at once (GOMAXPROCS): a
// project's functions are independent, and a first deploy of a project
// of five Go functions would otherwise wait for five compiles in a row.
// It records the detected kind of prebuilt modules in the plan. kinds,
// from an earlier pass over the same spec, gives those kinds up front, so
// the compiled modules are found in the invoker's cache; prepare returns
// the kinds it saw and what preparing each function took. The first
// failure (in plan order) is the answer; a function whose init fails
// rejects the whole deploy, so nothing of it is written.
func (a *API) prepare(ctx context.Context, plan *deploy.Plan, kinds map[string]string) (map[string]string, map[string]registry.Prepared, error) {
	var changes []*deploy.FunctionChange
	for _, list := range [][]deploy.FunctionChange{plan.Add, plan.Change} {
		for i := range list {
			changes = append(changes, &list[i])
		}
	}
	results := make([]registry.Prepared, len(changes))
	errs := make([]error, len(changes))
	slots := make(chan struct{}, max(runtime.GOMAXPROCS(0), 1))
	var wg sync.WaitGroup
	for i, ch := range changes {
		if ch.New.Config.Kind == "" && kinds[ch.Name] != "" {
			ch.New.Config.Kind = kinds[ch.Name]
		}
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			results[i], errs[i] = a.prepareOne(ctx, ch)
		})
	}
	wg.Wait()
	seen := map[string]string{}
	stats := map[string]registry.Prepared{}
	for i, ch := range changes {
		if errs[i] != nil {
			return nil, nil, errs[i]
		}
		// A prebuilt module's kind is detected from its exports; the
		// version records what was detected, so it is never ambiguous.
		if ch.New.Config.Kind == "" {
			ch.New.Config.Kind = results[i].Kind
			if ch.New.Config.CPUMS > 0 {
				// Validate could not tell: the kind was not known yet.
				if err := deploy.CheckCPUKind(results[i].Kind); err != nil {
					return nil, nil, gateway.Errorf(http.StatusBadRequest, "function %s: cpu_ms: %v", ch.Name, err)
				}
			}
		}
		seen[ch.Name] = results[i].Kind
		stats[ch.Name] = results[i]
	}
	return seen, stats, nil
}

func (a *API) prepareOne(ctx context.Context, ch *deploy.FunctionChange) (registry.Prepared, error) {
	bin, err := a.cfg.Store.BlobGet(ctx, ch.New.ModuleSHA256)
	if errors.Is(err, store.ErrNotFound) {
		return registry.Prepared{}, gateway.Errorf(http.StatusBadRequest, "function %s: module %s was not uploaded", ch.Name, ch.New.ModuleSHA256)
	}
	if err != nil {
		return registry.Prepared{}, err
	}
	p, err := a.cfg.Invoker.Prepare(ctx, ch.Name, bin, ch.New.ModuleSHA256, ch.New.Config)
	if err != nil {
		return registry.Prepared{}, compileError(fmt.Errorf("function %s: %w", ch.Name, err))
	}
	return p, nil
}

// preparedInfo is the deploy answer's account of each new version: how
// long compiling and initialising it took.
func preparedInfo(stats map[string]registry.Prepared, versions []record.Version) []apitype.PreparedVersion {
	out := []apitype.PreparedVersion{}
	for _, v := range versions {
		p, ok := stats[v.Function]
		if !ok {
			continue
		}
		out = append(out, apitype.PreparedVersion{Function: v.Function, Version: v.Number, Kind: p.Kind,
			CompileMS: p.Compile.Milliseconds(), InitMS: p.Init.Milliseconds(), Snapshot: p.Snapshot, Reused: p.Reused})
	}
	return out
}

// compileError answers a busy compiler (every compile slot taken, e.g. by
// compiles abandoned over the budget) with 503: the module may be fine.
func compileError(err error) error {
	if invoke.IsCompileBusy(err) {
		return &gateway.StatusError{Code: http.StatusServiceUnavailable, Err: err}
	}
	return err
}

// deployResult is the answer for plan: the plan as JSON and as text. The
// client shows the text, so it needs none of package deploy's types.
func deployResult(p *deploy.Plan) (*apitype.DeployResult, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode plan of %s: %w", p.Project, err)
	}
	return &apitype.DeployResult{Plan: b, PlanText: planText(p)}, nil
}

func planText(p *deploy.Plan) string {
	var b strings.Builder
	p.Write(&b)
	return b.String()
}

func (a *API) changed(ctx context.Context) error {
	if err := a.cfg.Invoker.Sync(ctx); err != nil {
		return err
	}
	if a.cfg.Events != nil {
		if err := a.cfg.Events.Reconcile(ctx); err != nil {
			return err
		}
	}
	if a.cfg.OnChange != nil {
		return a.cfg.OnChange(ctx)
	}
	return nil
}

func (a *API) state(ctx context.Context) (deploy.State, error) {
	fns, err := a.cfg.Store.FunctionList(ctx)
	if err != nil {
		return deploy.State{}, err
	}
	st := deploy.State{Functions: fns, Active: map[string]record.Version{}}
	for _, f := range fns {
		v, err := a.cfg.Store.VersionGet(ctx, f.Name, f.ActiveVersion)
		if err != nil {
			return deploy.State{}, fmt.Errorf("load %s@%d: %w", f.Name, f.ActiveVersion, err)
		}
		st.Active[f.Name] = *v
	}
	if st.Routes, err = a.cfg.Store.RouteList(ctx); err != nil {
		return deploy.State{}, err
	}
	if st.Queues, err = a.cfg.Store.QueueList(ctx); err != nil {
		return deploy.State{}, err
	}
	if st.Topics, err = a.cfg.Store.TopicList(ctx); err != nil {
		return deploy.State{}, err
	}
	if st.Schedules, err = a.cfg.Store.ScheduleList(ctx); err != nil {
		return deploy.State{}, err
	}
	if st.Databases, err = a.cfg.Store.DatabaseList(ctx); err != nil {
		return deploy.State{}, err
	}
	if st.KV, err = a.cfg.Store.KVNamespaceList(ctx); err != nil {
		return deploy.State{}, err
	}
	return st, nil
}

// projectMachines lists all of a project's state machines, page by page.
func (a *API) projectMachines(ctx context.Context, project string) ([]record.StateMachine, error) {
	var out []record.StateMachine
	after := ""
	for {
		page, err := a.cfg.Store.StateMachinesList(ctx, store.StateMachinesListParams{Project: project, After: after, Limit: 100})
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < 100 {
			return out, nil
		}
		after = page[len(page)-1].Name
	}
}

func (a *API) functions(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	st, err := a.state(r.Context())
	if err != nil {
		return err
	}
	pools := a.cfg.Invoker.PoolStats()
	out := []apitype.FunctionInfo{}
	for _, f := range st.Functions {
		if !a.allowed(tok, f.Project) {
			continue
		}
		v := st.Active[f.Name]
		info := apitype.FunctionInfo{Name: f.Name, Project: f.Project, ActiveVersion: f.ActiveVersion,
			ModuleSHA256: v.ModuleSHA256, Config: redactEnv(v.Config), UpdatedAt: f.UpdatedAt}
		if ps, ok := pools[f.Name]; ok {
			info.Instances = &apitype.InstanceInfo{Idle: ps.Idle, Busy: ps.Busy, Provisioned: ps.Provisioned, ColdStarts: ps.ColdStarts,
				Invocations: ps.Invocations, PrewarmedAhead: ps.PrewarmedAhead, WaitedWarm: ps.WaitedWarm,
				Discarded: ps.Discarded, Reaped: ps.Reaped}
		}
		out = append(out, info)
	}
	return writeJSON(w, http.StatusOK, out)
}

// redactEnv hides environment values: they often hold credentials, and
// listing functions should not print them.
func redactEnv(c record.FunctionConfig) record.FunctionConfig {
	if len(c.Env) == 0 {
		return c
	}
	env := make(map[string]string, len(c.Env))
	for k := range c.Env {
		env[k] = "(set)"
	}
	c.Env = env
	return c
}

func (a *API) versions(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	f, err := a.cfg.Store.FunctionGet(r.Context(), name)
	if err != nil {
		return err // the store names the function
	}
	vs, err := a.cfg.Store.VersionList(r.Context(), name)
	if err != nil {
		return err
	}
	out := []apitype.VersionInfo{}
	for _, v := range vs {
		out = append(out, apitype.VersionInfo{Number: v.Number, ModuleSHA256: v.ModuleSHA256, Config: redactEnv(v.Config),
			CreatedAt: v.CreatedAt, Active: v.Number == f.ActiveVersion})
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) rollback(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	var body apitype.RollbackRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body); err != nil || body.Version < 1 {
		return gateway.Errorf(http.StatusBadRequest, `rollback wants {"version": N} with N ≥ 1`)
	}
	ctx := r.Context()
	f, err := a.cfg.Store.FunctionGet(ctx, name)
	if err != nil {
		return err // the store names the function
	}
	// Like a deploy: the project's lock around the whole rollback, the
	// node-wide lock only around repointing, not around the compile.
	unlock, err := a.projects.lock(ctx, f.Project)
	if err != nil {
		return err
	}
	defer unlock()
	v, err := a.cfg.Store.VersionGet(ctx, name, body.Version)
	if err != nil {
		return store.Wrapf(err, "function %s version %d", name, body.Version)
	}
	bin, err := a.cfg.Store.BlobGet(ctx, v.ModuleSHA256)
	if err != nil {
		return fmt.Errorf("module of %s@%d: %w", name, v.Number, err)
	}
	// Compile before repointing, so the rollback never serves a version
	// this node cannot run.
	if _, err := a.cfg.Invoker.Prepare(ctx, fmt.Sprintf("%s@%d", name, v.Number), bin, v.ModuleSHA256, v.Config); err != nil {
		return compileError(err)
	}
	a.deployMu.Lock()
	defer a.deployMu.Unlock()
	if err := a.cfg.Store.FunctionSetActiveVersion(ctx, name, body.Version); err != nil {
		return fmt.Errorf("roll back %s to %d: %w", name, body.Version, err)
	}
	if err := a.changed(ctx); err != nil {
		return err
	}
	a.cfg.Logger.Info("rolled back", "function", name, "version", body.Version)
	return writeJSON(w, http.StatusOK, apitype.RollbackResult{ActiveVersion: body.Version, Function: name})
}

// invoke runs the function with the request body as its body. The request
// reaching the guest has method X-Strata-Method (default POST) and path
// X-Strata-Path (default "/"), so a handler written for its HTTP routes can
// be invoked directly too.
func (a *API) invoke(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	method := r.Header.Get(apitype.HeaderMethod)
	if method == "" {
		method = http.MethodPost
	}
	path := r.Header.Get(apitype.HeaderPath)
	if path == "" {
		path = "/"
	}
	if !strings.HasPrefix(path, "/") {
		return gateway.Errorf(http.StatusBadRequest, "X-Strata-Path must start with /")
	}
	r2 := r.Clone(r.Context())
	r2.Method = method
	p, q, _ := strings.Cut(path, "?")
	r2.URL.Path, r2.URL.RawQuery = p, q
	r2.Header.Del("Authorization") // the admin token is not the function's business
	r2.Header.Del(apitype.HeaderMethod)
	r2.Header.Del(apitype.HeaderPath)
	if ev := r.URL.Query().Get("event"); ev != "" {
		return a.invokeEvent(w, r2, name, ev, r.URL.Query().Get("source"))
	}
	if async, _ := strconv.ParseBool(r.URL.Query().Get("async")); async {
		req, err := gateway.ReadRequest(w, r2, events.MaxEventBytes)
		if err != nil {
			return err
		}
		return a.invokeAsync(w, r2, name, req)
	}
	a.cfg.Gateway.Invoke(w, r2, name)
	return nil
}

func (a *API) routes(w http.ResponseWriter, r *http.Request) error {
	rs, err := a.cfg.Store.RouteList(r.Context())
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []record.Route{}
	}
	return writeJSON(w, http.StatusOK, rs)
}

// logs streams log lines as NDJSON. With follow=true it keeps polling the
// store (so it sees lines written by any node) until the client leaves.
func (a *API) logs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	// Scoping: a project token must name a function (QueryFunctionProject
	// checks it is the token's project's), and every filter below is ANDed
	// with that function, so an invocation id or a time range cannot reach
	// another project's lines.
	// A trace spans projects (a route of one may call another's), so a
	// trace id alone reaches no further than the function it is ANDed
	// with.
	p := store.LogListParams{Function: q.Get("function"), InvocationID: q.Get("invocation")}
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return gateway.Errorf(http.StatusBadRequest, "after must be a log id")
		}
		p.AfterID = n
	}
	paged := true // without a limit, page through every matching line
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			return gateway.Errorf(http.StatusBadRequest, "limit must be 1..10000")
		}
		p.Limit, paged = n, false
	}
	if s := q.Get("tail"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			return gateway.Errorf(http.StatusBadRequest, "tail must be a number of lines, 1..10000, got %q", s)
		}
		p.Tail = n
	}
	if s := q.Get("since"); s != "" {
		t, err := parseSince("since", s, time.Now())
		if err != nil {
			return err
		}
		p.Since = t
	}
	if s := q.Get("until"); s != "" {
		t, err := parseSince("until", s, time.Now())
		if err != nil {
			return err
		}
		p.Until = t
	}
	if s := q.Get("trace"); s != "" {
		if !isTraceID(s) {
			return gateway.Errorf(http.StatusBadRequest, "trace must be a trace id of 32 lowercase hex digits (the trace_id of a log line, or of a traceparent header), got %q", s)
		}
		p.TraceID = s
	}
	if s := q.Get("level"); s != "" {
		l, ok := record.ParseLogLevel(s)
		if !ok {
			return gateway.Errorf(http.StatusBadRequest, "level must be debug, info, warn or error, got %q", s)
		}
		p.MinLevel = l
	}
	follow, _ := strconv.ParseBool(q.Get("follow"))
	if p.Function != "" {
		if _, err := a.cfg.Store.FunctionGet(r.Context(), p.Function); err != nil {
			return err // the store names the function
		}
	}
	limit := p.Limit
	if limit == 0 {
		limit = 1000 // the store's default page
	}
	if a.cfg.SyncLogs != nil {
		if err := a.cfg.SyncLogs(r.Context()); err != nil {
			return fmt.Errorf("write pending log lines: %w", err)
		}
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		lines, err := a.cfg.Store.LogList(r.Context(), p)
		if err != nil {
			if r.Context().Err() != nil {
				return nil
			}
			a.cfg.Logger.Error("list logs", "err", err)
			return nil // headers are sent; the client sees the stream end
		}
		for _, l := range lines {
			_ = enc.Encode(apitype.LogEntry{ID: l.ID, Time: l.Time, Function: l.Function, Version: l.Version,
				InvocationID: l.InvocationID, TraceID: l.TraceID, SpanID: l.SpanID, Stream: l.Stream, Level: l.Level.String(), Line: l.Line})
			p.AfterID = l.ID
		}
		if flusher != nil {
			flusher.Flush()
		}
		full := p.Tail == 0 && len(lines) == limit
		p.Tail = 0 // the tail is read once; following continues after it
		if full && paged {
			continue // more history: no need to wait for the next tick
		}
		if !follow {
			return nil
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-a.cfg.Stopping:
			return nil
		case <-tick.C:
		}
	}
}

// parseSince reads a log query's since: a duration back from now (10m,
// 1h30m) or an RFC 3339 time.
// parseSince reads the time query parameter name (since, until): a
// positive duration back from now, or an RFC 3339 time.
func parseSince(name, s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, gateway.Errorf(http.StatusBadRequest, "%s must be a positive duration like 10m or an RFC 3339 time like 2026-01-02T15:04:05Z, got %q", name, s)
}

// isTraceID reports whether s is a W3C trace id: 32 lowercase hex digits.
func isTraceID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (a *API) usage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	since := time.Time{}
	if s := q.Get("since"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return gateway.Errorf(http.StatusBadRequest, "since must be a positive duration like 1h or 30m, got %q", s)
		}
		since = time.Now().Add(-d).UTC()
	}
	recs, err := a.cfg.Store.UsageList(r.Context(), store.UsageListParams{Function: q.Get("function"), Since: since})
	if err != nil {
		return err
	}
	sum := meter.Summarize(recs, a.cfg.Prices)
	return writeJSON(w, http.StatusOK, apitype.UsageReport{Since: since, Prices: a.cfg.Prices, Functions: sum.Functions, Total: sum.Total})
}
