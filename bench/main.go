// Command bench is Strata's whole-system benchmark harness. One command runs
// every scenario on this machine, one after another, and prints a table plus
// machine-readable JSON:
//
//	bash bench/peers/workerd/install.sh   # once, optional: the workerd peer
//	go run ./bench [-duration 10s] [-connections 64] [-only warm,cold,handle,memory,queue,async,burst,bindings,workflow,innerloop,objects] [-json out.json]
//
// Scenarios:
//   - warm: a hello function served by `strata dev` through the gateway,
//     against bare Go net/http (bench/peers/nethttp) and Cloudflare's
//     workerd (bench/peers/workerd), driven by wrk when it is on PATH, else
//     by a built-in closed-loop load generator; reports req/s, p50, p99 and
//     the ratios strata/nethttp and strata/workerd;
//   - cold: in-process cold starts: a Go reactor guest instantiated and
//     called once, and a C command guest run once;
//   - handle: the in-process cost of one call on a warm instance;
//   - memory: Go heap, resident and proportional set per warm instance, and
//     the process's with 1,000 of them held;
//   - queue: queue throughput end to end (send → consumer function → ack)
//     in process on SQLite and PostgreSQL, draining a backlog and with
//     concurrent senders, against River on the same PostgreSQL;
//   - async: async invoke latency, accepted → started, one at a time;
//   - burst: concurrent requests to a function with provisioned: 8 and
//     with provisioned: 0 on a fresh `strata dev`: cold starts, p99, 429s;
//   - bindings: 500 concurrent invocations of a function querying
//     PostgreSQL through a binding with max_connections 10 (throughput,
//     errors, peak connections in pg_stat_activity), against 500
//     goroutines opening a connection per request as a role with a
//     CONNECTION LIMIT (how many are refused);
//   - workflow: durable workflows in process on SQLite and PostgreSQL
//     (bench/workflow.go): workflows of three no-op steps, each a function
//     invocation, started by 32 concurrent clients (wf/s), one at a time
//     (p50, p99), and one workflow of 10,000 steps (its cost per step along
//     the history), against DBOS Transact for Go on the same databases and
//     Temporal's dev server (bench/workflow_peers.go), with the ratios;
//   - objects: durable objects through `strata dev` (bench/objects.go): a
//     counter with one durable write per request on one object and over
//     1,000, against the same Durable Object on workerd with SQLite-backed
//     storage; a broadcast to 1,000 WebSockets; waking a hibernated
//     object; the process's memory with 10,000 objects touched.
//
// The harness owns measurement and reporting only; it drives the platform
// through its public binary and through internal/wasm, and installs
// nothing (bench/peers/workerd/install.sh does). All traffic goes to
// 127.0.0.1 and every scenario is a bounded loop. See docs/benchmarks.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/stratahq/strata/internal/build"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// Scenario names accepted by -only.
const (
	scenarioWarm   = "warm"
	scenarioCold   = "cold"
	scenarioHandle = "handle"
	scenarioMemory = "memory"
	scenarioQueue  = "queue"
	scenarioAsync  = "async"
	scenarioBurst  = "burst"
	// scenarioBindings: bench/bindings.go.
	scenarioBindings = "bindings"
	// scenarioWorkflow: bench/workflow.go.
	scenarioWorkflow = "workflow"
)

var allScenarios = []string{scenarioWarm, scenarioCold, scenarioHandle, scenarioMemory, scenarioQueue, scenarioAsync, scenarioBurst, scenarioBindings, scenarioWorkflow, scenarioInnerloop, scenarioObjects}

// HTTP targets of the warm scenario, in the order they run.
const (
	targetStrata  = "strata"
	targetNetHTTP = "nethttp"
	targetWorkerd = "workerd"
)

var allTargets = []string{targetStrata, targetNetHTTP, targetWorkerd}

// Tracing variants of the strata target, measured only when -targets
// names them (not in bench-check): tracing off, and every trace sampled
// with its spans stored in the built-in trace store. targetStrata runs at
// the default sampling, so the three give the tracing overhead ratios.
const (
	targetStrataNoTrace = "strata-notrace"
	targetStrataTrace1  = "strata-trace1"
)

// The process-function pair, measured only when -targets names them: a
// Node.js Lambda handler as a Strata process function behind the gateway,
// and the same handler module behind a bare Node.js http server
// (bench/peers/node).
const (
	targetStrataNode = "strata-node"
	targetNode       = "node"
)

// knownTargets is every target -targets accepts, in the order they run:
// the tracing variants next to the default strata target, so the three
// are measured close together.
var knownTargets = []string{targetStrataNoTrace, targetStrata, targetStrataTrace1, targetNetHTTP, targetWorkerd, targetStrataNode, targetNode}

// options are the harness's settings, all from flags.
type options struct {
	Duration       time.Duration
	Warmup         time.Duration
	Connections    int
	Loader         string
	Scenarios      []string
	Targets        []string
	ColdSamples    int
	CommandSamples int
	HandleSamples  int
	Instances      int
	StartTimeout   time.Duration
	JSONPath       string
	Repo           string
	StrataBin      string
	GuestWasm      string
	CommandWasm    string
	KeepWork       bool
	CPUProfile     string
	QueueMessages  int
	QueueSenders   int
	AsyncSamples   int
	BurstRequests  int
	BurstSleep     time.Duration
	BurstRounds    int
	// The bindings scenario (bench/bindings.go).
	BindingsClients   int
	BindingsRequests  int
	BindingsMaxConns  int
	BindingsRoleLimit int
	BindingsQueryMS   int
	// The workflow scenario (bench/workflow.go).
	Workflows         int
	WorkflowClients   int
	WorkflowLone      int
	WorkflowSteps     int
	WorkflowPeers     []string
	TemporalWorkflows int
	TemporalLone      int
	// The innerloop scenario (bench/innerloop.go).
	InnerloopRuns     int
	InnerloopColdRuns int
	InnerloopBaseline string
	InnerloopParts    []string
	// The objects scenario (bench/objects.go).
	ObjectsNames      int
	ObjectsSockets    int
	ObjectsRounds     int
	ObjectsWakeRounds int
	ObjectsTouch      int
	// Postgres is the database of the PostgreSQL event runs; "" skips them.
	Postgres string
	// Check and WriteBaseline: compare this run's figures with a baseline
	// file, or record them as one (bench/check.go).
	Check         string
	WriteBaseline string
	// PostgresDefaulted: Postgres is the built-in default, not asked for,
	// so an unreachable server skips those runs instead of failing them.
	PostgresDefaulted bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measured load per HTTP target")
	fs.DurationVar(&o.Warmup, "warmup", time.Second, "unmeasured load before each HTTP measurement (0 for none)")
	fs.IntVar(&o.Connections, "connections", 64, "concurrent keep-alive connections")
	fs.StringVar(&o.Loader, "loader", "auto", "load generator: wrk, go, or auto (wrk when on PATH)")
	only := fs.String("only", strings.Join(allScenarios, ","), "scenarios to run: "+strings.Join(allScenarios, ","))
	targets := fs.String("targets", strings.Join(allTargets, ","), "HTTP targets of the warm scenario: "+strings.Join(knownTargets, ","))
	fs.IntVar(&o.ColdSamples, "cold-samples", 200, "Go reactor cold starts to sample")
	fs.IntVar(&o.CommandSamples, "command-samples", 2000, "C command runs to sample")
	fs.IntVar(&o.HandleSamples, "handle-samples", 20000, "warm in-process calls to sample")
	fs.IntVar(&o.Instances, "instances", 1000, "warm instances held by the memory scenario")
	fs.DurationVar(&o.StartTimeout, "start-timeout", 5*time.Minute, "how long a server may take to become ready (strata dev builds functions first)")
	fs.StringVar(&o.JSONPath, "json", "", "also write the JSON report to this file")
	fs.StringVar(&o.Repo, "repo", "", "root of the strata repository (default: found from the working directory)")
	fs.StringVar(&o.StrataBin, "strata", "", "prebuilt strata binary (default: go build ./cmd/strata)")
	fs.StringVar(&o.GuestWasm, "guest", "", "prebuilt hello reactor .wasm (default: examples/hello built for wasip1)")
	fs.StringVar(&o.CommandWasm, "command-guest", "", "C command guest .wasm (default: examples/command-guest/guest.wasm)")
	fs.BoolVar(&o.KeepWork, "keep", false, "keep the temporary work directory (logs, copied projects)")
	fs.StringVar(&o.Check, "check", "", "compare the run's same-run ratios with this baseline file (bench/baseline.json) and fail on a regression beyond its noise band")
	fs.StringVar(&o.WriteBaseline, "write-baseline", "", "write the run's same-run ratios to this file as the new baseline")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of this process (the in-process scenarios and the Go load generator) to this file")
	fs.IntVar(&o.QueueMessages, "queue-messages", 20000, "messages per queue throughput run")
	fs.IntVar(&o.QueueSenders, "queue-senders", 8, "concurrent senders in the steady queue runs")
	fs.IntVar(&o.AsyncSamples, "async-samples", 200, "async invokes to sample, one at a time")
	fs.IntVar(&o.BurstRequests, "burst-requests", 200, "concurrent requests in each burst")
	fs.IntVar(&o.BurstRounds, "burst-rounds", 3, "bursts per provisioned setting, each on a fresh server")
	fs.DurationVar(&o.BurstSleep, "burst-sleep", 5*time.Millisecond, "how long the burst function works per request")
	fs.IntVar(&o.BindingsClients, "bindings-clients", 500, "concurrent clients (invocations at once) in the bindings scenario")
	fs.IntVar(&o.BindingsRequests, "bindings-requests", 4, "requests each bindings client makes, one after another")
	fs.IntVar(&o.BindingsMaxConns, "bindings-max-connections", 10, "max_connections of the PostgreSQL database binding")
	fs.IntVar(&o.BindingsRoleLimit, "bindings-role-limit", 50, "CONNECTION LIMIT of the role the naive connect-per-request clients use")
	fs.IntVar(&o.BindingsQueryMS, "bindings-query-ms", 2, "milliseconds of pg_sleep in each bindings query (work the database does)")
	fs.IntVar(&o.Workflows, "workflows", 2000, "workflows per throughput run of the workflow scenario (Strata and DBOS)")
	fs.IntVar(&o.WorkflowClients, "workflow-clients", 32, "concurrent clients starting workflows, each waiting for its workflow to close")
	fs.IntVar(&o.WorkflowLone, "workflow-lone", 200, "lone workflows to sample, one at a time (Strata and DBOS)")
	fs.IntVar(&o.WorkflowSteps, "workflow-steps", 10000, "steps of the long workflow")
	peers := fs.String("workflow-peers", strings.Join(allWorkflowPeers, ","), "workflow peers to run: "+strings.Join(allWorkflowPeers, ",")+" (\"\" for none)")
	fs.IntVar(&o.TemporalWorkflows, "temporal-workflows", 200, "workflows of the Temporal peer's throughput run (it is slow)")
	fs.IntVar(&o.TemporalLone, "temporal-lone", 20, "lone workflows of the Temporal peer")
	fs.IntVar(&o.InnerloopRuns, "innerloop-runs", 5, "edits and dev restarts the innerloop scenario samples")
	fs.IntVar(&o.InnerloopColdRuns, "innerloop-cold-runs", 2, "first dev runs of order-fulfilment the innerloop scenario samples (after one that warms the Go build cache)")
	ilParts := fs.String("innerloop-parts", strings.Join(allInnerloopParts, ","), "parts of the innerloop scenario: "+strings.Join(allInnerloopParts, ","))
	fs.StringVar(&o.InnerloopBaseline, "innerloop-baseline", "", "a second strata binary (e.g. built from main) the innerloop scenario measures alongside, for ratios")
	fs.IntVar(&o.ObjectsNames, "objects-names", 1000, "objects the spread counter run of the objects scenario spreads its requests over")
	fs.IntVar(&o.ObjectsSockets, "objects-sockets", 1000, "WebSockets connected to the one object of the broadcast run")
	fs.IntVar(&o.ObjectsRounds, "objects-rounds", 20, "broadcasts sent, one at a time")
	fs.IntVar(&o.ObjectsWakeRounds, "objects-wake-rounds", 50, "wakes of a hibernated object sampled (each waits about 2.5s for the eviction)")
	fs.IntVar(&o.ObjectsTouch, "objects-touch", 10000, "objects the memory run touches once each")
	pgDefault, pgFromEnv := os.LookupEnv("STRATA_TEST_POSTGRES")
	if !pgFromEnv {
		pgDefault = defaultPostgresURL
	}
	fs.StringVar(&o.Postgres, "postgres", pgDefault, "PostgreSQL URL of the queue and async runs (default $STRATA_TEST_POSTGRES, else the local test database); \"\" skips them")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	pgSet := pgFromEnv
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "postgres" {
			pgSet = true
		}
	})
	o.PostgresDefaulted = !pgSet
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.Scenarios, err = pickList("-only", *only, allScenarios); err != nil {
		return o, err
	}
	if o.Targets, err = pickList("-targets", *targets, knownTargets); err != nil {
		return o, err
	}
	if o.InnerloopParts, err = pickList("-innerloop-parts", *ilParts, allInnerloopParts); err != nil {
		return o, err
	}
	if strings.TrimSpace(*peers) != "" {
		if o.WorkflowPeers, err = pickList("-workflow-peers", *peers, allWorkflowPeers); err != nil {
			return o, err
		}
	}
	switch {
	case o.Duration <= 0:
		return o, fmt.Errorf("-duration %v: want a positive duration", o.Duration)
	case o.Warmup < 0:
		return o, fmt.Errorf("-warmup %v: want zero or more", o.Warmup)
	case o.Connections < 1:
		return o, fmt.Errorf("-connections %d: want at least 1", o.Connections)
	case o.ColdSamples < 1 || o.CommandSamples < 1 || o.HandleSamples < 1 || o.Instances < 1:
		return o, errors.New("-cold-samples, -command-samples, -handle-samples and -instances must be at least 1")
	case o.QueueMessages < 1 || o.QueueSenders < 1 || o.AsyncSamples < 1 || o.BurstRequests < 1 || o.BurstRounds < 1:
		return o, errors.New("-queue-messages, -queue-senders, -async-samples, -burst-requests and -burst-rounds must be at least 1")
	case o.BindingsClients < 1 || o.BindingsRequests < 1 || o.BindingsMaxConns < 1 || o.BindingsRoleLimit < 1 || o.BindingsQueryMS < 0:
		return o, errors.New("-bindings-clients, -bindings-requests, -bindings-max-connections and -bindings-role-limit must be at least 1, -bindings-query-ms at least 0")
	case o.Workflows < 1 || o.WorkflowClients < 1 || o.WorkflowLone < 1 || o.WorkflowSteps < 1 || o.TemporalWorkflows < 1 || o.TemporalLone < 1:
		return o, errors.New("-workflows, -workflow-clients, -workflow-lone, -workflow-steps, -temporal-workflows and -temporal-lone must be at least 1")
	case o.InnerloopRuns < 1 || o.InnerloopColdRuns < 1:
		return o, errors.New("-innerloop-runs and -innerloop-cold-runs must be at least 1")
	case o.ObjectsNames < 2 || o.ObjectsSockets < 1 || o.ObjectsRounds < 1 || o.ObjectsWakeRounds < 1 || o.ObjectsTouch < 1:
		return o, errors.New("-objects-names must be at least 2; -objects-sockets, -objects-rounds, -objects-wake-rounds and -objects-touch at least 1")
	case o.BurstSleep < 0:
		return o, fmt.Errorf("-burst-sleep %v: want zero or more", o.BurstSleep)
	case !slices.Contains([]string{"auto", "wrk", "go"}, o.Loader):
		return o, fmt.Errorf("-loader %q: want wrk, go or auto", o.Loader)
	}
	return o, nil
}

// pickList parses a comma-separated subset of allowed, keeping allowed's order.
func pickList(flagName, s string, allowed []string) ([]string, error) {
	var picked []string
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(allowed, name) {
			return nil, fmt.Errorf("%s: unknown name %q (have %s)", flagName, name, strings.Join(allowed, ", "))
		}
		picked = append(picked, name)
	}
	if len(picked) == 0 {
		return nil, fmt.Errorf("%s: nothing selected", flagName)
	}
	var ordered []string
	for _, a := range allowed {
		if slices.Contains(picked, a) {
			ordered = append(ordered, a)
		}
	}
	return ordered, nil
}

// harness holds what the scenarios share within one run: settings, a work
// directory, and build products made at most once.
type harness struct {
	log    *slog.Logger
	stderr io.Writer
	opts   options
	repo   string
	work   string
	// postgresSkip says why PostgreSQL runs are skipped ("" when they run).
	postgresSkip string

	strataBin string // built or given strata binary; "" until needed
	strataErr error
	guest     []byte // hello reactor module; nil until needed
	guestErr  error
	noop      []byte // noop reactor module of the event scenarios; nil until needed
	noopErr   error
	wf        []byte // orchestrator module of the workflow scenario; nil until needed
	wfErr     error
}

// run is the whole program; main only adds the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	repo := opts.Repo
	if repo == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		if repo, err = findRepo(wd); err != nil {
			return err
		}
	}
	if repo, err = filepath.Abs(repo); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "strata-bench-")
	if err != nil {
		return fmt.Errorf("create work directory: %w", err)
	}
	if opts.KeepWork {
		log.Info("keeping work directory", "dir", work)
	} else {
		defer os.RemoveAll(work)
	}
	h := &harness{log: log, stderr: stderr, opts: opts, repo: repo, work: work}
	if slices.Contains(opts.Scenarios, scenarioQueue) || slices.Contains(opts.Scenarios, scenarioAsync) || slices.Contains(opts.Scenarios, scenarioBindings) ||
		slices.Contains(opts.Scenarios, scenarioWorkflow) {
		h.checkPostgres(ctx)
	}

	rep := newReport(opts)
	// The yardsticks of the in-process figures (bench/check.go), taken
	// before any scenario loads the machine.
	if rep.Calibration, err = h.calibrate(); err != nil {
		return err
	}
	if opts.CPUProfile != "" {
		// Only this process is profiled: the in-process scenarios, and the
		// Go load generator when it is used.
		f, err := os.Create(opts.CPUProfile)
		if err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	for _, sc := range opts.Scenarios {
		if ctx.Err() != nil {
			break
		}
		switch sc {
		case scenarioWarm:
			h.runWarm(ctx, rep)
		case scenarioCold:
			h.runCold(ctx, rep)
		case scenarioHandle:
			h.runHandle(ctx, rep)
		case scenarioMemory:
			h.runMemory(ctx, rep)
		case scenarioQueue:
			h.runQueue(ctx, rep)
		case scenarioAsync:
			h.runAsync(ctx, rep)
		case scenarioBurst:
			h.runBurst(ctx, rep)
		case scenarioBindings:
			h.runBindings(ctx, rep)
		case scenarioWorkflow:
			h.runWorkflow(ctx, rep)
		case scenarioInnerloop:
			h.runInnerloop(ctx, rep)
		case scenarioObjects:
			h.runObjects(ctx, rep)
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
	rep.finish()

	if err := rep.writeTable(stdout); err != nil {
		return err
	}
	if err := rep.writeJSON(stdout); err != nil {
		return err
	}
	if opts.JSONPath != "" {
		f, err := os.Create(opts.JSONPath)
		if err != nil {
			return fmt.Errorf("write -json: %w", err)
		}
		if err := rep.writeJSON(f); err != nil {
			f.Close()
			return fmt.Errorf("write -json %s: %w", opts.JSONPath, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("write -json %s: %w", opts.JSONPath, err)
		}
	}
	if n := rep.failures(); n > 0 {
		return fmt.Errorf("%d measurement(s) failed; see the errors above", n)
	}
	if opts.WriteBaseline != "" {
		if err := writeBaseline(opts.WriteBaseline, rep, args); err != nil {
			return err
		}
	}
	if opts.Check != "" {
		return checkAgainst(opts.Check, rep, stdout)
	}
	return nil
}

// strata returns the strata binary, building ./cmd/strata on first use.
func (h *harness) strata(ctx context.Context) (string, error) {
	if h.strataBin != "" || h.strataErr != nil {
		return h.strataBin, h.strataErr
	}
	if h.opts.StrataBin != "" {
		h.strataBin, h.strataErr = filepath.Abs(h.opts.StrataBin)
		return h.strataBin, h.strataErr
	}
	bin := filepath.Join(h.work, "bin", "strata")
	if err := goBuild(ctx, h.log, h.repo, "./cmd/strata", bin); err != nil {
		h.strataErr = fmt.Errorf("build the strata binary: %w", err)
		return "", h.strataErr
	}
	h.strataBin = bin
	return bin, nil
}

// helloGuest returns the hello example compiled to a Wasm reactor as
// strata build compiles it, built in a copy of examples/hello on first use.
func (h *harness) helloGuest(ctx context.Context) ([]byte, error) {
	if h.guest != nil || h.guestErr != nil {
		return h.guest, h.guestErr
	}
	h.guest, h.guestErr = h.buildHelloGuest(ctx)
	return h.guest, h.guestErr
}

func (h *harness) buildHelloGuest(ctx context.Context) ([]byte, error) {
	if h.opts.GuestWasm != "" {
		b, err := os.ReadFile(h.opts.GuestWasm)
		if err != nil {
			return nil, fmt.Errorf("read -guest: %w", err)
		}
		return b, nil
	}
	proj := filepath.Join(h.work, "hello-build")
	if err := copyTree(filepath.Join(h.repo, "examples", "hello"), proj); err != nil {
		return nil, fmt.Errorf("copy examples/hello: %w", err)
	}
	// internal/build is what strata build runs, so the in-process scenarios
	// measure the same module without needing the CLI.
	h.log.Info("building the hello guest", "dir", proj)
	res, err := build.Go(ctx, build.Params{ProjectDir: proj, Package: "./hello", Out: "hello.wasm", Name: "hello"})
	if err != nil {
		return nil, fmt.Errorf("build examples/hello: %w", err)
	}
	return os.ReadFile(res.Path)
}

// commandGuest returns the C command guest module.
func (h *harness) commandGuest() ([]byte, error) {
	p := h.opts.CommandWasm
	if p == "" {
		p = filepath.Join(h.repo, "examples", "command-guest", "guest.wasm")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read the C command guest: %w", err)
	}
	return b, nil
}
