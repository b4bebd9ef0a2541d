package wasm_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
	"github.com/stratahq/strata/sdk/go/wire"
)

// fakeBindings is a hand-written host: it records every request and
// answers through the function fields, which a test sets before invoking.
type fakeBindings struct {
	mu      sync.Mutex
	sqls    []wire.SQLRequest
	kvs     []wire.KVRequest
	fetches []wire.FetchRequest
	secrets []string

	sql    func(wire.SQLRequest) (*wire.SQLResponse, error)
	kv     func(wire.KVRequest) (*wire.KVResponse, error)
	fetch  func(wire.FetchRequest) (*wire.FetchResponse, error)
	secret func(string) ([]byte, error)
}

var _ wasm.Bindings = (*fakeBindings)(nil)

// checkCtx proves the host call got the invocation's context (its
// deadline) and its caller, the Call the test handed to Handle.
func checkCtx(ctx context.Context, c *host.Call) error {
	if c == nil || c.Function != "binder-test" {
		return errors.New("fake host: the invocation's caller did not reach the binding")
	}
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("fake host: no deadline")
	}
	return nil
}

func (f *fakeBindings) SQL(ctx context.Context, c *host.Call, req wire.SQLRequest) (*wire.SQLResponse, error) {
	if err := checkCtx(ctx, c); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.sqls = append(f.sqls, req)
	f.mu.Unlock()
	return f.sql(req)
}

func (f *fakeBindings) KV(ctx context.Context, c *host.Call, req wire.KVRequest) (*wire.KVResponse, error) {
	if err := checkCtx(ctx, c); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.kvs = append(f.kvs, req)
	f.mu.Unlock()
	return f.kv(req)
}

func (f *fakeBindings) Fetch(ctx context.Context, c *host.Call, req wire.FetchRequest) (*wire.FetchResponse, error) {
	if err := checkCtx(ctx, c); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.fetches = append(f.fetches, req)
	f.mu.Unlock()
	return f.fetch(req)
}

func (f *fakeBindings) Secret(ctx context.Context, c *host.Call, name string) ([]byte, error) {
	if err := checkCtx(ctx, c); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.secrets = append(f.secrets, name)
	f.mu.Unlock()
	return f.secret(name)
}

// reset clears what was recorded (subtests run one at a time).
func (f *fakeBindings) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sqls, f.kvs, f.fetches, f.secrets = nil, nil, nil, nil
}

type binderHarness struct {
	host *fakeBindings
	inst *wasm.Instance
}

func newBinder(t *testing.T) *binderHarness {
	t.Helper()
	host := &fakeBindings{}
	rt, err := wasm.New(context.Background(), wasm.Config{
		CacheDir: wasmtest.SharedCacheDir(), Bindings: host,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close(context.Background()) })
	m := compile(t, rt, wasmtest.Binder, wasm.ModuleSpec{Name: "binder@1"})
	return &binderHarness{host: host, inst: instantiate(t, m)}
}

func (h *binderHarness) call(t *testing.T, q url.Values) (int, string) {
	t.Helper()
	h.host.reset()
	return callBinder(t, h.inst, q)
}

func callBinder(t *testing.T, inst *wasm.Instance, q url.Values) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := inst.Handle(ctx, &wire.Request{Method: "GET", Path: "/", RawQuery: q.Encode(), InvocationID: "inv-1"},
		wasm.Env{Call: &host.Call{Function: "binder-test"}})
	require.NoError(t, err)
	return resp.Status, string(resp.Body)
}

func TestBindingSQL(t *testing.T) {
	t.Parallel()
	h := newBinder(t)
	ts := time.Date(2026, 11, 25, 10, 30, 0, 123456789, time.FixedZone("", 3600))

	t.Run("query with typed arguments and cells", func(t *testing.T) {
		h.host.sql = func(req wire.SQLRequest) (*wire.SQLResponse, error) {
			return &wire.SQLResponse{
				Columns: []wire.SQLColumn{{Name: "a", Type: "INTEGER"}, {Name: "b"}, {Name: "c"}, {Name: "d"}, {Name: "e"}, {Name: "f"}, {Name: "g"}},
				Rows: [][]wire.SQLValue{
					{wire.Int(1 << 60), wire.Float(2.5), wire.Text("x\"y"), wire.Bytes([]byte{0, 0xff}), wire.Bool(true), wire.Time(ts), wire.Null()},
					{wire.Int(-1), wire.Float(0), wire.Text(""), wire.Bytes(nil), wire.Bool(false), wire.Time(ts), wire.Null()},
				},
			}, nil
		}
		status, body := h.call(t, url.Values{"op": {"sql-query"}, "sql": {"SELECT * FROM t WHERE a = $1"},
			"arg": {"i:9007199254740993", "f:1.5", "s:hé", "x:00ff", "b:true", "t:" + ts.Format(time.RFC3339Nano), "n:"}})
		require.Equal(t, 200, status, body)
		require.Equal(t, "a|b|c|d|e|f|g\n"+
			"int64:1152921504606846976|float64:2.5|string:x\"y|[]uint8:00ff|bool:true|time.Time:2026-11-25T10:30:00.123456789+01:00|<nil>:<nil>\n"+
			"int64:-1|float64:0|string:|[]uint8:|bool:false|time.Time:2026-11-25T10:30:00.123456789+01:00|<nil>:<nil>\n", body)
		require.Equal(t, []wire.SQLRequest{{Op: wire.SQLQuery, Binding: "db", SQL: "SELECT * FROM t WHERE a = $1",
			Args: []wire.SQLValue{wire.Int(9007199254740993), wire.Float(1.5), wire.Text("hé"), wire.Bytes([]byte{0, 0xff}),
				wire.Bool(true), wire.Time(ts), wire.Null()}}}, h.host.sqls)
	})

	t.Run("typed scan", func(t *testing.T) {
		h.host.sql = func(req wire.SQLRequest) (*wire.SQLResponse, error) {
			return &wire.SQLResponse{Columns: make([]wire.SQLColumn, 8), Rows: [][]wire.SQLValue{{
				wire.Int(42), wire.Int(3), wire.Text("hi"), wire.Bytes([]byte("raw")), wire.Int(1),
				wire.Text("2026-11-25 10:30:00"), wire.Null(), wire.Int(9)}}}, nil
		}
		status, body := h.call(t, url.Values{"op": {"sql-typed"}, "sql": {"SELECT ..."}})
		require.Equal(t, 200, status, body)
		require.Equal(t, "i=42 f=3 s=hi b=726177 ok=true t=2026-11-25T10:30:00Z ns=false/ p=9", body)

		h.host.sql = func(req wire.SQLRequest) (*wire.SQLResponse, error) {
			return &wire.SQLResponse{Columns: make([]wire.SQLColumn, 8), Rows: [][]wire.SQLValue{{
				wire.Text("7"), wire.Float(0.25), wire.Int(5), wire.Text("t"), wire.Bool(false),
				wire.Time(ts), wire.Text("set"), wire.Null()}}}, nil
		}
		status, body = h.call(t, url.Values{"op": {"sql-typed"}, "sql": {"SELECT ..."}})
		require.Equal(t, 200, status, body)
		require.Equal(t, "i=7 f=0.25 s=5 b=74 ok=false t=2026-11-25T09:30:00.123456789Z ns=true/set p=nil", body)
	})

	t.Run("exec", func(t *testing.T) {
		h.host.sql = func(req wire.SQLRequest) (*wire.SQLResponse, error) {
			return &wire.SQLResponse{RowsAffected: 3, LastInsertID: 1 << 62}, nil
		}
		status, body := h.call(t, url.Values{"op": {"sql-exec"}, "db": {"other"}, "sql": {"UPDATE t SET a = 1"}})
		require.Equal(t, 200, status, body)
		require.Equal(t, fmt.Sprintf("affected=3 last=%d", int64(1<<62)), body)
		require.Equal(t, []wire.SQLRequest{{Op: wire.SQLExec, Binding: "other", SQL: "UPDATE t SET a = 1"}}, h.host.sqls)
	})

	t.Run("database error", func(t *testing.T) {
		h.host.sql = func(req wire.SQLRequest) (*wire.SQLResponse, error) {
			return &wire.SQLResponse{Error: &wire.SQLError{Code: "SQLITE_ERROR", Message: `near "SELEC": syntax error`}}, nil
		}
		status, body := h.call(t, url.Values{"op": {"sql-query"}, "sql": {"SELEC 1"}})
		require.Equal(t, 409, status)
		require.Equal(t, `dberror=SQLITE_ERROR|near "SELEC": syntax error`, body)
	})

	t.Run("platform error", func(t *testing.T) {
		h.host.sql = func(req wire.SQLRequest) (*wire.SQLResponse, error) {
			return nil, fmt.Errorf("function binder@1 has no sql binding %q", req.Binding)
		}
		status, body := h.call(t, url.Values{"op": {"sql-exec"}, "db": {"nope"}, "sql": {"DELETE FROM t"}})
		require.Equal(t, 502, status)
		require.Equal(t, `error=db nope: exec: function binder@1 has no sql binding "nope"`, body)
	})

	t.Run("no rows and NULL into a string", func(t *testing.T) {
		h.host.sql = func(req wire.SQLRequest) (*wire.SQLResponse, error) {
			return &wire.SQLResponse{Columns: []wire.SQLColumn{{Name: "name"}}}, nil
		}
		status, body := h.call(t, url.Values{"op": {"sql-row"}, "sql": {"SELECT name FROM t WHERE 0"}})
		require.Equal(t, 404, status)
		require.Equal(t, "norows", body)

		h.host.sql = func(req wire.SQLRequest) (*wire.SQLResponse, error) {
			return &wire.SQLResponse{Columns: []wire.SQLColumn{{Name: "NULL"}}, Rows: [][]wire.SQLValue{{wire.Null()}}}, nil
		}
		status, body = h.call(t, url.Values{"op": {"sql-null"}})
		require.Equal(t, 502, status)
		require.Contains(t, body, `error=db: Scan column 0 ("NULL"): NULL into *string`)
	})

	t.Run("transactions", func(t *testing.T) {
		h.host.sql = func(req wire.SQLRequest) (*wire.SQLResponse, error) {
			switch req.Op {
			case wire.SQLBegin:
				return &wire.SQLResponse{Tx: "tx-7"}, nil
			case wire.SQLQuery:
				return &wire.SQLResponse{Columns: []wire.SQLColumn{{Name: "n"}}, Rows: [][]wire.SQLValue{{wire.Int(2)}}}, nil
			}
			return &wire.SQLResponse{}, nil
		}
		for _, end := range []string{"commit", "rollback", "open"} {
			status, body := h.call(t, url.Values{"op": {"sql-tx"}, "sql": {"INSERT 1", "INSERT 2"}, "check": {"SELECT count(*)"}, "end": {end}})
			require.Equal(t, 200, status, body)
			require.Equal(t, "inside=2 tx "+end, body)
			want := []wire.SQLRequest{
				{Op: wire.SQLBegin, Binding: "db"},
				{Op: wire.SQLExec, Binding: "db", Tx: "tx-7", SQL: "INSERT 1"},
				{Op: wire.SQLExec, Binding: "db", Tx: "tx-7", SQL: "INSERT 2"},
				{Op: wire.SQLQuery, Binding: "db", Tx: "tx-7", SQL: "SELECT count(*)"},
			}
			if end != "open" {
				want = append(want, wire.SQLRequest{Op: end, Binding: "db", Tx: "tx-7"})
			}
			require.Equal(t, want, h.host.sqls, end)
		}

		// A statement failing inside the transaction: the guest rolls back.
		h.host.sql = func(req wire.SQLRequest) (*wire.SQLResponse, error) {
			switch req.Op {
			case wire.SQLBegin:
				return &wire.SQLResponse{Tx: "tx-8"}, nil
			case wire.SQLExec:
				return &wire.SQLResponse{Error: &wire.SQLError{Code: "SQLITE_CONSTRAINT_UNIQUE", Message: "UNIQUE constraint failed: t.a"}}, nil
			}
			return &wire.SQLResponse{}, nil
		}
		status, body := h.call(t, url.Values{"op": {"sql-tx"}, "sql": {"INSERT 1"}, "end": {"commit"}})
		require.Equal(t, 409, status)
		require.Equal(t, "dberror=SQLITE_CONSTRAINT_UNIQUE|UNIQUE constraint failed: t.a", body)
		require.Equal(t, wire.SQLRollback, h.host.sqls[len(h.host.sqls)-1].Op)
	})

	require.False(t, h.inst.Broken(), "failing binding calls do not break the instance")
}

func TestBindingKVFetchSecrets(t *testing.T) {
	t.Parallel()
	h := newBinder(t)

	t.Run("kv", func(t *testing.T) {
		h.host.kv = func(req wire.KVRequest) (*wire.KVResponse, error) {
			switch req.Op {
			case wire.KVGet:
				return &wire.KVResponse{Found: req.Key == "k", Value: []byte("v\x00")}, nil
			case wire.KVDelete:
				return &wire.KVResponse{Found: true}, nil
			case wire.KVList:
				return &wire.KVResponse{Entries: []wire.KVEntry{{Key: "p/1", Value: []byte("a")}, {Key: "p/2", ExpiresAtMS: 5}}, Next: "p/2"}, nil
			}
			return &wire.KVResponse{}, nil
		}
		status, body := h.call(t, url.Values{"op": {"kv-put"}, "key": {"k"}, "value": {"v"}, "ttl_ms": {"1500"}})
		require.Equal(t, 200, status, body)
		status, body = h.call(t, url.Values{"op": {"kv-get"}, "key": {"k"}})
		require.Equal(t, 200, status, body)
		require.Equal(t, "found=true value=v\x00", body)
		status, body = h.call(t, url.Values{"op": {"kv-del"}, "key": {"k"}, "kv": {"sessions"}})
		require.Equal(t, 200, status, body)
		require.Equal(t, "deleted=true", body)
		require.Equal(t, []wire.KVRequest{{Op: wire.KVDelete, Binding: "sessions", Key: "k"}}, h.host.kvs)
		status, body = h.call(t, url.Values{"op": {"kv-list"}, "prefix": {"p/"}, "after": {"p/0"}, "limit": {"2"}})
		require.Equal(t, 200, status, body)
		require.Equal(t, "p/1=a p/2= next=p/2", body)
		require.Equal(t, []wire.KVRequest{{Op: wire.KVList, Binding: "cache", Prefix: "p/", After: "p/0", Limit: 2}}, h.host.kvs)

		h.host.reset()
		_, _ = callBinder(t, h.inst, url.Values{"op": {"kv-put"}, "key": {"k"}, "value": {"v"}, "ttl_ms": {"1500"}})
		require.Equal(t, []wire.KVRequest{{Op: wire.KVPut, Binding: "cache", Key: "k", Value: []byte("v"), TTLMS: 1500}}, h.host.kvs)

		h.host.kv = func(req wire.KVRequest) (*wire.KVResponse, error) {
			return nil, errors.New("value of 2000000 bytes is above 1 MiB")
		}
		status, body = h.call(t, url.Values{"op": {"kv-put"}, "key": {"big"}})
		require.Equal(t, 502, status)
		require.Equal(t, `error=kv cache: put "big": value of 2000000 bytes is above 1 MiB`, body)
	})

	t.Run("fetch", func(t *testing.T) {
		h.host.fetch = func(req wire.FetchRequest) (*wire.FetchResponse, error) {
			return &wire.FetchResponse{Status: 201, URL: "https://api.example.org/final",
				Headers: []wire.FetchHeader{{Name: "x-test", Values: []string{"yes"}}}, Body: []byte("created")}, nil
		}
		status, body := h.call(t, url.Values{"op": {"fetch"}, "method": {"POST"}, "url": {"https://api.example.org/x?y=1"},
			"body": {"payload"}, "h": {"X-B: 2", "X-A: \xff1"}, "timeout_ms": {"5000"}})
		require.Equal(t, 200, status, body)
		created := sha256.Sum256([]byte("created"))
		require.Equal(t, fmt.Sprintf("status=201 url=https://api.example.org/final x-test=yes len=7 sha=%x body=created", created[:8]), body)
		require.Len(t, h.host.fetches, 1)
		got := h.host.fetches[0]
		require.Positive(t, got.TimeoutMS)
		require.LessOrEqual(t, got.TimeoutMS, int64(5000))
		got.TimeoutMS = 0
		require.Equal(t, wire.FetchRequest{Method: "POST", URL: "https://api.example.org/x?y=1", Body: []byte("payload"),
			Headers: []wire.FetchHeader{{Name: "X-A", Values: []string{"\xff1"}}, {Name: "X-B", Values: []string{"2"}}}}, got)

		// A body at the 6 MiB limit crosses whole.
		big := bytes.Repeat([]byte("0123456789abcdef"), 6<<20/16)
		h.host.fetch = func(req wire.FetchRequest) (*wire.FetchResponse, error) {
			return &wire.FetchResponse{Status: 200, URL: req.URL, Body: big}, nil
		}
		status, body = h.call(t, url.Values{"op": {"fetch"}, "url": {"https://api.example.org/big"}})
		require.Equal(t, 200, status, body)
		sum := sha256.Sum256(big)
		require.Equal(t, fmt.Sprintf("status=200 url=https://api.example.org/big x-test= len=%d sha=%x", len(big), sum[:8]), body)
		require.Positive(t, h.host.fetches[0].TimeoutMS, "the invocation's deadline is passed on")

		h.host.fetch = func(req wire.FetchRequest) (*wire.FetchResponse, error) {
			return nil, errors.New("host 10.0.0.1 is not in the function's fetch allow-list")
		}
		status, body = h.call(t, url.Values{"op": {"fetch"}, "url": {"http://10.0.0.1/"}})
		require.Equal(t, 502, status)
		require.Equal(t, `error=Get "http://10.0.0.1/": host 10.0.0.1 is not in the function's fetch allow-list`, body)
	})

	t.Run("secrets", func(t *testing.T) {
		h.host.secret = func(name string) ([]byte, error) {
			if name == "API_KEY" {
				return []byte("s3cr3t"), nil
			}
			return nil, fmt.Errorf("function binder@1 may not read secret %s", name)
		}
		status, body := h.call(t, url.Values{"op": {"secret"}, "name": {"API_KEY"}})
		require.Equal(t, 200, status, body)
		require.Equal(t, "secret=s3cr3t", body)
		require.Equal(t, []string{"API_KEY"}, h.host.secrets)
		status, body = h.call(t, url.Values{"op": {"secret"}, "name": {"OTHER"}})
		require.Equal(t, 502, status)
		require.Equal(t, "error=function binder@1 may not read secret OTHER", body, "the host names the secret; the SDK does not say it again")
	})

	require.False(t, h.inst.Broken())
}

func TestBindingsWithoutHost(t *testing.T) {
	t.Parallel()
	inst := instantiate(t, compile(t, testRuntime(t), wasmtest.Binder, wasm.ModuleSpec{}))
	status, body := callBinder(t, inst, url.Values{"op": {"kv-get"}, "key": {"k"}})
	require.Equal(t, 502, status)
	require.Equal(t, `error=kv cache: get "k": `+wasm.ErrNoBindings.Error(), body)
	require.False(t, inst.Broken())
}
