package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// River (github.com/riverqueue/river) is the peer of the PostgreSQL queue
// runs: a Go job queue on PostgreSQL, doing the same no-op work on the same
// database, with its own tables in a fresh schema. Its worker is a plain Go
// function, so the comparison charges Strata for running every batch in a
// Wasm instance as well as for its storage.

// riverNoopArgs is the job of the River runs.
type riverNoopArgs struct {
	N int `json:"n"`
}

func (riverNoopArgs) Kind() string { return "strata_bench_noop" }

// riverNoopWorker completes every job at once.
type riverNoopWorker struct {
	river.WorkerDefaults[riverNoopArgs]
}

func (riverNoopWorker) Work(context.Context, *river.Job[riverNoopArgs]) error { return nil }

// riverSetup is one configuration of the River client.
type riverSetup struct {
	system        string
	maxWorkers    int
	fetchCooldown time.Duration // 0: River's default (100ms)
	fetchPoll     time.Duration // 0: River's default (1s)
	note          string
}

// riverSetups are the River configurations compared: as River's
// documentation sets up a client (MaxWorkers 100, everything else
// default), and as River's own benchmark command (`river bench`) tunes it
// for throughput. River's default FetchCooldown of 100ms caps a client at
// about MaxWorkers jobs per 100ms, so the tuned one is the fair peer for
// throughput.
var riverSetups = []riverSetup{
	{system: systemRiver, maxWorkers: 100, note: "MaxWorkers 100, other settings default"},
	{system: systemRiverTuned, maxWorkers: 2000, fetchCooldown: 2 * time.Millisecond, fetchPoll: 20 * time.Millisecond,
		note: "as river bench tunes it: MaxWorkers 2000, FetchCooldown 2ms, FetchPollInterval 20ms"},
}

// riverQueue runs both modes with River on a fresh schema of the PostgreSQL
// database.
func (h *harness) riverQueue(ctx context.Context, rs riverSetup) []queueResult {
	n := h.opts.QueueMessages
	note := fmt.Sprintf("River %s, riverpgxv5, %s; no-op Go worker", riverVersion, rs.note)
	drain := queueResult{System: rs.system, Store: storePostgres, Mode: modeDrain, Messages: n, Note: note + "; InsertMany"}
	steady := queueResult{System: rs.system, Store: storePostgres, Mode: modeSteady, Messages: n, Senders: h.opts.QueueSenders, Note: note + "; Insert, one job per call"}
	fail := func(err error) []queueResult {
		drain.Error, steady.Error = err.Error(), err.Error()
		return []queueResult{drain, steady}
	}
	url := h.postgresURL()
	schema := "river_bench_" + randomHex(6)
	pool, err := openRiverPool(ctx, url, schema)
	if err != nil {
		return fail(err)
	}
	defer func() {
		pool.Close()
		if err := dropSchema(context.WithoutCancel(ctx), url, schema); err != nil {
			h.log.Warn("drop River schema", "err", err)
		}
	}()
	driver := riverpgxv5.New(pool)
	mig, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: h.quietLog()})
	if err != nil {
		return fail(fmt.Errorf("river migrations: %w", err))
	}
	if _, err := mig.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fail(fmt.Errorf("river migrate up: %w", err))
	}

	h.log.Info("queue drain: loading", "system", rs.system, "store", storePostgres, "messages", n)
	c, done, err := newRiverClient(driver, h.quietLog(), n, rs)
	if err != nil {
		return fail(err)
	}
	const chunk = 1000
	for i := 0; i < n; i += chunk {
		params := make([]river.InsertManyParams, 0, min(chunk, n-i))
		for j := i; j < min(i+chunk, n); j++ {
			params = append(params, river.InsertManyParams{Args: riverNoopArgs{N: j}})
		}
		if _, err := c.InsertMany(ctx, params); err != nil {
			return fail(fmt.Errorf("river InsertMany: %w", err))
		}
	}
	start := time.Now()
	if err := c.Start(ctx); err != nil {
		return fail(fmt.Errorf("start the River client: %w", err))
	}
	err = waitCount(ctx, done, int64(n), runTimeout(n))
	took := time.Since(start)
	stopRiver(ctx, c)
	if err == nil {
		err = riverAllCompleted(ctx, pool, n)
	}
	if err != nil {
		drain.Error = fmt.Sprintf("drain: %v", err)
	} else {
		drain.Seconds, drain.PerSecond = round(took.Seconds(), 3), round(float64(n)/took.Seconds(), 1)
		h.log.Info("queue drain", "system", rs.system, "store", storePostgres, "per_second", int(drain.PerSecond))
	}
	if ctx.Err() != nil {
		steady.Error = context.Cause(ctx).Error()
		return []queueResult{drain, steady}
	}

	// Steady: a fresh client on a clean table, started before the sends.
	if _, err := pool.Exec(ctx, "DELETE FROM river_job"); err != nil {
		steady.Error = fmt.Sprintf("clear river_job: %v", err)
		return []queueResult{drain, steady}
	}
	c, done, err = newRiverClient(driver, h.quietLog(), n, rs)
	if err != nil {
		steady.Error = err.Error()
		return []queueResult{drain, steady}
	}
	if err := c.Start(ctx); err != nil {
		steady.Error = fmt.Sprintf("start the River client: %v", err)
		return []queueResult{drain, steady}
	}
	h.log.Info("queue steady", "system", rs.system, "store", storePostgres, "messages", n, "senders", h.opts.QueueSenders)
	start = time.Now()
	sendTook, err := sendAll(ctx, n, h.opts.QueueSenders, func(ctx context.Context, i int) error {
		_, err := c.Insert(ctx, riverNoopArgs{N: i}, nil)
		return err
	})
	if err == nil {
		err = waitCount(ctx, done, int64(n), runTimeout(n))
	}
	took = time.Since(start)
	stopRiver(ctx, c)
	if err == nil {
		err = riverAllCompleted(ctx, pool, n)
	}
	if err != nil {
		steady.Error = fmt.Sprintf("steady: %v", err)
	} else {
		steady.Seconds, steady.PerSecond = round(took.Seconds(), 3), round(float64(n)/took.Seconds(), 1)
		steady.SendPerSecond = round(float64(n)/sendTook.Seconds(), 1)
		h.log.Info("queue steady", "system", rs.system, "store", storePostgres, "per_second", int(steady.PerSecond), "send_per_second", int(steady.SendPerSecond))
	}
	return []queueResult{drain, steady}
}

// riverVersion is the River module the harness is built with (go.mod).
const riverVersion = "v0.51.2"

// openRiverPool creates schema and opens a pool whose connections use it,
// as the Strata PostgreSQL store does with its own schema (both pools keep
// pgxpool's default size).
func openRiverPool(ctx context.Context, url, schema string) (*pgxpool.Pool, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL for River: %w", err)
	}
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	conn.Close(ctx)
	if err != nil {
		return nil, fmt.Errorf("create schema %s for River: %w", schema, err)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open the pool for River: %w", err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open the pool for River: %w", err)
	}
	return pool, nil
}

// newRiverClient returns a client (not started) with the no-op worker, and
// a counter of the jobs it completed. River reports a completion to
// subscribers after it has been written to the database, so the count
// means what Strata's acknowledged count means.
func newRiverClient(driver *riverpgxv5.Driver, log *slog.Logger, n int, rs riverSetup) (*river.Client[pgx.Tx], *atomic.Int64, error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, &riverNoopWorker{})
	c, err := river.NewClient(driver, &river.Config{
		Logger:            log,
		FetchCooldown:     rs.fetchCooldown,
		FetchPollInterval: rs.fetchPoll,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: rs.maxWorkers}},
		Workers:           workers,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("new River client: %w", err)
	}
	// A buffer for every job: River drops events a full subscriber misses.
	events, cancel := c.SubscribeConfig(&river.SubscribeConfig{ChanSize: n + 16, Kinds: []river.EventKind{river.EventKindJobCompleted}})
	var done atomic.Int64
	go func() {
		defer cancel()
		for ev := range events {
			if ev != nil && ev.Kind == river.EventKindJobCompleted {
				done.Add(1)
			}
		}
	}()
	return c, &done, nil
}

func stopRiver(ctx context.Context, c *river.Client[pgx.Tx]) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = c.Stop(sctx)
}

// riverAllCompleted checks in the database that all n jobs completed.
func riverAllCompleted(ctx context.Context, pool *pgxpool.Pool, n int) error {
	var completed, total int
	if err := pool.QueryRow(ctx, "SELECT count(*) FILTER (WHERE state = 'completed'), count(*) FROM river_job").Scan(&completed, &total); err != nil {
		return fmt.Errorf("count River jobs: %w", err)
	}
	if completed != n || total != n {
		return fmt.Errorf("%d of %d River jobs completed, want all %d", completed, total, n)
	}
	return nil
}
