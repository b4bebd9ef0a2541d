package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The bindings scenario: many concurrent invocations of a function that
// queries PostgreSQL through a database binding, whose pool may open at
// most max_connections connections however many instances run, against
// the naive pattern of serverless code that opens a connection per request,
// here on a role whose CONNECTION LIMIT plays the part of a database that
// has run out of connections.

// Systems of the bindings scenario.
const (
	bindingsStrata = "strata-binding" // strata dev, function → SQL binding → pgx pool
	bindingsNaive  = "naive-connect"  // a goroutine per request, pgx.Connect each time
)

// bindingsFunction is the function of the bindings project, at GET /query.
const bindingsFunction = "query"

// bindingsRows is how many rows the benchmark table holds.
const bindingsRows = 100

// bindingsResult is one system's run.
type bindingsResult struct {
	System string `json:"system"`
	// Concurrency is how many clients run at once (HTTP clients for Strata,
	// goroutines for the naive pattern); each makes Requests/Concurrency
	// requests one after another.
	Concurrency int   `json:"concurrency"`
	Requests    int   `json:"requests"`
	OK          int64 `json:"ok"`
	// TooMany counts requests refused by PostgreSQL with SQLSTATE 53300
	// (too many connections, for the server or the role).
	TooMany int64 `json:"too_many_connections"`
	// Errors counts every other failure (a non-200 answer, a transport or
	// query error).
	Errors       int64            `json:"errors"`
	Statuses     map[string]int64 `json:"statuses,omitempty"`
	FirstError   string           `json:"first_error,omitempty"`
	Seconds      float64          `json:"seconds"`
	PerSecond    float64          `json:"ok_per_second"`
	P50us        float64          `json:"p50_us"`
	P99us        float64          `json:"p99_us"`
	QueryWorkMS  int              `json:"query_work_ms"`
	MaxConns     int              `json:"max_connections,omitempty"`       // the binding's pool ceiling
	RoleLimit    int              `json:"role_connection_limit,omitempty"` // the naive role's CONNECTION LIMIT
	PeakConns    int              `json:"peak_connections"`                // most seen at once in pg_stat_activity
	ConnsChecked int              `json:"connection_samples"`              // pg_stat_activity samples taken
	// Schema and Role name what the run created (and dropped), for the
	// smoke test to check the clean-up.
	Schema  string `json:"schema,omitempty"`
	Role    string `json:"role,omitempty"`
	Note    string `json:"note,omitempty"`
	Skipped string `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`
}

// bindingsSource is the benchmark function: one primary-key lookup through
// the binding "db", with QUERY_MS of work on the server (pg_sleep), so that
// many invocations really do wait for the pool's few connections.
const bindingsSource = `// Command query looks up one row through the SQL binding "db".
package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/db"
)

var database = db.Open("db")

var work, _ = strconv.ParseFloat(os.Getenv("QUERY_MS"), 64)

func init() {
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.URL.Query().Get("id"))
		var v string
		err := database.QueryRow(r.Context(), ` + "`" + bindingsQuery + "`" + `, id, work/1000).Scan(&v)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, v)
	})
}

func main() {}
`

// bindingsQuery is what both systems run: $1 the id, $2 seconds of
// pg_sleep. The sleep sits in a FROM subquery so its void result is not a
// column.
const bindingsQuery = `select i.v from items i, (select pg_sleep($2::float8)) s where i.id = $1`

// bindingsManifest is the bindings project's strata.yaml.
func bindingsManifest(database string, maxConns, maxConcurrency, workMS int) string {
	return fmt.Sprintf(`project: bindbench
databases:
  %s:
    engine: postgres
    url: "${secret:BENCH_DB_URL}"
    max_connections: %d
secrets: [BENCH_DB_URL]
functions:
  %s:
    source: ./%s
    timeout: 60s
    max_concurrency: %d
    env: { QUERY_MS: "%d" }
    bindings: { db: %s }
    routes:
      - GET /query
`, database, maxConns, bindingsFunction, bindingsFunction, maxConcurrency, workMS, database)
}

// runBindings runs the pooled binding, then the naive pattern, on one
// fresh schema of the PostgreSQL database.
func (h *harness) runBindings(ctx context.Context, rep *report) {
	pg := h.postgresURL()
	if pg == "" {
		for _, sys := range []string{bindingsStrata, bindingsNaive} {
			rep.addBindings(bindingsResult{System: sys, Skipped: h.postgresSkip})
		}
		return
	}
	suffix := fmt.Sprintf("%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	schema := "strata_bench_bind_" + suffix
	drop, err := createBindingsSchema(ctx, pg, schema)
	if err != nil {
		for _, sys := range []string{bindingsStrata, bindingsNaive} {
			rep.addBindings(bindingsResult{System: sys, Error: err.Error()})
		}
		return
	}
	defer func() {
		if err := drop(context.WithoutCancel(ctx)); err != nil {
			h.log.Error("drop the bindings schema", "schema", schema, "err", err)
		}
	}()

	res := h.bindingsStrata(ctx, pg, schema, suffix)
	res.Schema = schema
	h.logBindings(res)
	rep.addBindings(res)
	if ctx.Err() != nil {
		return
	}
	res = h.bindingsNaive(ctx, pg, schema, "strata_bench_naive_"+suffix)
	res.Schema = schema
	h.logBindings(res)
	rep.addBindings(res)
}

func (h *harness) logBindings(r bindingsResult) {
	if r.Error != "" {
		h.log.Error("bindings", "system", r.System, "err", r.Error)
		return
	}
	h.log.Info("bindings", "system", r.System, "ok", r.OK, "too_many", r.TooMany, "errors", r.Errors,
		"per_second", int(r.PerSecond), "peak_connections", r.PeakConns)
}

// createBindingsSchema makes the schema and its items table and returns
// the function that drops it.
func createBindingsSchema(ctx context.Context, pg, schema string) (func(context.Context) error, error) {
	conn, err := pgx.Connect(ctx, pg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	stmts := []string{
		"CREATE SCHEMA " + schema,
		"CREATE TABLE " + schema + ".items (id int PRIMARY KEY, v text NOT NULL)",
		fmt.Sprintf("INSERT INTO %s.items SELECT g, 'item ' || g FROM generate_series(1, %d) g", schema, bindingsRows),
	}
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			_, _ = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
			return nil, fmt.Errorf("create the bindings schema: %s: %w", s, err)
		}
	}
	return func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, pg)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		return err
	}, nil
}

// withParam adds key=value to a URL's query.
func withParam(url, kv string) string {
	if strings.Contains(url, "?") {
		return url + "&" + kv
	}
	return url + "?" + kv
}

// bindingsStrata deploys the query function on a fresh `strata dev` with a
// PostgreSQL database binding and sends it the requests, while a monitor
// counts the pool's connections in pg_stat_activity.
func (h *harness) bindingsStrata(ctx context.Context, pg, schema, suffix string) bindingsResult {
	o := h.opts
	res := bindingsResult{System: bindingsStrata, Concurrency: o.BindingsClients, Requests: o.BindingsClients * o.BindingsRequests,
		QueryWorkMS: o.BindingsQueryMS, MaxConns: o.BindingsMaxConns}
	// The database's name is unique to this run, and so is the pool's
	// application_name (strata:<database>), which the monitor counts.
	database := "bb" + strings.ReplaceAll(suffix, "_", "-")
	appName := "strata:" + database
	res.Note = fmt.Sprintf("strata dev --no-watch --memory-budget -1, max_concurrency %d, %d clients each with its own keep-alive connection, after an unmeasured round of %d; connections counted by application_name %s",
		o.BindingsClients, o.BindingsClients, o.BindingsClients, appName)
	bin, err := h.strata(ctx)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	proj := filepath.Join(h.work, "bindings")
	if err := writeBindingsProject(proj, bindingsManifest(database, o.BindingsMaxConns, o.BindingsClients, o.BindingsQueryMS)); err != nil {
		res.Error = fmt.Sprintf("write the bindings project: %v", err)
		return res
	}
	addr, err := freeAddr()
	if err != nil {
		res.Error = err.Error()
		return res
	}
	srv, err := startServer("strata dev (bindings)", proj, filepath.Join(h.work, "bindings.log"), bin, "dev", "--addr", addr, "--no-watch",
		// Hundreds of 128 MB instances at once are the point of this run (a
		// pool of connections under them), not what the node's default
		// memory budget (3/4 of RAM) admits.
		"--memory-budget", "-1")
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer srv.stop()
	if err := srv.waitLog(ctx, "serving bindbench on", "deploy failed", o.StartTimeout); err != nil {
		res.Error = err.Error()
		return res
	}
	// The URL is a secret, given on standard input as users do.
	set := exec.CommandContext(ctx, bin, "secrets", "set", "BENCH_DB_URL")
	set.Dir = proj
	set.Env = append(os.Environ(), "STRATA_SERVER=", "STRATA_TOKEN=")
	set.Stdin = strings.NewReader(withParam(pg, "search_path="+schema))
	if out, err := set.CombinedOutput(); err != nil {
		res.Error = fmt.Sprintf("strata secrets set: %v\n%s", err, out)
		return res
	}
	url := "http://" + addr + "/query"
	// One request first, so a broken setup fails clearly rather than as
	// N identical errors.
	if err := checkQuery(ctx, url+"?id=1", "item 1"); err != nil {
		res.Error = fmt.Sprintf("%v\n%s", err, srv.logTail())
		return res
	}

	mon, err := startConnMonitor(ctx, pg, "application_name = $1", appName)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
		MaxIdleConns: o.BindingsClients, MaxIdleConnsPerHost: o.BindingsClients,
	}}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	statuses := map[int]int64{}
	get := func(ctx context.Context, i int) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s?id=%d", url, i%bindingsRows+1), nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		mu.Lock()
		statuses[resp.StatusCode]++
		mu.Unlock()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /query: %s: %s", resp.Status, bytes.TrimSpace(body))
		}
		if want := fmt.Sprintf("item %d", i%bindingsRows+1); string(body) != want {
			return fmt.Errorf("GET /query: %q, want %q", body, want)
		}
		return nil
	}
	// An unmeasured round first starts the instances, so the measured one
	// is about the pool, not cold starts; the monitor watches both.
	warm := runClients(ctx, o.BindingsClients, 1, get)
	statuses = map[int]int64{}
	out := runClients(ctx, o.BindingsClients, o.BindingsRequests, get)
	res.PeakConns, res.ConnsChecked = mon.stop()
	out.fill(&res)
	if n := warm.errs.Load() + warm.tooMany.Load(); n > 0 {
		out.errs.Add(n)
		res.Errors += n
		if res.FirstError == "" {
			res.FirstError = "warm-up: " + *warm.firstErr.Load()
		}
	}
	res.Statuses = map[string]int64{}
	for code, n := range statuses {
		res.Statuses[fmt.Sprint(code)] = n
	}
	if mon.err != nil {
		res.Error = "count connections: " + mon.err.Error()
	}
	if res.PeakConns > o.BindingsMaxConns {
		res.Error = fmt.Sprintf("the pool opened %d connections, over its max_connections %d", res.PeakConns, o.BindingsMaxConns)
	}
	if res.Errors > 0 || res.TooMany > 0 {
		res.Error = fmt.Sprintf("%d of %d requests failed; first: %s", res.Errors+res.TooMany, res.Requests, res.FirstError)
	}
	return res
}

// writeBindingsProject writes the bindings project into dir.
func writeBindingsProject(dir, manifest string) error {
	if err := os.MkdirAll(filepath.Join(dir, bindingsFunction), 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"go.mod":      "module bindbench\n\ngo 1.24\n",
		"strata.yaml": manifest,
		filepath.Join(bindingsFunction, "main.go"): bindingsSource,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// checkQuery makes one request and insists on the answer.
func checkQuery(ctx context.Context, url, want string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return fmt.Errorf("check GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != want {
		return fmt.Errorf("check GET %s: %s %q, want 200 %q", url, resp.Status, body, want)
	}
	return nil
}

// bindingsNaive runs the same queries from goroutines that each open a
// connection per request, as a role with CONNECTION LIMIT RoleLimit.
func (h *harness) bindingsNaive(ctx context.Context, pg, schema, role string) bindingsResult {
	o := h.opts
	res := bindingsResult{System: bindingsNaive, Concurrency: o.BindingsClients, Requests: o.BindingsClients * o.BindingsRequests,
		QueryWorkMS: o.BindingsQueryMS, RoleLimit: o.BindingsRoleLimit, Role: role,
		Note: fmt.Sprintf("%d goroutines, pgx.Connect + query + Close per request, as role %s with CONNECTION LIMIT %d", o.BindingsClients, role, o.BindingsRoleLimit)}
	admin, err := pgx.Connect(ctx, pg)
	if err != nil {
		res.Error = fmt.Sprintf("connect to PostgreSQL: %v", err)
		return res
	}
	defer admin.Close(context.WithoutCancel(ctx))
	for _, s := range []string{
		fmt.Sprintf("CREATE ROLE %s LOGIN CONNECTION LIMIT %d", role, o.BindingsRoleLimit),
		fmt.Sprintf("GRANT USAGE ON SCHEMA %s TO %s", schema, role),
		fmt.Sprintf("GRANT SELECT ON %s.items TO %s", schema, role),
	} {
		if _, err := admin.Exec(ctx, s); err != nil {
			res.Error = fmt.Sprintf("create the naive role: %s: %v", s, err)
			dropRole(context.WithoutCancel(ctx), admin, role, schema)
			return res
		}
	}
	defer dropRole(context.WithoutCancel(ctx), admin, role, schema)

	cfg, err := pgx.ParseConfig(withParam(pg, "search_path="+schema))
	if err != nil {
		res.Error = err.Error()
		return res
	}
	cfg.User = role
	cfg.Password = ""
	cfg.RuntimeParams["application_name"] = role
	mon, err := startConnMonitor(ctx, pg, "usename = $1", role)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	work := float64(o.BindingsQueryMS) / 1000
	out := runClients(ctx, o.BindingsClients, o.BindingsRequests, func(ctx context.Context, i int) error {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		var v string
		if err := conn.QueryRow(ctx, bindingsQuery, i%bindingsRows+1, work).Scan(&v); err != nil {
			return err
		}
		if want := fmt.Sprintf("item %d", i%bindingsRows+1); v != want {
			return fmt.Errorf("query: %q, want %q", v, want)
		}
		return nil
	})
	res.PeakConns, res.ConnsChecked = mon.stop()
	out.fill(&res)
	if mon.err != nil {
		res.Error = "count connections: " + mon.err.Error()
	}
	// Refusals are the finding here, not a failure of the harness; other
	// errors are.
	if res.Errors > 0 {
		res.Error = fmt.Sprintf("%d of %d requests failed other than with too many connections; first: %s", res.Errors, res.Requests, res.FirstError)
	}
	return res
}

// dropRole removes the naive role and its grants.
func dropRole(ctx context.Context, admin *pgx.Conn, role, schema string) {
	_, _ = admin.Exec(ctx, fmt.Sprintf("REVOKE ALL ON ALL TABLES IN SCHEMA %s FROM %s", schema, role))
	_, _ = admin.Exec(ctx, fmt.Sprintf("REVOKE ALL ON SCHEMA %s FROM %s", schema, role))
	_, _ = admin.Exec(ctx, "DROP ROLE IF EXISTS "+role)
}

// clientsOutcome is what runClients counted.
type clientsOutcome struct {
	ok, tooMany, errs atomic.Int64
	firstErr          atomic.Pointer[string]
	lats              []time.Duration
	wall              time.Duration
}

func (c *clientsOutcome) fill(r *bindingsResult) {
	r.OK, r.TooMany, r.Errors = c.ok.Load(), c.tooMany.Load(), c.errs.Load()
	if p := c.firstErr.Load(); p != nil {
		r.FirstError = *p
	}
	r.Seconds = round(c.wall.Seconds(), 3)
	if c.wall > 0 {
		r.PerSecond = round(float64(r.OK)/c.wall.Seconds(), 1)
	}
	s := summarize(c.lats)
	r.P50us, r.P99us = micros(s.p50), micros(s.p99)
}

// runClients starts n clients at the same moment; each calls one perRequests
// times in a row (with request numbers i unique across clients). It
// records the latency of successful requests and sorts failures into
// "too many connections" (SQLSTATE 53300) and the rest.
func runClients(ctx context.Context, n, perClient int, one func(ctx context.Context, i int) error) *clientsOutcome {
	out := &clientsOutcome{}
	var mu sync.Mutex
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for c := range n {
		wg.Go(func() {
			lats := make([]time.Duration, 0, perClient)
			<-gate
			for k := range perClient {
				if ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				err := one(ctx, c*perClient+k)
				d := time.Since(t0)
				switch {
				case err == nil:
					out.ok.Add(1)
					lats = append(lats, d)
				case isTooManyConnections(err):
					out.tooMany.Add(1)
				default:
					out.errs.Add(1)
					msg := err.Error()
					out.firstErr.CompareAndSwap(nil, &msg)
				}
			}
			mu.Lock()
			out.lats = append(out.lats, lats...)
			mu.Unlock()
		})
	}
	start := time.Now()
	close(gate)
	wg.Wait()
	out.wall = time.Since(start)
	return out
}

// isTooManyConnections reports PostgreSQL's refusal of a new connection:
// too many for the server (53300) or for the role ("too many connections
// for role", also 53300).
func isTooManyConnections(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "53300"
	}
	return strings.Contains(err.Error(), "too many connections")
}

// connMonitor samples how many backends match a condition in
// pg_stat_activity, on a connection of its own, until stopped.
type connMonitor struct {
	cancel  context.CancelFunc
	done    chan struct{}
	first   chan struct{} // closed once the first sample is taken (or failed)
	peak    int
	samples int
	err     error
}

func startConnMonitor(ctx context.Context, pg, where string, arg string) (*connMonitor, error) {
	conn, err := pgx.Connect(ctx, withParam(pg, "application_name=strata-bench-monitor"))
	if err != nil {
		return nil, fmt.Errorf("connect the connection monitor: %w", err)
	}
	mctx, cancel := context.WithCancel(ctx)
	m := &connMonitor{cancel: cancel, done: make(chan struct{}), first: make(chan struct{})}
	go func() {
		defer close(m.done)
		var firstOnce sync.Once
		defer firstOnce.Do(func() { close(m.first) })
		defer conn.Close(context.WithoutCancel(ctx))
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var n int
			err := conn.QueryRow(mctx, "select count(*) from pg_stat_activity where "+where, arg).Scan(&n)
			if mctx.Err() != nil {
				return
			}
			if err != nil {
				m.err = err
				return
			}
			m.samples++
			m.peak = max(m.peak, n)
			firstOnce.Do(func() { close(m.first) })
			select {
			case <-mctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return m, nil
}

// stop ends the sampling and returns the peak and the number of samples.
// It lets the first sample finish: a short load can end before the first
// query's round trip does (CI, with other tests busy on the database), and
// the pool's connections are still open then.
func (m *connMonitor) stop() (int, int) {
	<-m.first
	m.cancel()
	<-m.done
	return m.peak, m.samples
}

// writeBindingsTable prints the scenario's section of the report.
func writeBindingsTable(tw *tabwriter.Writer, rs []bindingsResult) {
	fmt.Fprintln(tw, "bindings (PostgreSQL lookups)\tclients\trequests\tok\ttoo many conns\terrors\tok/s\tp50\tp99\tpeak conns\tlimit")
	for _, r := range rs {
		switch {
		case r.Skipped != "":
			fmt.Fprintf(tw, "  %s\t-\t-\t-\t-\t-\t-\t-\t-\t-\tskipped: %s\n", r.System, r.Skipped)
			continue
		case r.Error != "" && r.OK+r.TooMany+r.Errors == 0:
			fmt.Fprintf(tw, "  %s\t-\t-\t-\t-\t-\t-\t-\t-\t-\tERROR: %s\n", r.System, firstLine(r.Error))
			continue
		}
		limit := fmt.Sprintf("max_connections %d", r.MaxConns)
		if r.System == bindingsNaive {
			limit = fmt.Sprintf("role CONNECTION LIMIT %d", r.RoleLimit)
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\t%d\t%.0f\t%s\t%s\t%d\t%s\n", r.System, r.Concurrency, r.Requests, r.OK, r.TooMany, r.Errors,
			r.PerSecond, fmtMicros(r.P50us), fmtMicros(r.P99us), r.PeakConns, limit)
	}
}
