package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/client"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/sfn"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// standardNode starts a node on storeURL ("" for SQLite in a temp dir)
// with a no-op function "noop" in project bench, and returns it with an
// admin token (a token of every project).
func standardNode(b *testing.B, storeURL string) (*Server, string) {
	b.Helper()
	ctx := context.Background()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = b.TempDir()
	cfg.CacheDir = wasmtest.SharedCacheDir()
	cfg.Store = storeURL
	if cfg.IsPostgres() {
		cfg.SecretKey = testSecretKey
	}
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Stop(context.Background()) })
	<-srv.Loaded()
	tok, err := srv.EnsureAdminToken(ctx)
	if err != nil {
		b.Fatal(err)
	}
	c := client.New(srv.URL(), tok)
	guest := wasmtest.Guest(b, wasmtest.Hello)
	sum := sha256.Sum256(guest)
	sha := hex.EncodeToString(sum[:])
	if _, err := c.UploadBlob(ctx, sha, guest); err != nil {
		b.Fatal(err)
	}
	fc := record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 64, TimeoutMS: 30000, MaxConcurrency: 64}
	if _, err := c.Deploy(ctx, apitype.Spec{Project: "bench", Functions: []apitype.FunctionSpec{{Name: "noop", ModuleSHA256: sha, Config: fc}}}, false); err != nil {
		b.Fatal(err)
	}
	return srv, tok
}

// sfnBenchCall sends one Step Functions operation as project bench.
func sfnBenchCall(b *testing.B, hc *http.Client, url, tok, op, body string) string {
	req, _ := http.NewRequest("POST", url+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "AWSStepFunctions."+op)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Strata-Project", "bench")
	resp, err := hc.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("%s: %d %s", op, resp.StatusCode, out)
	}
	return string(out)
}

// waitIdle waits until no execution of workflow is running.
func waitIdle(b *testing.B, srv *Server, workflow string) {
	for {
		running, err := srv.fl.List(context.Background(), store.FlowListParams{Project: "bench", Workflow: workflow, Status: record.FlowRunning, Limit: 1})
		if err != nil {
			b.Fatal(err)
		}
		if len(running) == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const standardThreeTasks = `{"StartAt":"A","States":{
 "A":{"Type":"Task","Resource":"noop","ResultPath":"$.a","Next":"B"},
 "B":{"Type":"Task","Resource":"noop","ResultPath":"$.b","Next":"C"},
 "C":{"Type":"Task","Resource":"noop","ResultPath":"$.c","End":true}}}`

// BenchmarkStepFunctionsStandard measures STANDARD executions of three
// Task states on a no-op function, started by 32 concurrent clients over
// loopback HTTP, on SQLite and (with STRATA_TEST_POSTGRES) PostgreSQL:
// executions/s is b.N over the time from the first start until the last
// execution completed. Every execution is durable: its start, each
// Task's result and its close are committed (group commit across
// executions).
func BenchmarkStepFunctionsStandard(b *testing.B) {
	stores := map[string]string{"sqlite": ""}
	if pg := os.Getenv("STRATA_TEST_POSTGRES"); pg != "" {
		stores["postgres"] = pg
	}
	for _, name := range []string{"sqlite", "postgres"} {
		storeURL, ok := stores[name]
		if !ok {
			continue
		}
		b.Run(name, func(b *testing.B) {
			if name == "postgres" {
				storeURL = withSearchPath(storeURL, testSchema(b, storeURL))
			}
			srv, tok := standardNode(b, storeURL)
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
			out := sfnBenchCall(b, hc, srv.URL(), tok, "CreateStateMachine",
				fmt.Sprintf(`{"name":"three","type":"STANDARD","roleArn":"unused","definition":%q}`, standardThreeTasks))
			arn := between(out, `"stateMachineArn":"`, `"`)
			const clients = 32
			var next atomic.Int64
			ws, _ := srv.st.(interface{ WriterStats() (int64, int64) })
			var commits0, writes0 int64
			if ws != nil {
				commits0, writes0 = ws.WriterStats()
			}
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						sfnBenchCall(b, hc, srv.URL(), tok, "StartExecution", `{"stateMachineArn":"`+arn+`","input":"{\"x\":1}"}`)
					}
				}()
			}
			wg.Wait()
			waitIdle(b, srv, sfn.WorkflowPrefix+"bench/three")
			elapsed := time.Since(start)
			b.StopTimer()
			failed, err := srv.fl.List(context.Background(), store.FlowListParams{Project: "bench", Status: record.FlowFailed, Limit: 1})
			if err != nil || len(failed) > 0 {
				b.Fatalf("failed executions: %v %s", err, func() string {
					if len(failed) > 0 {
						return string(failed[0].Error)
					}
					return ""
				}())
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "executions/s")
			if ws != nil {
				// On SQLite: synced commits (one WAL fsync each) and
				// the writes they carried, per execution.
				commits, writes := ws.WriterStats()
				b.ReportMetric(float64(commits-commits0)/float64(b.N), "commits/exec")
				b.ReportMetric(float64(writes-writes0)/float64(b.N), "writes/exec")
			}
		})
	}
}

// BenchmarkStepFunctionsLongExecution runs one STANDARD execution of
// about 1,000 and about 10,000 states (a loop of a Pass, a Task and a
// Choice) and reports the cost per state: flat when the execution's cost
// does not grow with its history.
func BenchmarkStepFunctionsLongExecution(b *testing.B) {
	const loop = `{"StartAt":"Inc","States":{
	 "Inc":{"Type":"Pass","Parameters":{"i.$":"States.MathAdd($.i, 1)","n.$":"$.n"},"Next":"T"},
	 "T":{"Type":"Task","Resource":"noop","ResultPath":null,"Next":"Loop"},
	 "Loop":{"Type":"Choice","Choices":[{"Variable":"$.i","NumericLessThanPath":"$.n","Next":"Inc"}],"Default":"Done"},
	 "Done":{"Type":"Succeed"}}}`
	srv, tok := standardNode(b, "")
	hc := &http.Client{}
	out := sfnBenchCall(b, hc, srv.URL(), tok, "CreateStateMachine",
		fmt.Sprintf(`{"name":"loop","type":"STANDARD","roleArn":"unused","definition":%q}`, loop))
	arn := between(out, `"stateMachineArn":"`, `"`)
	for _, iterations := range []int{333, 3333} {
		states := iterations*3 + 1
		b.Run(fmt.Sprintf("states=%d", states), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				start := time.Now()
				sfnBenchCall(b, hc, srv.URL(), tok, "StartExecution", fmt.Sprintf(`{"stateMachineArn":"%s","input":"{\"i\":0,\"n\":%d}"}`, arn, iterations))
				waitIdle(b, srv, sfn.WorkflowPrefix+"bench/loop")
				b.ReportMetric(float64(time.Since(start).Microseconds())/float64(states), "µs/state")
			}
		})
	}
}

func between(s, from, to string) string {
	_, rest, _ := strings.Cut(s, from)
	v, _, _ := strings.Cut(rest, to)
	return v
}
