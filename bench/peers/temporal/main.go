// Command temporal is the Temporal peer of Strata's workflow benchmark
// (bench/workflow_peers.go): a worker and a starter in one process, against
// a Temporal server at -address (the bench starts `temporal server
// start-dev`, built by install.sh, with its SQLite state on disk). It runs
// workflows of three no-op activities, the shape issue 5's targets are
// stated for:
//
//   - throughput: -n workflows (or as many as fit in -duration) started by
//     -concurrency goroutines, each starting one workflow and waiting for
//     its result before starting the next;
//   - latency: -lone workflows one after another, each timed from start to
//     result.
//
// It prints one JSON line on stdout:
//
//	{"peer":"temporal","db":"sqlite","workflows":500,"seconds":57,"wf_per_sec":8.8,"lone_p50_ms":350,"lone_p99_ms":420,...}
//
// The worker runs with the SDK's default options, as Temporal's samples
// set one up. It lives in its own module so that the Temporal SDK stays out
// of Strata's go.mod.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
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

// sdkVersion is the SDK version go.mod pins; reported with the numbers.
const sdkVersion = "sdk v1.51.0"

const taskQueue = "strata-bench"

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "temporal peer:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("temporal", flag.ContinueOnError)
	address := fs.String("address", "127.0.0.1:7233", "frontend gRPC address of the Temporal server")
	namespace := fs.String("namespace", "default", "Temporal namespace")
	db := fs.String("db", "sqlite", "what the server stores its state in, reported as is")
	concurrency := fs.Int("concurrency", 32, "workflows in flight at once in the throughput run")
	n := fs.Int("n", 500, "workflows in the throughput run (ignored when -duration is set)")
	duration := fs.Duration("duration", 0, "run the throughput test for this long instead of -n workflows")
	lone := fs.Int("lone", 50, "lone workflows, one after another, for latency (0 for none)")
	warmup := fs.Int("warmup", 10, "unmeasured workflows before measuring")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	verbose := fs.Bool("v", false, "let the SDK log at info level on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *concurrency < 1 || *n < 1 || *lone < 0 || *warmup < 0 || *duration < 0 {
		return errors.New("-concurrency and -n must be at least 1; -lone, -warmup and -duration at least 0")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	// The SDK's default logger writes to stdout, which carries the result.
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	c, err := client.DialContext(ctx, client.Options{HostPort: *address, Namespace: *namespace, Logger: logger})
	if err != nil {
		return fmt.Errorf("connect to %s: %w", *address, err)
	}
	defer c.Close()

	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(threeSteps, workflow.RegisterOptions{Name: "three-steps"})
	w.RegisterActivity(noop)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	defer w.Stop()

	runID := time.Now().UnixNano()
	var seq atomic.Int64
	once := func(i int) error {
		opts := client.StartWorkflowOptions{
			ID:        fmt.Sprintf("bench-%d-%d", runID, seq.Add(1)),
			TaskQueue: taskQueue,
		}
		run, err := c.ExecuteWorkflow(ctx, opts, threeSteps, i)
		if err != nil {
			return fmt.Errorf("start workflow: %w", err)
		}
		var got int
		if err := run.Get(ctx, &got); err != nil {
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

	lat := make([]time.Duration, 0, *lone)
	for i := range *lone {
		t0 := time.Now()
		if err := once(i); err != nil {
			return fmt.Errorf("lone workflow: %w", err)
		}
		lat = append(lat, time.Since(t0))
	}

	res := result{
		Peer: "temporal", DB: *db, Version: sdkVersion, Concurrency: *concurrency, Steps: 3,
		Workflows: int(done.Load()), Seconds: elapsed.Seconds(),
		WfPerSec: float64(done.Load()) / elapsed.Seconds(),
		Lone:     len(lat), LoneP50ms: quantileMS(lat, 0.50), LoneP99ms: quantileMS(lat, 0.99),
	}
	return json.NewEncoder(stdout).Encode(res)
}

// threeSteps is the benchmarked workflow: three no-op activities in a row,
// returning its input plus the number of activities run.
func threeSteps(ctx workflow.Context, in int) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	out := in
	for range 3 {
		if err := workflow.ExecuteActivity(ctx, noop, out).Get(ctx, &out); err != nil {
			return 0, err
		}
	}
	return out, nil
}

// noop is the activity: it only adds one, so the workflow's result proves
// every activity ran.
func noop(_ context.Context, in int) (int, error) { return in + 1, nil }

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
