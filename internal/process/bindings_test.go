package process_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/stratahq/strata/internal/bindings"
	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/internal/process"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/trace"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/sdk/go/wire"
)

// memStore is the storage under the real bindings: KV entries and sealed
// secrets in maps, databases by name (SQLite files the bindings open).
type memStore struct {
	mu      sync.Mutex
	dbs     map[string]record.DatabaseConfig
	kv      map[string][]byte // namespace + "\x00" + key
	secrets map[string][]byte // project + "\x00" + name
}

var _ bindings.BindingsStore = (*memStore)(nil)

func (s *memStore) DatabaseGet(_ context.Context, name string) (*record.DatabaseConfig, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.dbs[name]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &d, nil
}

func (s *memStore) KVGet(_ context.Context, ns, key string) (*record.KVEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.kv[ns+"\x00"+key]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &record.KVEntry{Key: key, Value: v}, nil
}

func (s *memStore) KVPut(_ context.Context, ns, key string, value []byte, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kv[ns+"\x00"+key] = append([]byte(nil), value...)
	return nil
}

func (s *memStore) KVDelete(_ context.Context, ns, key string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.kv[ns+"\x00"+key]
	delete(s.kv, ns+"\x00"+key)
	return ok, nil
}

func (s *memStore) KVList(_ context.Context, p store.KVListParams) ([]record.KVEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []record.KVEntry
	for k, v := range s.kv {
		ns, key, _ := strings.Cut(k, "\x00")
		if ns == p.Namespace && strings.HasPrefix(key, p.Prefix) && key > p.After {
			out = append(out, record.KVEntry{Key: key, Value: v})
		}
	}
	return out, nil
}

func (s *memStore) SecretPut(_ context.Context, project, name string, ct []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[project+"\x00"+name] = ct
	return nil
}

func (s *memStore) SecretGet(_ context.Context, project, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.secrets[project+"\x00"+name]
	if !ok {
		return nil, store.ErrNotFound
	}
	return v, nil
}

// staticResolver answers fixed addresses.
type staticResolver map[string]string

func (r staticResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	ip, ok := r[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []netip.Addr{netip.MustParseAddr(ip)}, nil
}

// onlyDialer dials the one address a test allows and fails the test on
// any other: a refused fetch must never dial.
type onlyDialer struct {
	t     testing.TB
	allow string
}

func (d onlyDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if addr != d.allow {
		d.t.Errorf("dialed %s %s: only %s may be dialed", network, addr, d.allow)
		return nil, errors.New("dial forbidden in this test")
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

// sentEvent is one event a function sent, as the sink saw it.
type sentEvent struct {
	Caller, Name, InvocationID, ContentType, Type string
	Topic                                         bool
	Body                                          string
}

// recordSink stands for the server's event sink: it records events to
// the queues and topics of project "shop" and refuses any other name as
// the real one refuses another project's.
type recordSink struct {
	mu   sync.Mutex
	sent []sentEvent
	// traceParents are the sent events' traceparent headers, in order.
	traceParents []string
}

func (s *recordSink) SendEvent(_ context.Context, ev wasm.OutboundEvent) (string, error) {
	if ev.Name != "orders" && ev.Name != "news" {
		return "", fmt.Errorf("queue %s does not exist in project shop", ev.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.traceParents = append(s.traceParents, ev.TraceParent)
	s.sent = append(s.sent, sentEvent{Caller: ev.Caller, Name: ev.Name, InvocationID: ev.InvocationID, ContentType: ev.Options.ContentType,
		Type: ev.Options.Type, Topic: ev.Topic, Body: string(ev.Body)})
	return fmt.Sprintf("ev-%d", len(s.sent)), nil
}

// bindingFixture is a process runtime whose binding calls reach real
// bindings (SQLite databases, sealed secrets, checked fetches) over a
// store of two projects: "shop", whose function runs, and "rival", whose
// data it must never reach.
type bindingFixture struct {
	r    *process.Runtime
	b    *bindings.Bindings
	st   *memStore
	sink *recordSink
	srv  *httptest.Server // the fetch target, "api.test:<port>"
	port string
	mux  *http.ServeMux
	call *host.Call
	// spans records the binding calls' spans.
	spans *tracetest.SpanRecorder
}

func setupBindings(t testing.TB) *bindingFixture {
	t.Helper()
	f := &bindingFixture{
		st: &memStore{
			dbs: map[string]record.DatabaseConfig{
				"shopdb":  {Name: "shopdb", Project: "shop", Engine: record.EngineSQLite, MaxConnections: 4},
				"rivaldb": {Name: "rivaldb", Project: "rival", Engine: record.EngineSQLite, MaxConnections: 4},
			},
			kv: map[string][]byte{"rival-cache\x00secret": []byte("rival data")}, secrets: map[string][]byte{},
		},
		sink:  &recordSink{},
		mux:   http.NewServeMux(),
		spans: tracetest.NewSpanRecorder(),
	}
	f.mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Got", r.Method+" "+r.Header.Get("X-Test"))
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(append([]byte("echo: "), body...))
	})
	f.srv = httptest.NewServer(f.mux)
	t.Cleanup(f.srv.Close)
	u, err := url.Parse(f.srv.URL)
	require.NoError(t, err)
	f.port = u.Port()
	b, err := bindings.New(context.Background(), bindings.Config{
		Store: f.st, DataDir: t.TempDir(),
		Resolver: staticResolver{"api.test": "127.0.0.1", "evil.test": "127.0.0.1"},
		Dialer:   onlyDialer{t: t, allow: "127.0.0.1:" + f.port},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	f.b = b
	ctx := context.Background()
	require.NoError(t, b.SecretSet(ctx, "shop", "API_KEY", []byte("shop-key")))
	require.NoError(t, b.SecretSet(ctx, "rival", "API_KEY", []byte("rival-key")))
	require.NoError(t, b.SecretSet(ctx, "rival", "RIVAL_TOKEN", []byte("rival-token")))
	// The rival's database holds a row the shop's function must not read.
	rival := &host.Call{Function: "rivalfn", Project: "rival", Version: 1, InvocationID: "r1",
		Config: record.FunctionConfig{Bindings: []record.Binding{{Name: "db", Kind: record.BindingSQL, Resource: "rivaldb"}}}}
	for _, q := range []string{"CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)", "INSERT INTO t (name) VALUES ('rival row')"} {
		res, err := b.SQL(ctx, rival, wire.SQLRequest{Op: wire.SQLExec, Binding: "db", SQL: q})
		require.NoError(t, err)
		require.Nil(t, res.Error)
	}

	tracer := trace.NewTracer(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(f.spans)))
	r, err := process.New(process.Config{Dir: t.TempDir(), InitTimeout: 5 * time.Second, LogBytes: 256 << 10, Bindings: b, Events: f.sink, Tracer: tracer})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	f.r = r
	f.call = &host.Call{Function: "fn", Project: "shop", Version: 1, InvocationID: testInvocation, Config: record.FunctionConfig{
		Bindings: []record.Binding{
			{Name: "db", Kind: record.BindingSQL, Resource: "shopdb"},
			{Name: "cache", Kind: record.BindingKV, Resource: "shop-cache"},
		},
		Secrets: []string{"API_KEY"},
		Fetch:   []string{"api.test:" + f.port}, FetchPrivate: true,
	}}
	return f
}

const testInvocation = "0193a5f0-7c1e-7000-8000-000000000001"

// invoke runs one invocation of inst as the shop's function.
func (f *bindingFixture) invoke(t testing.TB, inst *process.Instance, event any) *invocation {
	t.Helper()
	ev, err := json.Marshal(event)
	require.NoError(t, err)
	iv := &invocation{}
	iv.resp, iv.err = inst.Handle(context.Background(),
		&wire.Request{Method: "POST", Path: "/", Body: ev, InvocationID: f.call.InvocationID},
		wasm.Env{Stdout: &iv.stdout, Stderr: &iv.stderr, Deadline: time.Now().Add(20 * time.Second), Call: f.call})
	return iv
}

func (f *bindingFixture) compile(t testing.TB, runtime, handler string, files map[string]string) *process.Module {
	t.Helper()
	m, err := f.r.Compile(context.Background(), code(t, files), process.Spec{
		Name: "fn@1", Function: "fn", Version: 1, Runtime: runtime, Handler: handler, MemoryMB: 256,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

const nodeBindings = `
const strata = require('strata');
exports.handler = async (event) => {
  const out = {};
  await strata.kv.put('cache', 'k', 'v1');
  out.kv = (await strata.kv.get('cache', 'k')).toString();
  // More calls at once than the platform admits: the library queues them.
  out.many = (await Promise.all(Array.from({ length: 50 }, () => strata.kv.get('cache', 'k')))).filter((v) => v.toString() === 'v1').length;
  out.kvMissing = await strata.kv.get('cache', 'nope');
  out.kvList = (await strata.kv.list('cache', 'k')).entries.map((e) => e.key + '=' + e.value.toString());
  out.kvDeleted = await strata.kv.delete('cache', 'k');
  await strata.db.exec('db', 'CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, name TEXT, score REAL)');
  out.exec = await strata.db.exec('db', 'INSERT INTO t (name, score) VALUES ($1, $2)', ['ada', 1.5]);
  out.rows = await strata.db.query('db', 'SELECT id, name, score FROM t WHERE name = $1', ['ada']);
  try { await strata.db.query('db', 'SELECT * FROM missing'); } catch (e) { out.sqlError = e.type; }
  out.secret = await strata.secrets.get('API_KEY');
  const r = await strata.fetch(event.url, { method: 'POST', body: 'ping', headers: { 'X-Test': 'yes' } });
  out.fetch = { status: r.status, body: r.text(), got: r.headers['x-got'] };
  out.sent = await strata.send('orders', { n: 1 }, { type: 'order.created' });
  out.published = await globalThis.strata.publish('news', 'hi');
  return out;
};
`

const pythonBindings = `
import strata

def handler(event, context):
    out = {}
    strata.kv.put("cache", "k", "v1")
    out["kv"] = strata.kv.get("cache", "k").decode()
    out["many"] = len([v for v in (strata.kv.get("cache", "k") for _ in range(50)) if v == b"v1"])
    out["kvMissing"] = strata.kv.get("cache", "nope")
    out["kvList"] = [k + "=" + v.decode() for k, v, _ in strata.kv.list("cache", "k")[0]]
    out["kvDeleted"] = strata.kv.delete("cache", "k")
    strata.db.exec("db", "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, name TEXT, score REAL)")
    e = strata.db.exec("db", "INSERT INTO t (name, score) VALUES ($1, $2)", ["ada", 1.5])
    out["exec"] = {"rowsAffected": e["rows_affected"], "lastInsertId": e["last_insert_id"]}
    out["rows"] = strata.db.query("db", "SELECT id, name, score FROM t WHERE name = $1", ["ada"])
    try:
        strata.db.query("db", "SELECT * FROM missing")
    except strata.StrataError as err:
        out["sqlError"] = err.type
    out["secret"] = strata.secrets.get("API_KEY")
    r = strata.fetch(event["url"], method="POST", body="ping", headers={"X-Test": "yes"})
    out["fetch"] = {"status": r.status, "body": r.text(), "got": r.headers.get("x-got")}
    out["sent"] = strata.send("orders", {"n": 1}, type="order.created")
    out["published"] = strata.publish("news", "hi")
    return out
`

// TestBindingsFromNodeAndPython: every binding kind works from both
// languages' client libraries, through the process's Runtime API socket,
// with the invocation's own function configuration deciding what is
// reached.
func TestBindingsFromNodeAndPython(t *testing.T) {
	for _, tc := range []struct {
		name, runtime, handler string
		files                  map[string]string
	}{
		{"node", record.RuntimeNode, "index.handler", map[string]string{"index.js": nodeBindings}},
		{"python", record.RuntimePython, "app.handler", map[string]string{"app.py": pythonBindings}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setupBindings(t)
			inst := start(t, f.compile(t, tc.runtime, tc.handler, tc.files))
			iv := f.invoke(t, inst, map[string]string{"url": "http://api.test:" + f.port + "/echo"})
			require.NoError(t, iv.err, iv.stderr.String())
			require.JSONEq(t, `{
				"kv": "v1", "many": 50, "kvMissing": null, "kvList": ["k=v1"], "kvDeleted": true,
				"exec": {"rowsAffected": 1, "lastInsertId": 1},
				"rows": [{"id": 1, "name": "ada", "score": 1.5}],
				"sqlError": "SQLError",
				"secret": "shop-key",
				"fetch": {"status": 201, "body": "echo: ping", "got": "POST yes"},
				"sent": "ev-1", "published": "ev-2"
			}`, string(iv.resp.Body), iv.stderr.String())
			f.sink.mu.Lock()
			defer f.sink.mu.Unlock()
			require.Len(t, f.sink.sent, 2)
			orders := f.sink.sent[0]
			assert.JSONEq(t, `{"n": 1}`, orders.Body)
			orders.Body = ""
			assert.Equal(t, sentEvent{Caller: "fn", Name: "orders", InvocationID: testInvocation, ContentType: "application/json", Type: "order.created"}, orders)
			assert.Equal(t, sentEvent{Caller: "fn", Name: "news", InvocationID: testInvocation, ContentType: "text/plain; charset=utf-8", Topic: true, Body: "hi"}, f.sink.sent[1])

			// Each binding call has its span, named and attributed as a
			// Wasm guest's host call is: the project, the binding, the
			// fetch's host (not its path), the secret's name (not its
			// value); a sent message carries its send's span.
			byName := map[string][]sdktrace.ReadOnlySpan{}
			for _, sp := range f.spans.Ended() {
				byName[sp.Name()] = append(byName[sp.Name()], sp)
			}
			for _, name := range []string{wasm.SpanKVPut, wasm.SpanKVGet, wasm.SpanKVList, wasm.SpanKVDelete, wasm.SpanSQL, wasm.SpanFetch, wasm.SpanSecret, wasm.SpanQueueSend, wasm.SpanTopicPublish} {
				require.NotEmpty(t, byName[name], "no %q span among %v", name, byName)
			}
			attrs := func(sp sdktrace.ReadOnlySpan) map[string]string {
				m := map[string]string{}
				for _, kv := range sp.Attributes() {
					m[string(kv.Key)] = kv.Value.String()
				}
				return m
			}
			fetch := attrs(byName[wasm.SpanFetch][0])
			assert.Equal(t, "api.test:"+f.port, fetch[string(trace.KeyHost)])
			assert.Equal(t, "201", fetch[string(trace.KeyHTTP)])
			assert.Equal(t, "shop", fetch[string(trace.KeyProject)])
			assert.Equal(t, "API_KEY", attrs(byName[wasm.SpanSecret][0])[string(trace.KeySecret)])
			for _, sp := range f.spans.Ended() {
				for _, v := range attrs(sp) {
					assert.NotContains(t, v, "shop-key", "a span holds the secret's value")
				}
			}
			send := byName[wasm.SpanQueueSend][0]
			require.Len(t, f.sink.traceParents, 2)
			assert.Contains(t, f.sink.traceParents[0], send.SpanContext().TraceID().String()+"-"+send.SpanContext().SpanID().String())
		})
	}
}

const nodeAttack = `
const strata = require('strata');
const http = require('http');
function raw(method, path, headers, body) {
  return new Promise((resolve) => {
    const req = http.request({ socketPath: process.env.STRATA_RUNTIME_SOCKET, method, path, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve(res.statusCode + ' ' + (JSON.parse(Buffer.concat(chunks).toString() || '{}').errorType || '')));
    });
    req.on('error', (e) => resolve('error ' + e.code));
    req.end(body);
  });
}
async function refused(p) { try { await p; return 'allowed'; } catch (e) { return e.status + ' ' + e.type; } }
let release = null;
let stray = null;
exports.handler = async (event, context) => {
  const out = {};
  if (event.stray) { release(); out.stray = await stray; return out; }
  // Another project's namespace, database and secret, by resource name:
  // a function names only its own bindings.
  out.rivalKV = await refused(strata.kv.get('rival-cache', 'secret'));
  out.rivalDB = await refused(strata.db.query('rivaldb', 'SELECT name FROM t'));
  out.rivalSecret = await refused(strata.secrets.get('RIVAL_TOKEN'));
  // Its own binding reaches its own namespace only.
  out.ownKV = await strata.kv.get('cache', 'secret');
  out.ownSecret = await strata.secrets.get('API_KEY');
  // A host outside the allow-list, and its own loopback by another name.
  out.evil = await refused(strata.fetch('http://evil.test:' + event.port + '/echo'));
  out.scheme = await refused(strata.fetch('file:///etc/passwd'));
  // Calls that do not name the invocation in flight.
  const kvBody = JSON.stringify({ op: 'get', binding: 'cache', key: 'secret' });
  out.noID = await raw('POST', '/strata/v1/kv', { 'Content-Type': 'application/json' }, kvBody);
  out.wrongID = await raw('POST', '/strata/v1/kv', { 'Lambda-Runtime-Aws-Request-Id': 'someone-else' }, kvBody);
  out.rightID = await raw('POST', '/strata/v1/kv', { 'Lambda-Runtime-Aws-Request-Id': context.awsRequestId }, kvBody);
  out.tooLarge = await raw('POST', '/strata/v1/kv', { 'Lambda-Runtime-Aws-Request-Id': context.awsRequestId }, Buffer.alloc(13 << 20, 'x'));
  out.unknown = await raw('POST', '/strata/v1/objects', { 'Lambda-Runtime-Aws-Request-Id': context.awsRequestId }, '{}');
  // Work this invocation leaves behind, which the next one sets off: it
  // belongs to this invocation, over by then, and is refused rather
  // than acting for the next one.
  const gate = new Promise((resolve) => { release = resolve; });
  stray = gate.then(() => strata.kv.get('cache', 'secret')).then(() => 'allowed', (e) => e.status + ' ' + e.type);
  return out;
};
`

// TestBindingsAttacks: a process reaches only what its invocation's
// function declared in its own project, whatever it sends on its socket.
func TestBindingsAttacks(t *testing.T) {
	f := setupBindings(t)
	// A key named like the rival's, in the shop's own namespace.
	f.st.kv["shop-cache\x00secret"] = []byte("shop data")
	inst := start(t, f.compile(t, record.RuntimeNode, "index.handler", map[string]string{"index.js": nodeAttack}))
	iv := f.invoke(t, inst, map[string]any{"port": f.port})
	require.NoError(t, iv.err, iv.stderr.String())
	var got map[string]any
	require.NoError(t, json.Unmarshal(iv.resp.Body, &got))
	assert.Equal(t, map[string]any{
		"rivalKV":     "403 NotPermitted",
		"rivalDB":     "403 NotPermitted",
		"rivalSecret": "403 NotPermitted",
		"ownKV":       "shop data",
		"ownSecret":   "shop-key",
		"evil":        "403 NotPermitted",
		"scheme":      "403 NotPermitted",
		"noID":        "409 InvocationMismatch",
		"wrongID":     "409 InvocationMismatch",
		"rightID":     "200 ",
		"tooLarge":    "413 RequestEntityTooLarge",
		"unknown":     "404 InvalidRequest",
	}, normalizeOwnKV(got))

	// The stray call made after the handler returned was refused.
	f.call.InvocationID = "0193a5f0-7c1e-7000-8000-000000000002"
	iv = f.invoke(t, inst, map[string]any{"stray": true})
	require.NoError(t, iv.err, iv.stderr.String())
	assert.JSONEq(t, `{"stray": "409 InvocationMismatch"}`, string(iv.resp.Body))
}

// normalizeOwnKV turns the Buffer Node's JSON.stringify writes for
// ownKV into its text.
func normalizeOwnKV(got map[string]any) map[string]any {
	if b, ok := got["ownKV"].(map[string]any); ok {
		if data, ok := b["data"].([]any); ok {
			s := make([]byte, len(data))
			for i, c := range data {
				s[i] = byte(c.(float64))
			}
			got["ownKV"] = string(s)
		}
	}
	return got
}

// signal is a writer that closes ready at the first write containing
// want: the process said it got this far.
type signal struct {
	mu    sync.Mutex
	want  string
	ready chan struct{}
	buf   strings.Builder
}

func newSignal(want string) *signal { return &signal{want: want, ready: make(chan struct{})} }

func (s *signal) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	had := strings.Contains(s.buf.String(), s.want)
	s.buf.Write(p)
	if !had && strings.Contains(s.buf.String(), s.want) {
		close(s.ready)
	}
	return len(p), nil
}

// socketClient speaks HTTP on an instance's Runtime API socket, as the
// process does: the test stands in for the process's own code.
func socketClient(inst *process.Instance) *http.Client {
	sock := filepath.Join(inst.RunDir(), "runtime.sock")
	return &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
}

// callAnswer is a binding call's status and error type.
type callAnswer struct {
	Status int
	Type   string
}

func post(t testing.TB, c *http.Client, path, id, body string) callAnswer {
	req, err := http.NewRequest("POST", "http://runtime"+path, strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return callAnswer{}
	}
	if id != "" {
		req.Header.Set("Lambda-Runtime-Aws-Request-Id", id)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Error(err)
		return callAnswer{}
	}
	defer resp.Body.Close()
	var e struct{ ErrorType string }
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &e)
	return callAnswer{resp.StatusCode, e.ErrorType}
}

// waitFor guards a test against hanging; what it waits for must happen.
func waitFor(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s never happened", what)
	}
}

// TestBindingCallsEndWithTheirInvocation: at most 32 calls of one
// process run at once (more are refused, not queued); when the
// invocation ends, the calls still running are cancelled and Handle
// returns only once they have; afterwards the invocation's id is refused,
// as is any call when no invocation is in flight.
func TestBindingCallsEndWithTheirInvocation(t *testing.T) {
	f := setupBindings(t)
	const limit = 32
	arrived := make(chan struct{}, limit)
	cancelled := make(chan struct{}, limit)
	f.mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
		cancelled <- struct{}{}
	})
	inst := start(t, f.compile(t, record.RuntimeNode, "index.handler", map[string]string{
		"index.js": `exports.handler = async () => { console.log('started'); return new Promise(() => {}); };`,
	}))
	c := socketClient(inst)
	kvGet := `{"op":"get","binding":"cache","key":"k"}`
	assert.Equal(t, callAnswer{409, "InvocationMismatch"}, post(t, c, "/strata/v1/kv", testInvocation, kvGet), "no invocation in flight")

	started := newSignal("started")
	done := make(chan struct{})
	var resp *wire.Response
	var herr error
	go func() {
		defer close(done)
		resp, herr = inst.Handle(context.Background(), &wire.Request{Method: "POST", Path: "/", Body: []byte(`{}`), InvocationID: testInvocation},
			wasm.Env{Stdout: started, Stderr: io.Discard, Deadline: time.Now().Add(time.Minute), Call: f.call})
	}()
	waitFor(t, started.ready, "the handler starting")

	fetchSlow := fmt.Sprintf(`{"url":"http://api.test:%s/slow"}`, f.port)
	answers := make(chan callAnswer, limit)
	for range limit {
		go func() { answers <- post(t, c, "/strata/v1/fetch", testInvocation, fetchSlow) }()
	}
	for i := range limit {
		select {
		case <-arrived:
		case <-done:
			t.Fatalf("the invocation ended after %d calls arrived: %v", i, herr)
		}
	}
	assert.Equal(t, callAnswer{429, "TooManyRequests"}, post(t, c, "/strata/v1/kv", testInvocation, kvGet), "a 33rd call at once")

	// The runtime answers (the test does, for the stuck handler): the
	// invocation ends, and with it the calls.
	ack, err := c.Post("http://runtime/2018-06-01/runtime/invocation/"+testInvocation+"/response", "application/json", strings.NewReader(`"done"`))
	require.NoError(t, err)
	ack.Body.Close()
	require.Equal(t, http.StatusAccepted, ack.StatusCode)
	waitFor(t, done, "Handle returning")
	require.NoError(t, herr)
	assert.Equal(t, `"done"`, string(resp.Body))
	// Handle waited for every call.
	require.Zero(t, inst.BindingCalls(), "Handle returned before its binding calls ended")
	for range limit {
		assert.Equal(t, callAnswer{409, "InvocationEnded"}, <-answers)
	}
	for range limit {
		waitFor(t, cancelled, "the outbound request being cancelled")
	}
	assert.Equal(t, callAnswer{409, "InvocationMismatch"}, post(t, c, "/strata/v1/kv", testInvocation, kvGet), "the ended invocation's id")
}

// TestBindingsFromProvided: a custom bootstrap reaches the bindings over
// HTTP at STRATA_BINDINGS_API, the loopback address of its Runtime API.
func TestBindingsFromProvided(t *testing.T) {
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "bootstrap"), "./testdata/providedbind")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	bin, err := os.ReadFile(filepath.Join(dir, "bootstrap"))
	require.NoError(t, err)

	// Both ways the node serves a provided sandbox's Runtime API: its own
	// listener inside the sandbox's network namespace, and the forwarder.
	for _, forwarder := range []bool{false, true} {
		t.Run(fmt.Sprintf("forwarder=%t", forwarder), func(t *testing.T) {
			f := setupBindings(t)
			if forwarder {
				f.r.UseForwarder()
			}
			f.st.kv["shop-cache\x00k"] = []byte("hello")
			inst := start(t, f.compile(t, record.RuntimeProvided, "", map[string]string{"bootstrap*": string(bin)}))
			iv := f.invoke(t, inst, map[string]string{"Path": "/kv", "Body": `{"op":"get","binding":"cache","key":"k"}`})
			require.NoError(t, iv.err, iv.stderr.String())
			assert.JSONEq(t, `{"status": 200, "body": "{\"found\":true,\"value\":\"aGVsbG8=\"}"}`, string(iv.resp.Body))
			iv = f.invoke(t, inst, map[string]string{"Path": "/kv", "Body": `{"op":"get","binding":"rival","key":"secret"}`})
			require.NoError(t, iv.err, iv.stderr.String())
			assert.Contains(t, string(iv.resp.Body), `"status":403`)
			assert.Equal(t, forwarder, f.r.ForwardOnly())
		})
	}
}

// TestBindingsFromESModule: an ES module handler, which cannot
// require('strata'), uses the global strata.
func TestBindingsFromESModule(t *testing.T) {
	f := setupBindings(t)
	inst := start(t, f.compile(t, record.RuntimeNode, "index.handler", map[string]string{"index.mjs": `
export const handler = async () => {
  await strata.kv.put('cache', 'esm', 'from a module');
  return (await strata.kv.get('cache', 'esm')).toString();
};`}))
	iv := f.invoke(t, inst, map[string]string{})
	require.NoError(t, iv.err, iv.stderr.String())
	assert.Equal(t, `"from a module"`, string(iv.resp.Body))
}
