// Command dbos is the DBOS Transact for Go peer of Strata's workflow
// benchmark (bench/workflow_peers.go). It runs workflows of three no-op
// steps, the shape issue 5's targets are stated for, in this process
// against DBOS's system database on SQLite or PostgreSQL:
//
//   - throughput: -n workflows (or as many as fit in -duration) started by
//     -concurrency goroutines, each starting one workflow and waiting for
//     its result before starting the next;
//   - latency: -lone workflows one after another, each timed from start to
//     result.
//
// It prints one JSON line on stdout:
//
//	{"peer":"dbos","db":"sqlite","workflows":2000,"seconds":7.8,"wf_per_sec":256,"lone_p50_ms":2.6,"lone_p99_ms":4.1,...}
//
// It lives in its own module so that the DBOS dependency tree stays out of
// Strata's go.mod. PostgreSQL runs use a dedicated database (-database,
// dbos_bench by default) on the server of -dsn, dropped at start so every
// run begins empty (DBOS creates it again) and at the end unless -keep-db.
// SQLite runs use a fresh file, with DBOS's own settings (WAL,
// synchronous=NORMAL).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dbos-inc/dbos-transact-golang/dbos"
	_ "github.com/dbos-inc/dbos-transact-golang/dbos/driver/sqlite" // registers SQLite system databases
	"github.com/jackc/pgx/v5"
)

// result is the JSON line this command prints.
type result struct {
	Peer        string  `json:"peer"`
	DB          string  `json:"db"`
	Version     string  `json:"version"`
	Concurrency int     `json:"concurrency"`
	Steps       int     `json:"steps"`
	Workflows   int     `json:"workflows"`
	Seconds     float64 `json:"seconds"`
	WfPerSec    float64 `json:"wf_per_sec"`
	Lone        int     `json:"lone"`
	LoneP50ms   float64 `json:"lone_p50_ms"`
	LoneP99ms   float64 `json:"lone_p99_ms"`
}

// dbosVersion is the version go.mod pins; reported with the numbers.
const dbosVersion = "v1.8.0"

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "dbos peer:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("dbos", flag.ContinueOnError)
	db := fs.String("db", "sqlite", "system database: sqlite or postgres")
	dsn := fs.String("dsn", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL server URL (-db postgres); its database is replaced by -database")
	database := fs.String("database", "dbos_bench", "PostgreSQL database the run owns: dropped at start and created by DBOS")
	sqlitePath := fs.String("sqlite", "", "SQLite file (-db sqlite; default: a fresh file in a temporary directory)")
	concurrency := fs.Int("concurrency", 32, "workflows in flight at once in the throughput run")
	n := fs.Int("n", 2000, "workflows in the throughput run (ignored when -duration is set)")
	duration := fs.Duration("duration", 0, "run the throughput test for this long instead of -n workflows")
	lone := fs.Int("lone", 50, "lone workflows, one after another, for latency (0 for none)")
	warmup := fs.Int("warmup", 20, "unmeasured workflows before measuring")
	keepDB := fs.Bool("keep-db", false, "leave the PostgreSQL database in place after the run")
	verbose := fs.Bool("v", false, "let DBOS log at info level on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *concurrency < 1 || *n < 1 || *lone < 0 || *warmup < 0 || *duration < 0 {
		return errors.New("-concurrency and -n must be at least 1; -lone, -warmup and -duration at least 0")
	}

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	cfg := dbos.Config{
		AppName: "strata-bench",
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	}
	switch *db {
	case "sqlite":
		p := *sqlitePath
		if p == "" {
			dir, err := os.MkdirTemp("", "dbos-bench-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			p = filepath.Join(dir, "dbos.db")
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		cfg.DatabaseURL = "sqlite:" + abs
	case "postgres":
		u, err := freshDatabase(ctx, *dsn, *database)
		if err != nil {
			return err
		}
		cfg.DatabaseURL = u
		if !*keepDB {
			// Runs after dbos.Shutdown (deferred later), which closes DBOS's pool.
			defer func() {
				if _, err := freshDatabase(context.WithoutCancel(ctx), *dsn, *database); err != nil {
					fmt.Fprintln(os.Stderr, "dbos peer: drop the database after the run:", err)
				}
			}()
		}
	default:
		return fmt.Errorf("-db %q: want sqlite or postgres", *db)
	}

	dctx, err := dbos.NewContext(ctx, cfg)
	if err != nil {
		return fmt.Errorf("dbos.NewContext: %w", err)
	}
	dbos.RegisterWorkflow(dctx, threeSteps, dbos.WithWorkflowName("three-steps"))
	if err := dbos.Launch(dctx); err != nil {
		return fmt.Errorf("dbos.Launch: %w", err)
	}
	defer dbos.Shutdown(dctx, 5*time.Second)

	once := func(i int) error {
		h, err := dbos.RunWorkflow(dctx, threeSteps, i)
		if err != nil {
			return fmt.Errorf("start workflow: %w", err)
		}
		got, err := h.GetResult()
		if err != nil {
			return fmt.Errorf("workflow result: %w", err)
		}
		if got != i+3 {
			return fmt.Errorf("workflow %d returned %d, want %d", i, got, i+3)
		}
		return nil
	}

	for i := range *warmup {
		if err := once(i); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}

	// Throughput: concurrency closed loops sharing one counter.
	var (
		next     atomic.Int64
		done     atomic.Int64
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	start := time.Now()
	deadline := time.Time{}
	if *duration > 0 {
		deadline = start.Add(*duration)
	}
	for range *concurrency {
		wg.Go(func() {
			for {
				if deadline.IsZero() {
					if next.Add(1) > int64(*n) {
						return
					}
				} else if time.Now().After(deadline) {
					return
				}
				if err := once(int(done.Load())); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return firstErr
	}

	// Latency: lone workflows, nothing else in flight.
	lat := make([]time.Duration, 0, *lone)
	for i := range *lone {
		t0 := time.Now()
		if err := once(i); err != nil {
			return fmt.Errorf("lone workflow: %w", err)
		}
		lat = append(lat, time.Since(t0))
	}

	res := result{
		Peer: "dbos", DB: *db, Version: dbosVersion, Concurrency: *concurrency, Steps: 3,
		Workflows: int(done.Load()), Seconds: elapsed.Seconds(),
		WfPerSec: float64(done.Load()) / elapsed.Seconds(),
		Lone:     len(lat), LoneP50ms: quantileMS(lat, 0.50), LoneP99ms: quantileMS(lat, 0.99),
	}
	return json.NewEncoder(stdout).Encode(res)
}

// threeSteps is the benchmarked workflow: three no-op steps, each
// checkpointed by DBOS, returning its input plus the number of steps run.
func threeSteps(ctx dbos.Context, in int) (int, error) {
	out := in
	for i := range 3 {
		v, err := dbos.RunAsStep(ctx, func(context.Context) (int, error) { return out + 1, nil },
			dbos.WithStepName(fmt.Sprintf("noop-%d", i)))
		if err != nil {
			return 0, err
		}
		out = v
	}
	return out, nil
}

// freshDatabase drops database name on the server of serverURL and returns
// serverURL pointing at name; DBOS creates the database when it launches.
func freshDatabase(ctx context.Context, serverURL, name string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", fmt.Errorf("-dsn: %w", err)
	}
	if u.Path == "/"+name {
		return "", fmt.Errorf("-dsn already names database %q; give another database of the same server to connect through", name)
	}
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", u.Redacted(), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return "", fmt.Errorf("drop database %s: %w", name, err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// quantileMS returns the q-quantile of ds in milliseconds (nearest rank).
func quantileMS(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	i = max(0, min(i, len(s)-1))
	return float64(s[i].Microseconds()) / 1000
}
