package server

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the driver the bindings use, for the baseline

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/bindings"
	"github.com/stratahq/strata/internal/client"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
	"github.com/stratahq/strata/sdk/go/wire"
)

// BenchmarkBindingPointQuery measures a warm point query by primary key
// three ways in one run, each as per-call percentiles over the same number
// of calls:
//
//   - guest: db.QueryRow(...).Scan from inside a warm binder instance, timed
//     in the guest around each call (SDK encoding, the host call, JSON both
//     ways, the bindings' pool and checks, the driver);
//   - host: (*bindings.Bindings).SQL called directly (no guest, no ABI);
//   - driver: database/sql with the same driver on the same file.
//
// guest-driver is what a function pays for not holding the connection
// itself; guest-host is the share of the guest boundary.
func BenchmarkBindingPointQuery(b *testing.B) {
	const perCall = 100 // queries per guest invocation
	ctx := context.Background()
	srv, c, sha := benchNode(b, wasmtest.Guest(b, wasmtest.Binder))
	fc := record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 64, TimeoutMS: 60000, MaxConcurrency: 1,
		Bindings: []record.Binding{{Name: "db", Kind: record.BindingSQL, Resource: "benchdb"}}}
	spec := apitype.Spec{Project: "bench",
		Databases: []apitype.DatabaseSpec{{Name: "benchdb", Engine: record.EngineSQLite, MaxConnections: 4}},
		Functions: []apitype.FunctionSpec{{Name: "binder", ModuleSHA256: sha, Config: fc, Routes: []apitype.RouteSpec{{Method: "GET", Path: "/b"}}}}}
	if _, err := c.Deploy(ctx, spec, false); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Migrate(ctx, "benchdb", []apitype.Migration{{Name: "0001.sql", SQL: `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
		INSERT INTO items (id, name) SELECT value, 'item-' || value FROM generate_series(1, 1000)`}}); err != nil {
		// generate_series is an extension some builds lack: fill by hand.
		if _, err := c.Migrate(ctx, "benchdb", []apitype.Migration{{Name: "0001.sql", SQL: "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"}}); err != nil {
			b.Fatal(err)
		}
		for i := 1; i <= 1000; i++ {
			if _, err := srv.bnd.Query(ctx, "benchdb", "INSERT INTO items (id, name) VALUES ($1, $2)", []wire.SQLValue{wire.Int(int64(i)), wire.Text(fmt.Sprintf("item-%d", i))}); err != nil {
				b.Fatal(err)
			}
		}
	}
	const query = "SELECT name FROM items WHERE id = $1"
	q := url.Values{"op": {"bench"}, "n": {strconv.Itoa(perCall)}, "sql": {query}, "arg": {"i:500"}}
	guestURL := srv.URL() + "/b?" + q.Encode()
	guestRun := func() []time.Duration {
		resp, err := http.Get(guestURL)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("guest: %d %s", resp.StatusCode, body)
		}
		var out []time.Duration
		for _, f := range strings.Split(string(body), ",") {
			ns, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				b.Fatalf("guest answer %q: %v", body, err)
			}
			out = append(out, time.Duration(ns))
		}
		return out
	}

	caller := &host.Call{Function: "binder", Version: 1, InvocationID: "bench", Config: fc}
	hostRun := func() []time.Duration {
		out := make([]time.Duration, perCall)
		req := wire.SQLRequest{Op: wire.SQLQuery, Binding: "db", SQL: query, Args: []wire.SQLValue{wire.Int(500)}}
		for i := range out {
			start := time.Now()
			resp, err := srv.bnd.SQL(ctx, caller, req)
			if err != nil || resp.Error != nil || len(resp.Rows) != 1 {
				b.Fatalf("host: %v %+v", err, resp)
			}
			out[i] = time.Since(start)
		}
		return out
	}

	direct, err := sql.Open("sqlite", bindings.SQLitePath(srv.cfg.DataDir, "benchdb"))
	if err != nil {
		b.Fatal(err)
	}
	defer direct.Close()
	driverRun := func() []time.Duration {
		out := make([]time.Duration, perCall)
		var name string
		for i := range out {
			start := time.Now()
			if err := direct.QueryRowContext(ctx, query, 500).Scan(&name); err != nil {
				b.Fatal(err)
			}
			out[i] = time.Since(start)
		}
		return out
	}

	// Warm up all three (instance, connections, statement caches).
	guestRun()
	hostRun()
	driverRun()

	var guest, host, driver []time.Duration
	b.ResetTimer()
	for range b.N {
		// Interleaved so that machine noise hits the three alike.
		guest = append(guest, guestRun()...)
		host = append(host, hostRun()...)
		driver = append(driver, driverRun()...)
	}
	b.StopTimer()
	pct := func(d []time.Duration, p float64) float64 {
		slices.Sort(d)
		return float64(d[int(float64(len(d)-1)*p)]) / float64(time.Microsecond)
	}
	b.ReportMetric(pct(guest, 0.5), "guest-p50-µs")
	b.ReportMetric(pct(guest, 0.99), "guest-p99-µs")
	b.ReportMetric(pct(host, 0.5), "host-p50-µs")
	b.ReportMetric(pct(host, 0.99), "host-p99-µs")
	b.ReportMetric(pct(driver, 0.5), "driver-p50-µs")
	b.ReportMetric(pct(driver, 0.99), "driver-p99-µs")
	b.ReportMetric(pct(guest, 0.5)-pct(driver, 0.5), "overhead-p50-µs")
}

// benchNode starts a node on a fresh data dir for a benchmark and uploads
// guest to it; it returns the node, an admin client and the guest's digest.
func benchNode(b *testing.B, guest []byte, opts ...Option) (*Server, *client.Client, string) {
	b.Helper()
	ctx := context.Background()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = b.TempDir()
	cfg.CacheDir = wasmtest.SharedCacheDir()
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), opts...)
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
	sum := sha256.Sum256(guest)
	sha := hex.EncodeToString(sum[:])
	if _, err := c.UploadBlob(ctx, sha, guest); err != nil {
		b.Fatal(err)
	}
	return srv, c, sha
}
