package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/build"
	"github.com/stratahq/strata/internal/deploy"
	"github.com/stratahq/strata/internal/events"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/registry"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/postgres"
	"github.com/stratahq/strata/internal/store/sqlite"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/sdk/go/wire"
)

// The event scenarios (queue, async) run Strata's real event pipeline in
// this process: a store (a SQLite file, or a fresh schema of PostgreSQL), a
// Go guest built by internal/build and deployed with DeploymentApply, the
// real invoke.Invoker and events.Engine. Only the HTTP front door is left
// out, so the figures are the pipeline's, not the API's.

// Store backends the event scenarios run on.
const (
	storeSQLite   = "sqlite"
	storePostgres = "postgres"
)

// defaultPostgresURL is used when neither -postgres nor STRATA_TEST_POSTGRES
// says otherwise; it is the project's test database.
const defaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// noopFunction is the consumer every event scenario deploys, and benchQueue
// the user queue it consumes in batches of benchBatch.
const (
	noopFunction = "noop"
	benchQueue   = "bench"
	benchBatch   = 10
)

// noopSource is the benchmark function: it answers 200 with an empty body
// to everything, which for a batch of events means "all succeeded". With
// SLEEP_MS set it sleeps that long first (the burst scenario's few
// milliseconds of work). It is written into a temporary project, so the
// harness ships no second Go module.
const noopSource = `// Command noop is the Strata benchmark function: an empty 200 to every
// request and event, after sleeping SLEEP_MS milliseconds when it is set.
package main

import (
	"net/http"
	"os"
	"strconv"
	"time"

	strata "github.com/stratahq/strata/sdk/go"
)

func init() {
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		if ms, err := strconv.Atoi(os.Getenv("SLEEP_MS")); err == nil && ms > 0 {
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
		w.WriteHeader(http.StatusOK)
	})
}

func main() {}
`

// writeNoopProject writes a project holding the noop function at
// dir/<fn>, with manifest as its strata.yaml when not empty. internal/build
// adds the SDK requirement to the go.mod it writes.
func writeNoopProject(dir, fn, manifest string) error {
	if err := os.MkdirAll(filepath.Join(dir, fn), 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"go.mod":                     "module benchfn\n\ngo 1.24\n",
		filepath.Join(fn, "main.go"): noopSource,
	}
	if manifest != "" {
		files["strata.yaml"] = manifest
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// noopGuest returns the noop function compiled as strata build compiles
// it, built once per run.
func (h *harness) noopGuest(ctx context.Context) ([]byte, error) {
	if h.noop != nil || h.noopErr != nil {
		return h.noop, h.noopErr
	}
	h.noop, h.noopErr = func() ([]byte, error) {
		proj := filepath.Join(h.work, "noop-build")
		if err := writeNoopProject(proj, noopFunction, ""); err != nil {
			return nil, fmt.Errorf("write the noop project: %w", err)
		}
		h.log.Info("building the noop guest", "dir", proj)
		res, err := build.Go(ctx, build.Params{ProjectDir: proj, Package: "./" + noopFunction, Out: "noop.wasm", Name: noopFunction})
		if err != nil {
			return nil, fmt.Errorf("build the noop guest: %w", err)
		}
		return os.ReadFile(res.Path)
	}()
	return h.noop, h.noopErr
}

// postgresURL is the database of the PostgreSQL runs, "" when they are
// skipped (h.postgresSkip says why).
func (h *harness) postgresURL() string {
	if h.postgresSkip != "" {
		return ""
	}
	return h.opts.Postgres
}

// checkPostgres decides whether the PostgreSQL runs happen: not when
// -postgres is empty, nor when the built-in default database (not one the
// user asked for) does not answer. A database that was asked for and does
// not answer makes those runs fail instead.
func (h *harness) checkPostgres(ctx context.Context) {
	if h.opts.Postgres == "" {
		h.postgresSkip = `no PostgreSQL (-postgres "")`
		return
	}
	if !h.opts.PostgresDefaulted {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, h.opts.Postgres)
	if err == nil {
		err = conn.Ping(cctx)
		conn.Close(cctx)
	}
	if err != nil {
		h.postgresSkip = "PostgreSQL not reachable at the default " + defaultPostgresURL + " (set STRATA_TEST_POSTGRES or -postgres)"
		h.log.Warn("skipping the PostgreSQL event runs", "err", err)
	}
}

// eventStack is the event pipeline of one store, running in this process.
type eventStack struct {
	name string // storeSQLite or storePostgres
	st   store.Store
	rt   *wasm.Runtime
	reg  *registry.Registry
	inv  *invoke.Invoker
	eng  *events.Engine
	ack  *ackCounter
	// drop removes what the stack created outside the work directory (the
	// PostgreSQL schema).
	drop func(ctx context.Context) error
}

// ackCounter is the engine's store, counting acknowledged messages, so the
// scenarios see the end of a run without polling the database (which
// would compete with the pipeline for the same CPUs and connections).
type ackCounter struct {
	store.Store
	acked atomic.Int64
}

func (a *ackCounter) MessageAck(ctx context.Context, queue string, ids []int64, receipts []string) (int, error) {
	n, err := a.Store.MessageAck(ctx, queue, ids, receipts)
	a.acked.Add(int64(n))
	return n, err
}

// MessageReceive counts the acks a receive carries (the engine acks a batch
// with its next receive). The store does not say how many of them matched;
// in these runs every receipt is fresh, and each run ends by checking the
// queue empty in the database.
func (a *ackCounter) MessageReceive(ctx context.Context, p store.MessageReceiveParams) ([]record.Message, error) {
	msgs, err := a.Store.MessageReceive(ctx, p)
	if err == nil {
		a.acked.Add(int64(len(p.AckIDs)))
	}
	return msgs, err
}

// stackOptions shape one event stack.
type stackOptions struct {
	// wrap, when set, wraps the invoker the engine calls (the async
	// scenario timestamps invocations with it).
	wrap func(events.Invoker) events.Invoker
}

// openEventStack opens a store of the given kind, deploys the noop function
// as the consumer of benchQueue (batch_size benchBatch) with its async queue,
// and loads it into an invoker. The engine is created but not started.
func (h *harness) openEventStack(ctx context.Context, kind string, so stackOptions) (_ *eventStack, err error) {
	bin, err := h.noopGuest(ctx)
	if err != nil {
		return nil, err
	}
	s := &eventStack{name: kind, drop: func(context.Context) error { return nil }}
	defer func() {
		if err != nil {
			s.close(context.WithoutCancel(ctx))
		}
	}()
	if s.st, s.drop, err = h.openStore(ctx, kind, "events"); err != nil {
		return nil, err
	}
	if err := deployNoop(ctx, s.st, bin); err != nil {
		return nil, err
	}
	if s.rt, err = h.newRuntime(ctx); err != nil {
		return nil, err
	}
	// The same wiring as internal/server: the invoker meters every
	// invocation into the store, and the engine runs with its defaults.
	s.reg = registry.New(registry.Config{Store: s.st, Runtime: s.rt, Logger: h.quietLog()})
	s.inv = invoke.New(invoke.Config{Registry: s.reg, Store: s.st, Logger: h.quietLog()})
	if err := s.reg.Sync(ctx); err != nil {
		return nil, fmt.Errorf("load the noop function: %w", err)
	}
	var iv events.Invoker = s.inv
	if so.wrap != nil {
		iv = so.wrap(iv)
	}
	s.ack = &ackCounter{Store: s.st}
	s.eng = events.New(events.Config{Store: s.ack, Invoker: iv, Logger: h.quietLog()})
	return s, nil
}

// openStore opens a fresh store of the given kind for one stack: a SQLite
// file in its own directory under the run's work dir, or a new PostgreSQL
// schema, which drop removes afterwards.
func (h *harness) openStore(ctx context.Context, kind, prefix string) (store.Store, func(context.Context) error, error) {
	none := func(context.Context) error { return nil }
	switch kind {
	case storeSQLite:
		dir, err := os.MkdirTemp(h.work, prefix+"-sqlite-")
		if err != nil {
			return nil, none, err
		}
		st, err := sqlite.Open(ctx, filepath.Join(dir, "strata.db"))
		if err != nil {
			return nil, none, fmt.Errorf("open SQLite store: %w", err)
		}
		return st, none, nil
	case storePostgres:
		url := h.postgresURL()
		schema := "strata_bench_" + randomHex(6)
		st, err := postgres.OpenWithSchema(ctx, url, schema)
		if err != nil {
			return nil, none, fmt.Errorf("open PostgreSQL store (schema %s): %w", schema, err)
		}
		return st, func(ctx context.Context) error { return dropSchema(ctx, url, schema) }, nil
	}
	return nil, none, fmt.Errorf("unknown store %q", kind)
}

// quietLog is the logger of components under measurement: warnings and
// errors only, so a run's output is not flooded and logging costs nothing.
func (h *harness) quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(h.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// deployNoop stores the guest and deploys it as the consumer of benchQueue,
// with the async queue every function gets, as a deploy of this manifest
// would:
//
//	queues: { bench: {} }
//	functions:
//	  noop: { max_concurrency: 8, queue: { name: bench, batch_size: 10 } }
func deployNoop(ctx context.Context, st store.Store, bin []byte) error {
	sum := sha256.Sum256(bin)
	sha := hex.EncodeToString(sum[:])
	if err := st.BlobPut(ctx, sha, bin); err != nil {
		return fmt.Errorf("store the noop module: %w", err)
	}
	cfg := record.FunctionConfig{Kind: "reactor", MemoryMB: 128, TimeoutMS: 10_000, MaxConcurrency: 8}
	_, err := st.DeploymentApply(ctx, store.DeploymentApplyParams{
		Project:     "bench",
		NewVersions: []store.NewVersionParams{{Function: noopFunction, ModuleSHA256: sha, Config: cfg}},
		Routes:      []record.Route{},
		Events: &store.EventsApplyParams{Queues: []record.QueueConfig{
			{
				Name: benchQueue, Kind: record.QueueUser, Consumer: noopFunction, BatchSize: benchBatch,
				VisibilityTimeout: deploy.DefaultVisibilityTimeout, MaxReceives: deploy.DefaultMaxReceives,
			},
			{
				Name: events.AsyncQueue(noopFunction), Kind: record.QueueAsync, Consumer: noopFunction, BatchSize: 1,
				VisibilityTimeout: time.Duration(cfg.TimeoutMS)*time.Millisecond + deploy.AsyncVisibilityMargin,
				MaxReceives:       deploy.DefaultRetries + 1, RetryBase: deploy.AsyncRetryBase,
			},
		}},
	})
	if err != nil {
		return fmt.Errorf("deploy the noop function: %w", err)
	}
	return nil
}

// warm runs the function once, so the first measured delivery does not
// pay for loading the compiled module.
func (s *eventStack) warm(ctx context.Context) error {
	res, err := s.inv.Invoke(ctx, invoke.Request{Function: noopFunction, Trigger: "invoke", Wire: &wire.Request{
		Method: "GET", Path: "/", Host: "127.0.0.1", DeadlineMS: time.Now().Add(time.Minute).UnixMilli(),
	}})
	if err != nil {
		return fmt.Errorf("warm the noop function: %w", err)
	}
	if res.Response.Status != 200 {
		return fmt.Errorf("warm the noop function: got %d, want 200", res.Response.Status)
	}
	return nil
}

// queueEmpty checks that nothing is left in queue: no visible, in-flight or
// delayed message.
func (s *eventStack) queueEmpty(ctx context.Context, queue string) error {
	qs, err := s.st.QueueStats(ctx, queue)
	if err != nil {
		return fmt.Errorf("stats of queue %s: %w", queue, err)
	}
	if n := qs.Visible + qs.InFlight + qs.Delayed; n != 0 {
		return fmt.Errorf("queue %s not empty at the end: %d visible, %d in flight, %d delayed", queue, qs.Visible, qs.InFlight, qs.Delayed)
	}
	return nil
}

// close stops everything the stack started and drops its schema.
func (s *eventStack) close(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if s.eng != nil {
		_ = s.eng.Stop(ctx)
	}
	if s.reg != nil {
		_ = s.reg.Close(ctx)
	}
	if s.inv != nil {
		_ = s.inv.Close(ctx)
	}
	if s.rt != nil {
		_ = s.rt.Close(ctx)
	}
	if s.st != nil {
		_ = s.st.Close()
	}
	_ = s.drop(ctx)
}

// dropSchema removes a schema the harness created and everything in it.
func dropSchema(ctx context.Context, url, schema string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	return nil
}

// waitCount waits until n reaches want, polling a counter in memory.
func waitCount(ctx context.Context, n *atomic.Int64, want int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for n.Load() < want {
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v with %d of %d done", timeout, n.Load(), want)
		}
		time.Sleep(500 * time.Microsecond)
	}
	return nil
}

// runTimeout bounds a run of n messages: generous (a hundred messages per
// second would finish), so only a stuck pipeline hits it.
func runTimeout(n int) time.Duration {
	return time.Minute + time.Duration(n)*10*time.Millisecond
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
