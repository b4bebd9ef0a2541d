package console_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/api"
	"github.com/stratahq/strata/internal/console"
	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/objects"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
	"github.com/stratahq/strata/internal/store/storetest"
)

// Sizes of the generated store: the target is every page in
// ≤ 100 ms p95 with a million invocations and 100,000 spans stored.
const (
	benchInvocations = 1_000_000
	benchSpans       = 100_000
	benchFunctions   = 20
	benchSpread      = 7 * 24 * time.Hour // usage records are spread over the last week
	benchObjects     = 20_000             // durable objects of project p0
)

// benchObjectKey is the key of the i-th generated object.
func benchObjectKey(b *testing.B, i int) record.ObjectKey {
	class := fmt.Sprint("Room", i%4)
	id, err := objects.IDFromName(class, fmt.Sprint("r", i))
	if err != nil {
		b.Fatal(err)
	}
	return record.ObjectKey{Project: "p0", Class: class, ID: id}
}

// BenchmarkConsolePages answers each page over HTTP, as a logged-in admin,
// from a SQLite store holding benchInvocations usage records and
// benchSpans spans, and reports each page's p95 (p95-ms). Generating the
// data takes a minute; it is made once per run in a temp dir
// (STRATA_BENCH_CONSOLE_DB reuses a file across runs).
//
//	go test ./internal/console -run '^$' -bench ConsolePages -benchtime 40x
func BenchmarkConsolePages(b *testing.B) {
	ctx := context.Background()
	path := os.Getenv("STRATA_BENCH_CONSOLE_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "console.db")
	}
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	fns, err := st.FunctionList(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if len(fns) == 0 {
		start := time.Now()
		generate(b, st, now)
		b.Logf("generated %d usage records and %d spans in %s", benchInvocations, benchSpans, time.Since(start).Round(time.Second))
	}
	secret := api.NewToken()
	if err := st.TokenPut(ctx, record.Token{Hash: api.HashToken(secret), Name: "bench", Scope: record.ScopeAdmin}); err != nil {
		b.Fatal(err)
	}
	engine := flow.New(flow.Config{Store: st, ProjectOf: func(string) string { return "" },
		Workflows: func(string) (flow.WorkflowRef, bool) { return flow.WorkflowRef{}, false }})
	c, err := console.New(console.Config{API: api.New(api.Config{Store: st, Flows: engine}), Store: st, Flows: engine, Traces: st,
		Key: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(c)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	br := &browser{base: srv.URL + console.Prefix, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	res, err := br.c.PostForm(br.base+"/login", url.Values{"token": {secret}})
	if err != nil || res.StatusCode != http.StatusSeeOther {
		b.Fatalf("log in: %v %v", err, res)
	}
	res.Body.Close()
	list, err := st.TraceList(ctx, store.TraceListParams{Limit: 1})
	if err != nil || len(list) == 0 {
		b.Fatalf("no trace: %v", err)
	}
	obj := benchObjectKey(b, benchObjects/2+3) // of class Room3, mid-list
	for _, p := range []string{"/", "/?window=6h", "/?window=24h", "/?window=7d", "/functions", "/functions/fn-3",
		"/logs?function=fn-3", "/traces", "/traces?function=fn-3&status=error&min=50ms", "/traces/" + list[0].TraceID,
		"/executions", "/queues", "/schedules", "/usage", "/usage?window=7d",
		"/objects?project=p0", "/objects?project=p0&class=Room3&after=" + url.QueryEscape(obj.String()),
		"/objects/" + obj.Class + "/" + obj.ID + "?project=p0", "/connections"} {
		b.Run(strings.TrimPrefix(p, "/"), func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				res, err := br.c.Get(br.base + p)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Fatalf("%s: %d", p, res.StatusCode)
				}
				took = append(took, time.Since(start))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)*95/100])/1e6, "p95-ms")
			// The slowest is the first view of a window, before the
			// series cache holds its settled steps.
			b.ReportMetric(float64(took[len(took)-1])/1e6, "max-ms")
		})
	}
}

// generate fills st: benchFunctions functions in 4 projects, the usage
// records and spans in large batches, some log lines and executions.
func generate(b *testing.B, st store.Store, now time.Time) {
	ctx := context.Background()
	for p := range 4 {
		var nv []store.NewVersionParams
		for i := p; i < benchFunctions; i += 4 {
			nv = append(nv, store.NewVersionParams{Function: fmt.Sprint("fn-", i), ModuleSHA256: storetest.Digest([]byte(fmt.Sprint(i))),
				Config: record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 128, TimeoutMS: 1000, MaxConcurrency: 8}})
		}
		if _, err := st.DeploymentApply(ctx, store.DeploymentApplyParams{Project: fmt.Sprint("p", p), NewVersions: nv,
			Events: &store.EventsApplyParams{Queues: []record.QueueConfig{{Name: fmt.Sprint("q", p), Kind: record.QueueUser}}}}); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	outcomes := []string{record.OutcomeOK, record.OutcomeOK, record.OutcomeOK, record.OutcomeOK, record.OutcomeOK, record.OutcomeOK,
		record.OutcomeOK, record.OutcomeOK, record.OutcomeError, record.OutcomeTimeout}
	batch := make([]record.Usage, 0, 10_000)
	for i := range benchInvocations {
		d := time.Duration(rng.ExpFloat64() * float64(20*time.Millisecond))
		batch = append(batch, record.Usage{InvocationID: fmt.Sprintf("inv-%d", i), Function: fmt.Sprint("fn-", rng.IntN(benchFunctions)), Version: 1,
			Trigger: "http", TraceID: fmt.Sprintf("%032x", i), Start: now.Add(-time.Duration(rng.Int64N(int64(benchSpread)))), Duration: d,
			BilledMS: max(d.Milliseconds(), 1), MemoryMB: 128, Cold: rng.IntN(50) == 0, Outcome: outcomes[rng.IntN(len(outcomes))], Status: 200})
		if len(batch) == cap(batch) {
			if err := st.UsageInsert(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	spans := make([]store.Span, 0, 5000)
	for i := range benchSpans / 5 { // traces of 5 spans
		trace := fmt.Sprintf("%032x", i)
		fn := fmt.Sprint("fn-", i%benchFunctions)
		start := now.Add(-time.Duration(rng.Int64N(int64(24 * time.Hour))))
		root := fmt.Sprintf("%016x", i*8+1)
		for k := range 5 {
			sp := store.Span{TraceID: trace, SpanID: fmt.Sprintf("%016x", i*8+1+k), Project: fmt.Sprint("p", i%benchFunctions%4), Function: fn,
				Name: "invoke " + fn, Kind: "internal", Start: start.Add(time.Duration(k) * time.Millisecond),
				Duration: time.Duration(100-k*10) * time.Millisecond, Status: "ok",
				Attributes: map[string]string{"strata.invocation_id": fmt.Sprintf("inv-%d", i), "faas.coldstart": "false"}}
			if k > 0 {
				sp.ParentID = root
			} else {
				sp.Name, sp.Kind = "GET /"+fn, "server"
			}
			if i%20 == 0 && k == 4 {
				sp.Status = "error"
			}
			spans = append(spans, sp)
		}
		if len(spans) >= cap(spans)-5 {
			if err := st.SpanInsert(ctx, spans); err != nil {
				b.Fatal(err)
			}
			spans = spans[:0]
		}
	}
	if err := st.SpanInsert(ctx, spans); err != nil {
		b.Fatal(err)
	}
	var lines []record.LogLine
	for i := range 20_000 {
		lines = append(lines, record.LogLine{InvocationID: fmt.Sprintf("inv-%d", i%(benchSpans/5)), Function: fmt.Sprint("fn-", i%benchFunctions), Version: 1,
			Time: now.Add(-time.Duration(i) * time.Second), Stream: "stdout", Level: record.LevelInfo, Line: fmt.Sprintf("line %d", i)})
	}
	if err := st.LogInsert(ctx, lines); err != nil {
		b.Fatal(err)
	}
	// benchObjects objects of project p0 in 4 classes, 5 keys each,
	// committed as the objects engine does (a lease, then batches).
	var writes []store.ObjectWrite
	for i := range benchObjects {
		k := benchObjectKey(b, i)
		l, err := st.ObjectLeaseAcquire(ctx, k, "bench", time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		w := store.ObjectWrite{Key: k, Token: l.Token, Name: fmt.Sprint("r", i), Keys: 5}
		for j := range 5 {
			e := record.ObjectEntry{Key: fmt.Sprint("key-", j), Value: []byte(strings.Repeat("v", 100*j))}
			w.Puts = append(w.Puts, e)
			w.Bytes += int64(len(e.Key) + len(e.Value))
		}
		if writes = append(writes, w); len(writes) == 500 || i == benchObjects-1 {
			if _, err := st.ObjectCommit(ctx, writes, time.Hour); err != nil {
				b.Fatal(err)
			}
			writes = writes[:0]
		}
	}
	for i := range 500 {
		id := fmt.Sprint("exec-", i)
		if _, _, err := st.FlowStart(ctx, store.FlowStartParams{Execution: record.FlowExecution{ID: id, Project: "p0", Workflow: "w",
			Function: "fn-0", Run: 1, Status: record.FlowRunning, Input: []byte(`{}`), CreatedAt: now, UpdatedAt: now},
			Events: []record.FlowEvent{{Type: "started", Name: "w", Time: now}}, DueAt: now.Add(time.Hour)}, now); err != nil {
			b.Fatal(err)
		}
	}
}
