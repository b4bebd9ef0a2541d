package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/client"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// node is a real server on a free loopback port with an admin client.
type node struct {
	srv *Server
	c   *client.Client
	url string
}

func startNode(t *testing.T, storeURL string) *node {
	t.Helper()
	n := startNodeWith(t, storeURL, func(*config.Config) {})
	tok, err := n.srv.EnsureAdminToken(context.Background())
	if err != nil || tok == "" {
		t.Fatalf("admin token: %q %v", tok, err)
	}
	n.c = client.New(n.url, tok)
	return n
}

// startNodeWith starts a node without an admin client, after adjusting its
// configuration.
func startNodeWith(t *testing.T, storeURL string, adjust func(*config.Config)) *node {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.CacheDir = wasmtest.SharedCacheDir()
	cfg.Store = storeURL
	if cfg.IsPostgres() {
		cfg.SecretKey = testSecretKey // nodes sharing a database share it
	}
	adjust(&cfg)
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Stop(sctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return &node{srv: srv, url: srv.URL()}
}

type fn struct {
	name   string
	wasm   []byte
	config record.FunctionConfig
	routes []apitype.RouteSpec
}

func cfgOf(kind string) record.FunctionConfig {
	return record.FunctionConfig{Kind: kind, MemoryMB: 64, TimeoutMS: 2000, MaxConcurrency: 4, Env: map[string]string{"GREETING": "hi"}}
}

func (n *node) deploy(t *testing.T, project string, fns ...fn) error {
	t.Helper()
	ctx := context.Background()
	spec := apitype.Spec{Project: project}
	for _, f := range fns {
		sum := sha256.Sum256(f.wasm)
		sha := hex.EncodeToString(sum[:])
		if _, err := n.c.UploadBlob(ctx, sha, f.wasm); err != nil {
			t.Fatal(err)
		}
		spec.Functions = append(spec.Functions, apitype.FunctionSpec{Name: f.name, ModuleSHA256: sha, Config: f.config, Routes: f.routes})
	}
	_, err := n.c.Deploy(ctx, spec, false)
	return err
}

func get(t *testing.T, url string, body []byte) (int, http.Header, string) {
	t.Helper()
	method := "GET"
	if body != nil {
		method = "POST"
	}
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func routes(specs ...string) []apitype.RouteSpec {
	var out []apitype.RouteSpec
	for _, s := range specs {
		m, p, _ := strings.Cut(s, " ")
		out = append(out, apitype.RouteSpec{Method: m, Path: p})
	}
	return out
}

// TestLimitsThroughTheGateway deploys the misbehaving test guests next to a
// healthy one and checks each failure gets its clear status while the
// healthy function, and the failing one's next request, keep working.
func TestLimitsThroughTheGateway(t *testing.T) {
	n := startNode(t, "")
	short := cfgOf(record.KindReactor)
	short.TimeoutMS = 300
	// Filling 64 MB takes the guest's GC a while on a busy machine; the
	// point is that it ends in a trap, not in a timeout.
	long := cfgOf(record.KindReactor)
	long.TimeoutMS = 60000
	err := n.deploy(t, "limits",
		fn{"hello", wasmtest.Guest(t, wasmtest.Hello), cfgOf(record.KindReactor), routes("GET /hello/{name}", "POST /hello/{name}")},
		fn{"loop", wasmtest.Guest(t, wasmtest.Loop), short, routes("GET /loop")},
		fn{"alloc", wasmtest.Guest(t, wasmtest.Alloc), long, routes("GET /alloc")},
		fn{"panic", wasmtest.Guest(t, wasmtest.Panic), cfgOf(record.KindReactor), routes("GET /panic")},
		fn{"huge", wasmtest.Guest(t, wasmtest.Huge), cfgOf(record.KindReactor), routes("GET /huge")},
		fn{"cgi", wasmtest.BuildC(t, wasmtest.CGI), cfgOf(record.KindCommand), routes("* /cgi/{rest...}")},
	)
	if err != nil {
		t.Fatal(err)
	}

	code, hdr, body := get(t, n.url+"/hello/world?x=1", nil)
	if code != 200 || !strings.Contains(body, "param.name=world") || !strings.Contains(body, "env.GREETING=hi") || hdr.Get("X-Hello") != "world" {
		t.Fatalf("hello: %d %v\n%s", code, hdr, body)
	}

	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/loop", 504, "timed out"},
		{"/alloc", 500, "function failed"},
		{"/panic", 500, "function failed"},
		{"/huge", 502, ""},
	} {
		start := time.Now()
		code, hdr, body := get(t, n.url+tc.path, nil)
		t.Logf("%s: %d after %s", tc.path, code, time.Since(start))
		if code != tc.status || !strings.Contains(body, tc.want) || hdr.Get("X-Strata-Invocation-Id") == "" {
			t.Fatalf("%s: %d %s (want %d containing %q)", tc.path, code, body, tc.status, tc.want)
		}
		// The same function serves its next, well-behaved request.
		if code, _, body := get(t, n.url+tc.path+"?ok=1&n=10", nil); code != 200 {
			t.Fatalf("%s?ok=1 after failure: %d %s", tc.path, code, body)
		}
	}

	// A body over the cap: 413, before the guest runs.
	if code, _, body := get(t, n.url+"/hello/big", make([]byte, 6<<20+10)); code != 413 {
		t.Fatalf("oversized body: %d %s", code, body)
	}
	// Binary-safe through a command guest.
	bin := []byte{0, 1, 2, 255, 254, '\r', '\n', '\r', '\n', 0}
	if code, _, body := get(t, n.url+"/cgi/echo", bin); code != 200 || !strings.Contains(body, string(bin)) {
		t.Fatalf("cgi echo: %d %q", code, body)
	}
	if code, _, _ := get(t, n.url+"/hello/world", nil); code != 200 {
		t.Fatalf("healthy function broken by the others: %d", code)
	}

	// The panic's message is in the function's logs, not in the response.
	var sawPanic bool
	deadline := time.Now().Add(10 * time.Second)
	for !sawPanic && time.Now().Before(deadline) {
		_ = n.c.Logs(context.Background(), client.LogsParams{Function: "panic"}, func(e apitype.LogEntry) error {
			if strings.Contains(e.Line, "panic") {
				sawPanic = true
			}
			return nil
		})
		time.Sleep(100 * time.Millisecond)
	}
	if !sawPanic {
		t.Fatal("the panic is not in the function's logs")
	}
}

// TestConcurrencyLimit fills a function's instances and checks the next
// request is refused at once with 429 and Retry-After, never queued.
func TestConcurrencyLimit(t *testing.T) {
	n := startNode(t, "")
	c := cfgOf(record.KindReactor)
	c.MaxConcurrency = 2
	if err := n.deploy(t, "busy", fn{"sleep", wasmtest.Guest(t, wasmtest.Sleep), c, routes("GET /sleep")}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	started := make(chan struct{}, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started <- struct{}{}
			// The probe below may hold a slot for a moment while this
			// request arrives; a 429 then is the limit working, so try
			// again until this long request runs.
			for try := 0; try < 200; try++ {
				resp, err := http.Get(n.url + "/sleep?ms=2500")
				if err != nil {
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 429 {
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	<-started
	<-started
	// Wait until both instances are busy, then the third is throttled.
	var code int
	var hdr http.Header
	for i := 0; i < 200; i++ {
		time.Sleep(20 * time.Millisecond)
		if code, hdr, _ = get(t, n.url+"/sleep?ms=1", nil); code == 429 {
			break
		}
	}
	wg.Wait()
	if code != 429 || hdr.Get("Retry-After") == "" {
		t.Fatalf("third concurrent request: %d %v", code, hdr)
	}
}

// TestBadModulesRejectedAtDeploy: modules that are not Wasm, or import
// host functions that do not exist, are refused with a clear error and
// nothing is deployed.
func TestBadModulesRejectedAtDeploy(t *testing.T) {
	n := startNode(t, "")
	// A valid module header with an import of a host module Strata lacks:
	// (module (import "evil" "syscall" (func)))
	unknownImport := []byte{0, 'a', 's', 'm', 1, 0, 0, 0,
		1, 4, 1, 0x60, 0, 0, // type section: one func type () -> ()
		2, 16, 1, 4, 'e', 'v', 'i', 'l', 7, 's', 'y', 's', 'c', 'a', 'l', 'l', 0, 0, // import section
	}
	for name, wasm := range map[string][]byte{
		"not wasm":       []byte("#!/bin/sh\necho pwned\n"),
		"unknown import": unknownImport,
	} {
		err := n.deploy(t, "bad", fn{"bad", wasm, cfgOf(""), routes("GET /bad")})
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.Status != 400 {
			t.Fatalf("%s: deploy error %v, want a 400", name, err)
		}
		t.Logf("%s: %v", name, err)
		if fns, err := n.c.Functions(context.Background()); err != nil || len(fns) != 0 {
			t.Fatalf("%s: something was deployed: %v %v", name, fns, err)
		}
	}
}

// TestAdminNeedsToken: no token or a wrong one gets 401 and changes nothing.
func TestAdminNeedsToken(t *testing.T) {
	n := startNode(t, "")
	for _, tok := range []string{"", "st_wrong"} {
		c := client.New(n.url, tok)
		_, err := c.Deploy(context.Background(), apitype.Spec{Project: "x"}, false)
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.Status != 401 {
			t.Fatalf("token %q: %v, want 401", tok, err)
		}
	}
	if code, _, _ := get(t, n.url+"/_strata/health", nil); code != 200 {
		t.Fatalf("health: %d", code)
	}
	if code, _, _ := get(t, n.url+"/_strata/api/v1/nope", nil); code != 404 {
		t.Fatalf("unknown API path: %d", code)
	}
}

// TestPostgresNode runs a deploy and an invocation on the PostgreSQL store.
func TestPostgresNode(t *testing.T) {
	pg := os.Getenv("STRATA_TEST_POSTGRES")
	if pg == "" {
		t.Skip("STRATA_TEST_POSTGRES not set")
	}
	n := startNode(t, withSearchPath(pg, testSchema(t, pg)))
	if err := n.deploy(t, "pg", fn{"hello", wasmtest.Guest(t, wasmtest.Hello), cfgOf(record.KindReactor), routes("GET /hello/{name}")}); err != nil {
		t.Fatal(err)
	}
	if code, _, body := get(t, n.url+"/hello/pg", nil); code != 200 || !strings.Contains(body, "param.name=pg") {
		t.Fatalf("hello on postgres: %d %s", code, body)
	}
}

// testSchema creates a PostgreSQL schema for one test and drops it after.
func testSchema(t testing.TB, pg string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	schema := "strata_srv_" + strings.ReplaceAll(strings.ToLower(t.Name()), "/", "_") + fmt.Sprintf("_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), pg)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	return schema
}

// TestTwoNodesSharePostgres: a deploy and a rollback made through one node
// reach another node sharing the database, without a restart.
func TestTwoNodesSharePostgres(t *testing.T) {
	pg := os.Getenv("STRATA_TEST_POSTGRES")
	if pg == "" {
		t.Skip("STRATA_TEST_POSTGRES not set")
	}
	url := withSearchPath(pg, testSchema(t, pg))
	fast := func(c *config.Config) { c.SyncInterval = 100 * time.Millisecond }
	a := startNodeWith(t, url, fast)
	tok, err := a.srv.EnsureAdminToken(context.Background())
	if err != nil || tok == "" {
		t.Fatal(tok, err)
	}
	a.c = client.New(a.url, tok)
	b := startNodeWith(t, url, fast)

	wasm := wasmtest.Guest(t, wasmtest.Hello)
	c1 := cfgOf(record.KindReactor)
	if err := a.deploy(t, "shared", fn{"hello", wasm, c1, routes("GET /hello/{name}")}); err != nil {
		t.Fatal(err)
	}
	waitBody := func(url, want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			code, _, body := get(t, url, nil)
			if code == 200 && strings.Contains(body, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d %s, want %q", url, code, body, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitBody(b.url+"/hello/b", "env.GREETING=hi")
	c2 := c1
	c2.Env = map[string]string{"GREETING": "v2"}
	if err := a.deploy(t, "shared", fn{"hello", wasm, c2, routes("GET /hello/{name}")}); err != nil {
		t.Fatal(err)
	}
	waitBody(b.url+"/hello/b", "env.GREETING=v2")
	// The admin token made on node A works on node B: tokens live in the store.
	bc := client.New(b.url, tok)
	if err := bc.Rollback(context.Background(), "hello", 1); err != nil {
		t.Fatal(err)
	}
	waitBody(a.url+"/hello/a", "env.GREETING=hi")
}

// withSearchPath points a PostgreSQL URL at a schema.
func withSearchPath(pg, schema string) string {
	if strings.Contains(pg, "?") {
		return pg + "&search_path=" + schema
	}
	return pg + "?search_path=" + schema
}

// TestSlowClientsAreCut: a client that trickles its headers, or its body,
// loses the connection at the deadline instead of holding it forever; other
// clients are served meanwhile.
func TestSlowClientsAreCut(t *testing.T) {
	n := startNodeWith(t, "", func(c *config.Config) {
		c.HeaderTimeout = 300 * time.Millisecond
		c.ReadTimeout = 600 * time.Millisecond
	})
	for name, first := range map[string]string{
		"headers": "GET /x HTTP/1.1\r\nHost: a\r\n",
		"body":    "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc",
	} {
		conn, err := net.Dial("tcp", n.srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write([]byte(first)); err != nil {
			t.Fatal(err)
		}
		if code, _, _ := get(t, n.url+"/_strata/health", nil); code != 200 {
			t.Fatalf("%s: health while a slow client waits: %d", name, code)
		}
		// The server closes the connection; without a deadline this read
		// would block until the test's own 10 s guard.
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = io.ReadAll(conn)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("%s: the server kept a slow client's connection open", name)
		}
		conn.Close()
	}
}

// TestEventsThroughTheAPI deploys a queue with a consumer and a schedule
// through the admin API and drives them as the CLI does.
func TestEventsThroughTheAPI(t *testing.T) {
	n := startNode(t, "")
	ctx := context.Background()
	wasm := wasmtest.Guest(t, wasmtest.Hello)
	sum := sha256.Sum256(wasm)
	sha := hex.EncodeToString(sum[:])
	if _, err := n.c.UploadBlob(ctx, sha, wasm); err != nil {
		t.Fatal(err)
	}
	spec := apitype.Spec{
		Project: "ev",
		Queues: []apitype.QueueSpec{
			{Name: "jobs", VisibilityTimeoutMS: 1000, MaxReceives: 3, DeadLetter: "jobs-dlq"},
			{Name: "jobs-dlq", VisibilityTimeoutMS: 1000, MaxReceives: 3},
		},
		Functions: []apitype.FunctionSpec{{
			Name: "worker", ModuleSHA256: sha, Config: cfgOf(record.KindReactor), Retries: 1,
			Queue:    &apitype.QueueTrigger{Name: "jobs", BatchSize: 1},
			Schedule: &apitype.ScheduleSpec{Spec: "0 3 * * *", Timezone: "Europe/Berlin"},
		}},
	}
	res, err := n.c.Deploy(ctx, spec, false)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Applied {
		t.Fatal("first deploy not applied")
	}
	// The same spec again is a no-op, events included.
	if res, err := n.c.Deploy(ctx, spec, false); err != nil || res.Applied {
		t.Fatalf("redeploy: applied=%v err=%v\n%s", res.Applied, err, res.PlanText)
	}

	sent, err := n.c.QueueSend(ctx, "jobs", []byte(`{"n":1}`), client.EventParams{ContentType: "application/json"})
	if err != nil || sent.ID == "" {
		t.Fatal(sent, err)
	}
	waitDrained := func(q string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			info, err := n.c.Queue(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if info.Visible+info.InFlight+info.Delayed == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("queue %s not drained: %+v", q, info)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitDrained("jobs")

	// An async invoke is accepted with an id and runs.
	acc, err := n.c.InvokeAsync(ctx, "worker", "PUT", "/things", []byte("later"))
	if err != nil || acc.ID == "" {
		t.Fatal(acc, err)
	}
	waitDrained("_async.worker")
	var sawAsync bool
	deadline := time.Now().Add(10 * time.Second)
	for !sawAsync && time.Now().Before(deadline) {
		_ = n.c.Logs(ctx, client.LogsParams{Function: "worker"}, func(e apitype.LogEntry) error {
			sawAsync = sawAsync || strings.Contains(e.Line, "PUT /things")
			return nil
		})
		time.Sleep(50 * time.Millisecond)
	}
	if !sawAsync {
		t.Fatal("the async invoke did not run")
	}

	var ae *client.APIError
	if _, err := n.c.QueueSend(ctx, "nope", []byte("x"), client.EventParams{}); !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("send to an unknown queue: %v", err)
	}
	if _, err := n.c.QueueSend(ctx, "jobs", make([]byte, 1<<20+1), client.EventParams{}); !errors.As(err, &ae) || ae.Status != 413 {
		t.Fatalf("oversized message: %v", err)
	}
	if _, err := n.c.InvokeAsync(ctx, "nope", "", "", []byte("x")); !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("async invoke of an unknown function: %v", err)
	}
	if moved, err := n.c.QueueRedrive(ctx, "jobs-dlq", "", 0); err != nil || moved != 0 {
		t.Fatalf("redrive of an empty queue: %d %v", moved, err)
	}

	scheds, err := n.c.Schedules(ctx)
	if err != nil || len(scheds) != 1 || len(scheds[0].Next) < 3 {
		t.Fatalf("schedules: %+v %v", scheds, err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, at := range scheds[0].Next {
		if l := at.In(berlin); l.Hour() != 3 || l.Minute() != 0 {
			t.Fatalf("next fire %v is not 03:00 in Berlin", l)
		}
	}
}

// TestFunctionsSendEvents deploys a function that publishes to a topic of
// its project through the SDK and observes the subscriber queue with the
// real engine; sending to another project's queue or to an internal queue
// is refused with a clear error.
func TestFunctionsSendEvents(t *testing.T) {
	n := startNode(t, "")
	ctx := context.Background()
	wasm := wasmtest.Guest(t, wasmtest.Sender)
	sum := sha256.Sum256(wasm)
	sha := hex.EncodeToString(sum[:])
	if _, err := n.c.UploadBlob(ctx, sha, wasm); err != nil {
		t.Fatal(err)
	}
	deployProject := func(spec apitype.Spec) {
		t.Helper()
		if res, err := n.c.Deploy(ctx, spec, false); err != nil || !res.Applied {
			t.Fatalf("deploy %s: %v", spec.Project, err)
		}
	}
	deployProject(apitype.Spec{
		Project: "shop",
		Queues:  []apitype.QueueSpec{{Name: "audit", VisibilityTimeoutMS: 30000, MaxReceives: 3}},
		Topics:  []apitype.TopicSpec{{Name: "orders", Queues: []string{"audit"}}},
		Functions: []apitype.FunctionSpec{{Name: "sender", ModuleSHA256: sha, Config: cfgOf(record.KindReactor),
			Routes: routes("GET /send")}},
	})
	deployProject(apitype.Spec{Project: "other", Queues: []apitype.QueueSpec{{Name: "secret", VisibilityTimeoutMS: 30000, MaxReceives: 3}},
		Functions: []apitype.FunctionSpec{{Name: "other-fn", ModuleSHA256: sha, Config: cfgOf(record.KindReactor)}}})

	status, _, body := get(t, n.url+"/send?kind=topic&name=orders&body=order-1&type=order.placed&subject=orders/1", nil)
	if status != 200 || !strings.HasPrefix(body, "id=") {
		t.Fatalf("publish: %d %s", status, body)
	}
	id := strings.TrimPrefix(body, "id=")
	msgs, err := n.c.QueuePeek(ctx, "audit", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 {
		t.Fatalf("audit queue holds %d messages, want the published one: %+v", len(msgs), msgs)
	}
	m := msgs[0]
	if m.EventID != id || m.Body != "order-1" || m.Attributes["type"] != "order.placed" ||
		m.Attributes["subject"] != "orders/1" || m.Attributes["source"] != "/functions/sender" || m.Attributes["traceparent"] == "" {
		t.Fatalf("published event: %+v (id %s)", m, id)
	}

	status, _, body = get(t, n.url+"/send?kind=queue&name=audit&body=direct&json=1", nil)
	if status != 200 {
		t.Fatalf("send to own queue: %d %s", status, body)
	}
	if msgs, err := n.c.QueuePeek(ctx, "audit", 10); err != nil || len(msgs) != 2 ||
		msgs[1].Body != `{"body":"direct"}` || msgs[1].Attributes["datacontenttype"] != "application/json" {
		t.Fatalf("after a direct send: %+v %v", msgs, err)
	}

	refusals := []struct{ query, want string }{
		{"kind=queue&name=secret&body=x", "error=strata: send to queue secret: queue secret does not exist in project shop"},
		{"kind=queue&name=_async.sender&body=x", "error=strata: send to queue _async.sender: queue _async.sender is internal to Strata"},
		{"kind=topic&name=nope&body=x", "error=strata: publish to topic nope: topic nope does not exist in project shop"},
	}
	for _, r := range refusals {
		status, _, body := get(t, n.url+"/send?"+r.query, nil)
		if status != 502 || !strings.HasPrefix(body, r.want) {
			t.Fatalf("%s: got %d %q, want 502 %q...", r.query, status, body, r.want)
		}
	}
	if msgs, err := n.c.QueuePeek(ctx, "secret", 10); err != nil || len(msgs) != 0 {
		t.Fatalf("another project's queue was written: %+v %v", msgs, err)
	}
}

// TestBindingsFromGuests deploys the binder guest with a SQLite database,
// a KV namespace, a secret and a fetch allow-list, and checks each binding
// end to end through the gateway with the real bindings.
func TestBindingsFromGuests(t *testing.T) {
	n := startNode(t, "")
	ctx := context.Background()

	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Test", r.Header.Get("Traceparent")[:2])
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, body)
	}))
	t.Cleanup(upstream.Close)
	upstreamHost := strings.TrimPrefix(upstream.URL, "http://") // 127.0.0.1:port

	wasm := wasmtest.Guest(t, wasmtest.Binder)
	sum := sha256.Sum256(wasm)
	sha := hex.EncodeToString(sum[:])
	if _, err := n.c.UploadBlob(ctx, sha, wasm); err != nil {
		t.Fatal(err)
	}
	config := func(secrets []string, fetch []string, private bool) record.FunctionConfig {
		c := cfgOf(record.KindReactor)
		c.TimeoutMS = 20000 // -race on a busy machine; nothing here waits on purpose
		c.Bindings = []record.Binding{{Name: "db", Kind: record.BindingSQL, Resource: "appdb"}, {Name: "cache", Kind: record.BindingKV, Resource: "appcache"}}
		c.Secrets, c.Fetch, c.FetchPrivate = secrets, fetch, private
		return c
	}
	spec := apitype.Spec{
		Project:   "bound",
		Databases: []apitype.DatabaseSpec{{Name: "appdb", Engine: record.EngineSQLite, MaxConnections: 4}},
		KV:        []apitype.KVSpec{{Name: "appcache"}},
		Secrets:   []string{"API_KEY"},
		Functions: []apitype.FunctionSpec{
			{Name: "binder", ModuleSHA256: sha, Config: config([]string{"API_KEY"}, []string{upstreamHost}, true), Routes: routes("GET /b")},
			{Name: "stranger", ModuleSHA256: sha, Config: config(nil, []string{"api.example.org"}, false), Routes: routes("GET /s")},
			{Name: "public", ModuleSHA256: sha, Config: config(nil, []string{upstreamHost}, false), Routes: routes("GET /p")},
		},
	}
	if _, err := n.c.Deploy(ctx, spec, false); err != nil {
		t.Fatal(err)
	}
	applied, err := n.c.Migrate(ctx, "appdb", []apitype.Migration{{Name: "0001_items.sql", SQL: `CREATE TABLE items (
		id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, price REAL, data BLOB, active BOOLEAN, created TEXT, note TEXT, qty INTEGER)`}})
	if err != nil || len(applied) != 1 {
		t.Fatalf("migrate: %v %v", applied, err)
	}
	if err := n.c.SecretSet(ctx, "bound", "API_KEY", []byte("s3cr3t")); err != nil {
		t.Fatal(err)
	}

	call := func(path string, q url.Values) (int, string) {
		t.Helper()
		code, _, body := get(t, n.url+path+"?"+q.Encode(), nil)
		return code, body
	}
	expect := func(path string, q url.Values, wantCode int, want string) {
		t.Helper()
		code, body := call(path, q)
		if code != wantCode || body != want {
			t.Fatalf("%s?%s: got %d %q, want %d %q", path, q.Encode(), code, body, wantCode, want)
		}
	}

	created := time.Date(2026, 11, 25, 10, 30, 0, 5000, time.UTC)
	expect("/b", url.Values{"op": {"sql-exec"}, "sql": {"INSERT INTO items (name, price, data, active, created, note, qty) VALUES ($1, $2, $3, $4, $5, $6, $7)"},
		"arg": {"s:widget", "f:2.5", "x:00ff10", "b:true", "t:" + created.Format(time.RFC3339Nano), "n:", "i:9007199254740993"}},
		200, "affected=1 last=1")
	expect("/b", url.Values{"op": {"sql-typed"}, "sql": {"SELECT id, price, name, data, active, created, note, qty FROM items WHERE name = $1"}, "arg": {"s:widget"}},
		200, "i=1 f=2.5 s=widget b=00ff10 ok=true t=2026-11-25T10:30:00.000005Z ns=false/ p=9007199254740993")
	expect("/b", url.Values{"op": {"sql-query"}, "sql": {"SELECT name, qty FROM items"}},
		200, "name|qty\nstring:widget|int64:9007199254740993\n")
	expect("/b", url.Values{"op": {"sql-row"}, "sql": {"SELECT name FROM items WHERE id = $1"}, "arg": {"i:42"}}, 404, "norows")

	var code int
	var body string
	// Errors of the database carry SQLite's code; the instance survives.
	expect("/b", url.Values{"op": {"sql-query"}, "sql": {"SELEC 1"}}, 409, `dberror=SQLITE_ERROR|SQL logic error: near "SELEC": syntax error (1)`)
	code, body = call("/b", url.Values{"op": {"sql-exec"}, "sql": {"INSERT INTO items (name) VALUES ('widget')"}})
	if code != 409 || !strings.HasPrefix(body, "dberror=SQLITE_CONSTRAINT_UNIQUE|") {
		t.Fatalf("unique violation: %d %q", code, body)
	}
	code, body = call("/b", url.Values{"op": {"sql-exec"}, "db": {"nope"}, "sql": {"SELECT 1"}})
	if code != 502 || !strings.Contains(body, `nope`) || strings.HasPrefix(body, "dberror") {
		t.Fatalf("unbound database: %d %q", code, body)
	}

	// Transactions: committed work stays, work left open is rolled back
	// when the invocation ends.
	expect("/b", url.Values{"op": {"sql-tx"}, "sql": {"INSERT INTO items (name) VALUES ('kept')"}, "check": {"SELECT count(*) FROM items"}, "end": {"commit"}},
		200, "inside=2 tx commit")
	expect("/b", url.Values{"op": {"sql-tx"}, "sql": {"INSERT INTO items (name) VALUES ('lost')"}, "check": {"SELECT count(*) FROM items"}, "end": {"open"}},
		200, "inside=3 tx open")
	expect("/b", url.Values{"op": {"sql-row"}, "sql": {"SELECT group_concat(name, ',') FROM (SELECT name FROM items ORDER BY id)"}},
		200, "row=widget,kept")
	// The left-open transaction held the write lock; it is free again.
	// (last= is SQLite's last_insert_rowid of the connection, whatever the
	// statement; only affected= matters here.)
	code, body = call("/b", url.Values{"op": {"sql-exec"}, "sql": {"UPDATE items SET qty = 1 WHERE name = 'kept'"}})
	if code != 200 || !strings.HasPrefix(body, "affected=1 ") {
		t.Fatalf("write after a transaction left open: %d %q", code, body)
	}

	// KV.
	expect("/b", url.Values{"op": {"kv-put"}, "key": {"user/1"}, "value": {"ann"}}, 200, "put")
	expect("/b", url.Values{"op": {"kv-put"}, "key": {"user/2"}, "value": {"bob"}, "ttl_ms": {"3600000"}}, 200, "put")
	expect("/b", url.Values{"op": {"kv-put"}, "key": {"other"}, "value": {"x"}}, 200, "put")
	expect("/b", url.Values{"op": {"kv-get"}, "key": {"user/1"}}, 200, "found=true value=ann")
	expect("/b", url.Values{"op": {"kv-get"}, "key": {"user/9"}}, 200, "found=false value=")
	expect("/b", url.Values{"op": {"kv-list"}, "prefix": {"user/"}, "limit": {"1"}}, 200, "user/1=ann next=user/1")
	expect("/b", url.Values{"op": {"kv-list"}, "prefix": {"user/"}, "after": {"user/1"}}, 200, "user/2=bob next=")
	expect("/b", url.Values{"op": {"kv-del"}, "key": {"user/1"}}, 200, "deleted=true")
	expect("/b", url.Values{"op": {"kv-del"}, "key": {"user/1"}}, 200, "deleted=false")

	// Secrets: read by the function that lists it, refused to another.
	expect("/b", url.Values{"op": {"secret"}, "name": {"API_KEY"}}, 200, "secret=s3cr3t")
	code, body = call("/s", url.Values{"op": {"secret"}, "name": {"API_KEY"}})
	if code != 502 || !strings.Contains(body, "may not read secret API_KEY") {
		t.Fatalf("secret of another function: %d %q", code, body)
	}

	// Fetch to 127.0.0.1: only with the host listed and fetch_private.
	code, body = call("/b", url.Values{"op": {"fetch"}, "method": {"POST"}, "url": {upstream.URL + "/echo"}, "body": {"ping"}})
	if code != 200 || !strings.Contains(body, "status=200 url="+upstream.URL+"/echo x-test=00 ") || !strings.HasSuffix(body, " body=POST /echo ping") {
		t.Fatalf("fetch: %d %q", code, body)
	}
	code, body = call("/s", url.Values{"op": {"fetch"}, "url": {upstream.URL + "/echo"}})
	if code != 502 || !strings.Contains(body, "is not in the fetch allow-list of function stranger") {
		t.Fatalf("fetch without the host listed: %d %q", code, body)
	}
	code, body = call("/p", url.Values{"op": {"fetch"}, "url": {upstream.URL + "/echo"}})
	if code != 502 || !strings.Contains(body, "not permitted") {
		t.Fatalf("fetch of a loopback address without fetch_private: %d %q", code, body)
	}

	// The other functions share the database binding.
	expect("/s", url.Values{"op": {"sql-row"}, "sql": {"SELECT name FROM items ORDER BY id"}}, 200, "row=widget")
}

// TestProvisionedInstancesThroughTheAPI: a version with provisioned
// instances is warm before it takes traffic, its first request is not a
// cold start, and the admin API shows the pool.
func TestProvisionedInstancesThroughTheAPI(t *testing.T) {
	n := startNode(t, "")
	c := cfgOf(record.KindReactor)
	c.Provisioned = 2
	if err := n.deploy(t, "warm", fn{"hello", wasmtest.Guest(t, wasmtest.Hello), c, routes("GET /hello/{name}")}); err != nil {
		t.Fatal(err)
	}
	info := func() *apitype.InstanceInfo {
		t.Helper()
		fns, err := n.c.Functions(context.Background())
		if err != nil || len(fns) != 1 || fns[0].Instances == nil {
			t.Fatalf("functions: %+v %v", fns, err)
		}
		return fns[0].Instances
	}
	if in := info(); in.Idle != 2 || in.Provisioned != 2 || in.ColdStarts != 0 {
		t.Fatalf("before traffic: %+v, want 2 idle provisioned instances and no cold start", in)
	}
	if code, hdr, body := get(t, n.url+"/hello/w", nil); code != 200 {
		t.Fatalf("hello: %d %s %v", code, body, hdr)
	}
	if in := info(); in.ColdStarts != 0 || in.Invocations != 1 {
		t.Fatalf("after one request: %+v, want it served warm", in)
	}
}
