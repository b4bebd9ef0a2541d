package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunAllScenarios runs the HTTP and in-process scenarios with tiny sizes
// against the real binary, runtime and peers, so they keep compiling and
// working (TestEventScenarios runs the others). It
// asserts that every scenario produced results and every request succeeded,
// never how fast anything was.
func TestRunAllScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the strata binary and a Go guest and starts servers; run without -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	jsonPath := filepath.Join(t.TempDir(), "out.json")
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{
		"-only", "warm,cold,handle,memory",
		"-duration", "200ms", "-warmup", "0", "-connections", "2", "-loader", "go",
		"-cold-samples", "5", "-command-samples", "5", "-handle-samples", "5", "-instances", "2",
		"-json", jsonPath,
	}, &stdout, &stderr)
	require.NoError(t, err, "stderr:\n%s\nstdout:\n%s", stderr.String(), stdout.String())

	b, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	var rep report
	require.NoError(t, json.Unmarshal(b, &rep))
	assert.Empty(t, rep.Failures)
	assert.Contains(t, stdout.String(), "warm HTTP", "the table is printed")

	t.Run("warm", func(t *testing.T) {
		byTarget := map[string]httpResult{}
		for _, h := range rep.HTTP {
			byTarget[h.Target] = h
		}
		require.Len(t, byTarget, len(allTargets))
		for _, target := range allTargets {
			h := byTarget[target]
			if target == targetWorkerd && h.Skipped != "" {
				// The workerd peer is optional: only "not installed" may skip it.
				_, statErr := os.Stat(filepath.Join("peers", "workerd", "node_modules", ".bin", "workerd"))
				require.True(t, os.IsNotExist(statErr), "workerd is installed but was skipped: %s", h.Skipped)
				continue
			}
			assert.Empty(t, h.Skipped, target)
			assert.Empty(t, h.Error, target)
			assert.Positive(t, h.Requests, target)
			assert.Zero(t, h.Errors, target)
			assert.Zero(t, h.Non2xx, target)
			assert.Positive(t, h.RPS, target)
			assert.Positive(t, h.P50us, target)
			assert.GreaterOrEqual(t, h.P99us, h.P50us, target)
		}
		names := map[string]bool{}
		for _, q := range rep.Ratios {
			names[q.Name] = true
			assert.Positive(t, q.Value, q.Name)
		}
		assert.True(t, names["strata/nethttp"], "ratio strata/nethttp reported")
	})

	t.Run("in-process latency", func(t *testing.T) {
		want := map[string]int{
			"cold go reactor":             5,
			"cold c command":              5,
			"handle warm Instance.Handle": 5,
		}
		got := map[string]latencyResult{}
		for _, l := range rep.Latency {
			got[l.Scenario+" "+l.Name] = l
		}
		require.Len(t, got, len(want))
		for name, samples := range want {
			l, ok := got[name]
			require.True(t, ok, name)
			assert.Empty(t, l.Error, name)
			assert.Empty(t, l.Skipped, name)
			assert.Equal(t, samples, l.Samples, name)
			assert.Positive(t, l.P50us, name)
			assert.GreaterOrEqual(t, l.P99us, l.P50us, name)
			assert.NotNil(t, l.Met, "%s is checked against its target", name)
		}
	})

	t.Run("memory", func(t *testing.T) {
		require.NotNil(t, rep.Memory)
		assert.Empty(t, rep.Memory.Error)
		assert.Equal(t, 2, rep.Memory.Instances)
		// Live instances hold wazero's state: the heap must have grown.
		assert.Positive(t, rep.Memory.HeapMBPerInstance)
		assert.Positive(t, rep.Memory.TotalPSSMB, "the proportional set is read")
	})
}

func TestGoLoaderCountsStatuses(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if strings.HasSuffix(r.URL.Path, "/bad") {
			http.Error(w, "nope", http.StatusInternalServerError)
			return
		}
		w.Write([]byte(helloBody))
	}))
	defer srv.Close()

	for _, tc := range []struct {
		name    string
		path    string
		wantBad bool
	}{
		{"ok", "/hello/world", false},
		{"server error", "/hello/bad", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := served.Load()
			res, err := goLoader{}.run(context.Background(), loadSpec{URL: srv.URL + tc.path, Connections: 3, Duration: 100 * time.Millisecond})
			require.NoError(t, err)
			require.Positive(t, res.Requests)
			// Every counted request reached the server (answers that arrive
			// after the end are not counted, so the server may see more).
			assert.LessOrEqual(t, res.Requests, served.Load()-before)
			assert.Zero(t, res.Errors)
			if tc.wantBad {
				assert.Equal(t, res.Requests, res.Non2xx)
			} else {
				assert.Zero(t, res.Non2xx)
			}
			assert.Positive(t, res.P50)
			assert.GreaterOrEqual(t, res.P99, res.P50)
		})
	}
}

func TestParseWrk(t *testing.T) {
	out := `Running 2s test @ http://127.0.0.1:18789/hello/world
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.19ms    1.49ms  15.42ms   88.43%
    Req/Sec    37.02k     3.73k   43.83k    62.50%
  Latency Distribution
     50%  711.00us
     75%    1.46ms
     90%    2.96ms
     99%    7.33ms
  147719 requests in 2.01s, 18.31MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  73543.23
Transfer/sec:      9.12MB
`
	res, err := parseWrk(out)
	require.NoError(t, err)
	assert.Equal(t, int64(147719), res.Requests)
	assert.Equal(t, 2010*time.Millisecond, res.Elapsed)
	assert.Equal(t, 711*time.Microsecond, res.P50)
	assert.Equal(t, 7330*time.Microsecond, res.P99)
	assert.Equal(t, 1190*time.Microsecond, res.Mean)
	assert.Equal(t, int64(5), res.Errors)
	assert.Equal(t, int64(7), res.Non2xx)

	_, err = parseWrk("unable to connect to 127.0.0.1:1 Connection refused")
	assert.Error(t, err)
}

func TestHistogramQuantiles(t *testing.T) {
	h := newHistogram()
	// 1..10000 µs, once each: the q-quantile is q*10000 µs.
	for i := 1; i <= 10000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	other := newHistogram()
	other.record(time.Hour)
	h.merge(other)

	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{0.50, 5000 * time.Microsecond},
		{0.99, 9900 * time.Microsecond},
		{0.00005, 1 * time.Microsecond},
	} {
		got := h.quantile(tc.q)
		assert.InEpsilon(t, float64(tc.want), float64(got), 1.0/subBuckets, "q=%v got %v", tc.q, got)
	}
	assert.Equal(t, time.Hour, h.quantile(1), "the top quantile is the maximum")
	assert.Equal(t, uint64(10001), h.total)
	assert.Zero(t, newHistogram().quantile(0.5))

	// Every slot's representative value maps back to the slot.
	for _, v := range []int64{0, 1, 63, 64, 65, 127, 128, 1000, 1 << 20, 1<<40 + 12345} {
		assert.Equal(t, slot(v), slot(slotValue(slot(v))), "value %d", v)
	}
}

func TestSummarize(t *testing.T) {
	var samples []time.Duration
	for i := 100; i >= 1; i-- {
		samples = append(samples, time.Duration(i)*time.Millisecond)
	}
	s := summarize(samples)
	assert.Equal(t, 100, s.n)
	assert.Equal(t, 50*time.Millisecond, s.p50)
	assert.Equal(t, 99*time.Millisecond, s.p99)
	assert.Equal(t, 100*time.Millisecond, s.maxd)
	assert.Equal(t, 50500*time.Microsecond, s.mean)
	assert.Equal(t, summary{}, summarize(nil))
}

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, o options)
	}{
		{name: "defaults", check: func(t *testing.T, o options) {
			assert.Equal(t, 10*time.Second, o.Duration)
			assert.Equal(t, 64, o.Connections)
			assert.Equal(t, allScenarios, o.Scenarios)
			assert.Equal(t, allTargets, o.Targets)
		}},
		{name: "only keeps canonical order", args: []string{"-only", "memory, warm"}, check: func(t *testing.T, o options) {
			assert.Equal(t, []string{scenarioWarm, scenarioMemory}, o.Scenarios)
		}},
		{name: "unknown scenario", args: []string{"-only", "warm,tepid"}, wantErr: `unknown name "tepid"`},
		{name: "empty targets", args: []string{"-targets", ","}, wantErr: "nothing selected"},
		{name: "bad loader", args: []string{"-loader", "ab"}, wantErr: "-loader"},
		{name: "zero connections", args: []string{"-connections", "0"}, wantErr: "-connections 0"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			o, err := parseFlags(tc.args, &stderr)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.check(t, o)
		})
	}
}

// TestBindingsScenario runs the bindings scenario with tiny sizes on
// STRATA_TEST_POSTGRES: every request through the binding succeeds, the
// pool never holds more than max_connections, every naive request is
// accounted for, and the schema and role are gone afterwards. Never how
// fast.
func TestBindingsScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the strata binary and a Go guest and starts a server; run without -short")
	}
	pg := os.Getenv("STRATA_TEST_POSTGRES")
	if pg == "" {
		t.Skip("STRATA_TEST_POSTGRES not set: the bindings scenario needs PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	jsonPath := filepath.Join(t.TempDir(), "out.json")
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{
		"-only", "bindings", "-postgres", pg, "-json", jsonPath,
		"-bindings-clients", "12", "-bindings-requests", "3", "-bindings-max-connections", "3",
		"-bindings-role-limit", "4", "-bindings-query-ms", "1",
	}, &stdout, &stderr)
	require.NoError(t, err, "stderr:\n%s\nstdout:\n%s", stderr.String(), stdout.String())

	b, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	var rep report
	require.NoError(t, json.Unmarshal(b, &rep))
	assert.Empty(t, rep.Failures)
	assert.Contains(t, stdout.String(), "bindings (PostgreSQL lookups)", "the table is printed")
	require.Len(t, rep.Bindings, 2)

	s, n := rep.Bindings[0], rep.Bindings[1]
	require.Equal(t, bindingsStrata, s.System)
	require.Equal(t, bindingsNaive, n.System)
	for _, r := range rep.Bindings {
		assert.Empty(t, r.Error, r.System)
		assert.Empty(t, r.Skipped, r.System)
		assert.Equal(t, 36, r.Requests, r.System)
		assert.Equal(t, int64(r.Requests), r.OK+r.TooMany+r.Errors, "%s: every request is counted once", r.System)
		assert.Positive(t, r.ConnsChecked, "%s: pg_stat_activity was sampled", r.System)
	}
	assert.Equal(t, int64(36), s.OK, "every request through the binding succeeds")
	assert.Equal(t, map[string]int64{"200": 36}, s.Statuses)
	assert.Positive(t, s.PerSecond)
	assert.Equal(t, 3, s.MaxConns)
	// The pool was seen, and never above its ceiling.
	assert.GreaterOrEqual(t, s.PeakConns, 1)
	assert.LessOrEqual(t, s.PeakConns, 3)
	// PostgreSQL enforces the role's limit; refusals are counted, not errors.
	assert.Zero(t, n.Errors, n.FirstError)

	// Nothing is left behind.
	conn, err := pgx.Connect(ctx, pg)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var left int
	require.NoError(t, conn.QueryRow(ctx, "select count(*) from pg_namespace where nspname = $1", s.Schema).Scan(&left))
	assert.Zero(t, left, "schema %s dropped", s.Schema)
	require.NoError(t, conn.QueryRow(ctx, "select count(*) from pg_roles where rolname = $1", n.Role).Scan(&left))
	assert.Zero(t, left, "role %s dropped", n.Role)
}
