package objects

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/registry"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/postgres"
	"github.com/stratahq/strata/internal/store/sqlite"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
	"github.com/stratahq/strata/sdk/go/wire"
)

// env is a node with the objects test guest deployed: function "counter"
// of project "p" defines class Counter; "caller" binds it as "counter";
// "loner" (same code) binds nothing; project "q" defines its own Counter.
type env struct {
	st  store.Store
	reg *registry.Registry
	inv *invoke.Invoker
	eng *Engine
	cfg Config
}

func newEnv(t *testing.T, cfg Config, tweaks ...func(*record.FunctionConfig)) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "strata.db"))
	if err != nil {
		t.Fatal(err)
	}
	return newEnvOn(t, cfg, st, tweaks...)
}

// newPostgresEnv is newEnv on the real PostgreSQL (a schema of its own),
// skipped when STRATA_TEST_POSTGRES is not set.
func newPostgresEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	url := os.Getenv("STRATA_TEST_POSTGRES")
	if url == "" {
		t.Skip("STRATA_TEST_POSTGRES is not set")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "objects_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), url)
		if err == nil {
			_, _ = conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
			_ = conn.Close(context.Background())
		}
	})
	st, err := postgres.OpenWithSchema(context.Background(), url, schema)
	if err != nil {
		t.Fatal(err)
	}
	return newEnvOn(t, cfg, st)
}

// newEnvOn builds the engine on st. Each tweak, if any, changes the
// Counter-defining function's config before it is deployed.
func newEnvOn(t *testing.T, cfg Config, st store.Store, tweaks ...func(*record.FunctionConfig)) *env {
	t.Helper()
	ctx := context.Background()
	var eng *Engine
	rt, err := wasm.New(ctx, wasm.Config{CacheDir: wasmtest.SharedCacheDir(),
		Objects: wasm.ObjectsFunc(func(ctx context.Context, c *host.Call, req wire.ObjectRequest) (*wire.ObjectResponse, error) {
			return eng.Object(ctx, c, req)
		})})
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(registry.Config{Store: st, Runtime: rt})
	inv := invoke.New(invoke.Config{Registry: reg, Store: st})
	e := &env{st: st, reg: reg, inv: inv}
	cfg.Store, cfg.Registry, cfg.Invoker = st, reg, inv
	if cfg.Node == "" {
		cfg.Node = "node-a"
	}
	e.cfg = cfg
	bin := wasmtest.Guest(t, wasmtest.Objects)
	counter := record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 64, TimeoutMS: 2000, MaxConcurrency: 8,
		Objects: []record.ObjectClass{{Name: "Counter", StorageLimitBytes: 300 << 10}}}
	for _, tw := range tweaks {
		tw(&counter)
	}
	caller := record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 64, TimeoutMS: 5000, MaxConcurrency: 8,
		Bindings: []record.Binding{{Name: "counter", Kind: record.BindingObject, Resource: "Counter"}}}
	loner := record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 64, TimeoutMS: 5000, MaxConcurrency: 8}
	deploy(t, st, "p", bin, map[string]record.FunctionConfig{"counter": counter, "caller": caller, "loner": loner})
	deploy(t, st, "q", bin, map[string]record.FunctionConfig{"qcounter": counter, "qcaller": caller})
	if err := reg.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if eng, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	e.eng = eng
	t.Cleanup(func() {
		_ = eng.Close(context.Background())
		_ = reg.Close(context.Background())
		_ = inv.Close(context.Background())
		_ = rt.Close(context.Background())
		_ = st.Close()
	})
	return e
}

func deploy(t *testing.T, st store.Store, project string, bin []byte, fns map[string]record.FunctionConfig) {
	t.Helper()
	ctx := context.Background()
	sum := sha256.Sum256(bin)
	sha := hex.EncodeToString(sum[:])
	if err := st.BlobPut(ctx, sha, bin); err != nil {
		t.Fatal(err)
	}
	p := store.DeploymentApplyParams{Project: project, Routes: []record.Route{}}
	for name, c := range fns {
		p.NewVersions = append(p.NewVersions, store.NewVersionParams{Function: name, ModuleSHA256: sha, Config: c})
	}
	if _, err := st.DeploymentApply(ctx, p); err != nil {
		t.Fatal(err)
	}
}

// fetch sends one request to the Counter object called name of project p.
func (e *env) fetch(t *testing.T, eng *Engine, project, name, method, target string) (int, string, error) {
	t.Helper()
	path, query, _ := strings.Cut(target, "?")
	res, err := eng.Fetch(context.Background(), project, "Counter", name, "", &wire.Request{Method: method, Path: path, RawQuery: query})
	if err != nil {
		return 0, "", err
	}
	return res.Response.Status, string(res.Response.Body), nil
}

func (e *env) must(t *testing.T, name, method, target string) string {
	t.Helper()
	st, body, err := e.fetch(t, e.eng, "p", name, method, target)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, target, name, err)
	}
	if st != 200 {
		t.Fatalf("%s %s on %s: status %d: %s", method, target, name, st, body)
	}
	return body
}

func TestLiveObjectKeepsMemoryAndStorage(t *testing.T) {
	e := newEnv(t, Config{})
	for i := 1; i <= 3; i++ {
		if got, want := e.must(t, "a", "POST", "/incr"), fmt.Sprintf("n=%d mem=%d", i, i); got != want {
			t.Fatalf("incr %d: %q, want %q", i, got, want)
		}
	}
	// Another object of the class is another value and other storage.
	if got := e.must(t, "b", "POST", "/incr"); got != "n=1 mem=1" {
		t.Fatalf("object b: %q", got)
	}
	if got := e.must(t, "a", "GET", "/get"); got != "n=3 mem=4" {
		t.Fatalf("a after b: %q", got)
	}
}

func TestIdleObjectIsEvictedAndReloads(t *testing.T) {
	e := newEnv(t, Config{IdleTimeout: 100 * time.Millisecond})
	e.must(t, "a", "POST", "/incr")
	e.must(t, "a", "POST", "/incr")
	waitFor(t, "eviction", func() bool { return e.eng.Stats().Evictions > 0 && e.eng.Stats().Live == 0 })
	// Its storage is intact; its in-memory value was rebuilt (mem counts
	// from 1 again).
	if got := e.must(t, "a", "GET", "/get"); got != "n=2 mem=1" {
		t.Fatalf("after eviction: %q", got)
	}
}

func TestStorageOps(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { storageOps(t, newEnv(t, Config{})) })
	t.Run("postgres", func(t *testing.T) { storageOps(t, newPostgresEnv(t, Config{})) })
}

func storageOps(t *testing.T, e *env) {
	op := func(q string) string { return e.must(t, "s", "GET", "/op?"+q) }
	for _, kv := range []string{"a1=x", "a2=y", "a3=z", "b1=w", "a%_=odd"} {
		k, v, _ := strings.Cut(kv, "=")
		op("op=put&key=" + url.QueryEscape(k) + "&value=" + v)
	}
	if got := op("op=get&key=a2"); got != "y" {
		t.Fatalf("get a2: %q", got)
	}
	if got := op("op=list&prefix=a"); got != "a%_=odd\na1=x\na2=y\na3=z\n" {
		t.Fatalf("list prefix a: %q", got)
	}
	if got := op("op=list&prefix=a&start=a2&reverse=1"); got != "a3=z\na2=y\n" {
		t.Fatalf("list a from a2 reversed: %q", got)
	}
	if got := op("op=list&start=a1&end=a3&limit=1"); got != "a1=x\n" {
		t.Fatalf("list a1..a3 limit 1: %q", got)
	}
	if got := op("op=delete&key=a1"); got != "deleted=true" {
		t.Fatalf("delete a1: %q", got)
	}
	if got := op("op=delete&key=a1"); got != "deleted=false" {
		t.Fatalf("delete a1 again: %q", got)
	}
	if st, body, _ := e.fetch(t, e.eng, "p", "s", "GET", "/op?op=get&key=a1"); st != 404 {
		t.Fatalf("get deleted a1: %d %q", st, body)
	}
	// A transaction that fails leaves nothing behind; one that commits
	// lands whole.
	if got := op("op=tx&fail=1"); !strings.HasPrefix(got, "rolled back") {
		t.Fatalf("failing tx: %q", got)
	}
	if st, _, _ := e.fetch(t, e.eng, "p", "s", "GET", "/op?op=get&key=tx1"); st != 404 {
		t.Fatalf("rolled back tx1 is there: %d", st)
	}
	if got := op("op=tx"); got != "committed" {
		t.Fatalf("tx: %q", got)
	}
	if got := op("op=get&key=tx2"); got != "b" {
		t.Fatalf("committed tx2: %q", got)
	}
	// Over 128 KiB: refused with a clear error, nothing stored.
	st, body, err := e.fetch(t, e.eng, "p", "s", "GET", "/op?op=putbig&key=big&size=131073")
	if err != nil || st != 400 || !strings.Contains(body, "128") {
		t.Fatalf("value over 128 KiB: %d %q %v", st, body, err)
	}
	// The class's storage limit (300 KiB): two values of 128 KiB fit, a
	// third does not.
	op("op=putbig&key=big1&size=131072")
	op("op=putbig&key=big2&size=131072")
	st, body, _ = e.fetch(t, e.eng, "p", "s", "GET", "/op?op=putbig&key=big3&size=131072")
	if st != 400 || !strings.Contains(body, "storage limit") {
		t.Fatalf("over the storage limit: %d %q", st, body)
	}
	// Every write so far is durable: the store holds them.
	info, err := e.st.ObjectInfo(context.Background(), key(t, "p", "s"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Keys != 8 || info.Name != "s" {
		t.Fatalf("info: %+v", info)
	}
	op("op=deleteall")
	if got := op("op=list"); got != "" {
		t.Fatalf("list after deleteAll: %q", got)
	}
	got, err := e.st.ObjectList(context.Background(), store.ObjectListParams{Key: key(t, "p", "s")})
	if err != nil || len(got) != 0 {
		t.Fatalf("store after deleteAll: %v %v", got, err)
	}
}

func key(t *testing.T, project, name string) record.ObjectKey {
	id, err := IDFromName("Counter", name)
	if err != nil {
		t.Fatal(err)
	}
	return record.ObjectKey{Project: project, Class: "Counter", ID: id}
}

// Concurrent events on one object run one at a time and every
// acknowledged increment is durable and counted once.
func TestInputAndOutputGates(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { gates(t, newEnv(t, Config{})) })
	t.Run("postgres", func(t *testing.T) { gates(t, newPostgresEnv(t, Config{})) })
}

func gates(t *testing.T, e *env) {
	const n = 64
	var wg sync.WaitGroup
	seen := make(chan string, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, body, err := e.fetch(t, e.eng, "p", "g", "POST", "/incr")
			if err != nil || st != 200 {
				t.Errorf("incr: %d %q %v", st, body, err)
				return
			}
			nv, _, _ := strings.Cut(body, " ")
			seen <- nv
		}()
	}
	wg.Wait()
	close(seen)
	got := map[string]bool{}
	for s := range seen {
		if got[s] {
			t.Fatalf("two increments answered %s", s)
		}
		got[s] = true
	}
	for i := 1; i <= n; i++ {
		if !got[fmt.Sprintf("n=%d", i)] {
			t.Fatalf("no increment answered n=%d", i)
		}
	}
	ents, err := e.st.ObjectGet(context.Background(), key(t, "p", "g"), []string{"n"})
	if err != nil || len(ents) != 1 || string(ents[0].Value) != fmt.Sprint(n) {
		t.Fatalf("stored n: %v %v", ents, err)
	}
}

// A second owner of an object fences the first: the first's next commit
// fails (its response is an error, not a lost write), and it never
// overwrites what the second committed.
func TestFencingStopsAStaleOwner(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { fencing(t, newEnv(t, Config{})) })
	t.Run("postgres", func(t *testing.T) { fencing(t, newPostgresEnv(t, Config{})) })
}

func fencing(t *testing.T, e *env) {
	e.must(t, "f", "POST", "/incr") // A: n=1
	b, err := New(Config{Store: e.st, Registry: e.reg, Invoker: e.inv, Node: "node-a"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	// B takes the object over (the same node id: as a restarted process
	// would), reads n=1 from the store and commits n=2.
	if st, body, err := e.fetch(t, b, "p", "f", "POST", "/incr"); err != nil || st != 200 || !strings.HasPrefix(body, "n=2 ") {
		t.Fatalf("B: %d %q %v", st, body, err)
	}
	// A still believes n=1: its write of n=2 carries a stale token.
	if _, body, err := e.fetch(t, e.eng, "p", "f", "POST", "/incr"); !errors.Is(err, ErrCommit) || !errors.Is(err, store.ErrFenced) {
		t.Fatalf("stale owner's write: %q %v, want a fenced commit error", body, err)
	}
	ents, _ := e.st.ObjectGet(context.Background(), key(t, "p", "f"), []string{"n"})
	if len(ents) != 1 || string(ents[0].Value) != "2" {
		t.Fatalf("stored n after the fenced write: %v", ents)
	}
	// A's next event resets it, takes the lease back and reads the truth.
	if got := e.must(t, "f", "POST", "/incr"); !strings.HasPrefix(got, "n=3 ") {
		t.Fatalf("A after reset: %q", got)
	}
}

func TestTimeoutResetsAndNextEventWorks(t *testing.T) {
	e := newEnv(t, Config{})
	e.must(t, "t", "POST", "/incr")
	_, _, err := e.fetch(t, e.eng, "p", "t", "GET", "/loop")
	if !invoke.IsTimeout(err) {
		t.Fatalf("loop: %v, want a timeout", err)
	}
	if got := e.must(t, "t", "POST", "/incr"); !strings.HasPrefix(got, "n=2 ") {
		t.Fatalf("after the timeout: %q", got)
	}
}

func TestAlarmRunsAndIsDeleted(t *testing.T) {
	e := newEnv(t, Config{AlarmPoll: 20 * time.Millisecond})
	e.must(t, "al", "GET", "/op?op=alarm_set&in_ms=50")
	if got := e.must(t, "al", "GET", "/op?op=alarm_get"); got == "alarm=none" {
		t.Fatal("alarm not set")
	}
	waitFor(t, "the alarm", func() bool {
		st, body, _ := e.fetch(t, e.eng, "p", "al", "GET", "/op?op=get&key=alarms")
		return st == 200 && body == "1"
	})
	if got := e.must(t, "al", "GET", "/op?op=alarm_get"); got != "alarm=none" {
		t.Fatalf("after running: %q", got)
	}
	info, err := e.st.ObjectInfo(context.Background(), key(t, "p", "al"))
	if err != nil || !info.AlarmAt.IsZero() {
		t.Fatalf("stored alarm after running: %+v %v", info, err)
	}
}

func TestFailingAlarmRetriesThenDrops(t *testing.T) {
	e := newEnv(t, Config{AlarmPoll: 20 * time.Millisecond, AlarmBackoff: 20 * time.Millisecond, AlarmRetries: 2})
	e.must(t, "af", "GET", "/op?op=put&key=alarm_fail&value=1")
	e.must(t, "af", "GET", "/op?op=alarm_set&in_ms=10")
	k := key(t, "p", "af")
	var attempts []int
	waitFor(t, "the alarm to be dropped", func() bool {
		due, _ := e.st.ObjectAlarmsDue(context.Background(), time.Now().Add(time.Hour), 10)
		for _, a := range due {
			if a.Key == k && (len(attempts) == 0 || attempts[len(attempts)-1] != a.Attempts) {
				attempts = append(attempts, a.Attempts)
			}
		}
		info, err := e.st.ObjectInfo(context.Background(), k)
		return err == nil && info.AlarmAt.IsZero()
	})
	if got := e.must(t, "af", "GET", "/op?op=alarm_get"); got != "alarm=none" {
		t.Fatalf("dropped alarm still set: %q", got)
	}
	// The failed runs wrote nothing (each rolled back).
	if st, _, _ := e.fetch(t, e.eng, "p", "af", "GET", "/op?op=get&key=alarms"); st != 404 {
		t.Fatalf("a failed alarm's write landed")
	}
	if len(attempts) == 0 || attempts[len(attempts)-1] == 0 {
		t.Fatalf("retries were not recorded: %v", attempts)
	}
	// Why it failed is in the function's logs, once per run.
	waitFor(t, "the failures in the function's logs", func() bool {
		_ = e.inv.SyncLogs(context.Background())
		lines, err := e.st.LogList(context.Background(), store.LogListParams{Function: "counter"})
		n := 0
		for _, l := range lines {
			if strings.Contains(l.Line, "Counter.Alarm failed: alarm failed on purpose") {
				n++
			}
		}
		return err == nil && n == 3 // the first run and two retries
	})
}

func TestStubsStayInTheirProjectAndBinding(t *testing.T) {
	e := newEnv(t, Config{})
	e.must(t, "shared", "POST", "/incr")
	e.must(t, "shared", "POST", "/incr")
	call := func(fn, target string) (int, string) {
		path, query, _ := strings.Cut(target, "?")
		res, err := e.inv.Invoke(context.Background(), invoke.Request{Function: fn, Trigger: "invoke",
			Wire: &wire.Request{Method: "GET", Path: path, RawQuery: query}})
		if err != nil {
			t.Fatalf("%s %s: %v", fn, target, err)
		}
		return res.Response.Status, string(res.Response.Body)
	}
	if st, body := call("caller", "/stub?binding=counter&name=shared&path=/get"); st != 200 || !strings.HasPrefix(body, "n=2 ") {
		t.Fatalf("caller's stub: %d %q", st, body)
	}
	// Project q's Counter called "shared" is another object.
	if st, body := call("qcaller", "/stub?binding=counter&name=shared&path=/get"); st != 200 || !strings.HasPrefix(body, "n=0 ") {
		t.Fatalf("project q's stub reached project p's object: %d %q", st, body)
	}
	// Not bound: refused.
	if st, body := call("loner", "/stub?binding=counter&name=shared&path=/get"); st == 200 || !strings.Contains(body, "neither binds nor defines") {
		t.Fatalf("unbound stub: %d %q", st, body)
	}
	// An id from a name is the same the engine derives.
	if _, body := call("caller", "/idfromname?binding=counter&name=shared"); body != key(t, "p", "shared").ID {
		t.Fatalf("id from name: %q", body)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, Config{})
	if _, err := e.eng.Fetch(context.Background(), "p", "Nope", "x", "", &wire.Request{Method: "GET", Path: "/"}); !errors.Is(err, ErrNoClass) {
		t.Fatalf("unknown class: %v", err)
	}
	for _, id := range []string{"short", strings.Repeat("A", 64), strings.Repeat("a", 65)} {
		if _, err := e.eng.Fetch(context.Background(), "p", "Counter", "", id, &wire.Request{Method: "GET", Path: "/"}); !errors.Is(err, ErrBadID) {
			t.Fatalf("id %q: %v", id, err)
		}
	}
	if _, err := e.eng.Fetch(context.Background(), "p", "Counter", strings.Repeat("n", MaxNameBytes+1), "", &wire.Request{Method: "GET", Path: "/"}); !errors.Is(err, ErrBadID) {
		t.Fatalf("long name: %v", err)
	}
	// Project q cannot reach p's class by naming it: q's Counter is q's.
	if got := e.must(t, "x", "POST", "/incr"); got != "n=1 mem=1" {
		t.Fatal(got)
	}
	if _, body, err := e.fetch(t, e.eng, "q", "x", "GET", "/get"); err != nil || !strings.HasPrefix(body, "n=0 ") {
		t.Fatalf("q's x: %q %v", body, err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A deploy moves live objects to the new version: their storage carries
// over, their in-memory value is rebuilt there, and the old version's
// pinned instances are closed.
func TestDeployMovesObjects(t *testing.T) {
	e := newEnv(t, Config{})
	e.must(t, "d", "POST", "/incr")
	e.must(t, "d", "POST", "/incr")
	old, _, _ := e.reg.Lookup("counter")
	c := old.Version.Config
	c.Env = map[string]string{"V": "2"} // a new version of the same code
	deploy(t, e.st, "p", wasmtest.Guest(t, wasmtest.Objects), map[string]record.FunctionConfig{"counter": c})
	if err := e.reg.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := e.must(t, "d", "POST", "/incr"); got != "n=3 mem=1" {
		t.Fatalf("after the deploy: %q", got)
	}
	if d, _, _ := e.reg.Lookup("counter"); d == old {
		t.Fatal("the deploy did not replace the version")
	}
	waitFor(t, "the old version's pinned instances to close", func() bool {
		e.eng.mu.Lock()
		defer e.eng.mu.Unlock()
		_, kept := e.eng.hosts[old.Pool]
		return !kept
	})
}

// An object calling another through a stub, both on the one instance
// there is: the callee moves to another instance (the caller's is blocked
// in the call), instead of waiting for it until the timeout.
func TestObjectCallsObjectOnItsInstance(t *testing.T) {
	e := newEnv(t, Config{Instances: 1})
	e.must(t, "b", "POST", "/incr")
	if got := e.must(t, "a", "GET", "/call?name=b&path=/get"); !strings.HasPrefix(got, "n=1 ") {
		t.Fatalf("a → b: %q", got)
	}
	// A chain: a → c → b, with b now on a second instance and c needing a
	// third.
	if got := e.must(t, "a", "GET", "/call?name=c&path="+url.QueryEscape("/call?name=b&path=/get")); !strings.HasPrefix(got, "n=1 ") {
		t.Fatalf("a → c → b: %q", got)
	}
}
