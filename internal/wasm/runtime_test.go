package wasm_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
	"github.com/stratahq/strata/sdk/go/wire"
)

var (
	sharedOnce sync.Once
	shared     *wasm.Runtime
	sharedErr  error
)

// testRuntime returns one Runtime for the whole test binary, backed by the
// machine-wide test compilation cache, so each guest compiles once.
func testRuntime(t testing.TB) *wasm.Runtime {
	t.Helper()
	sharedOnce.Do(func() {
		shared, sharedErr = wasm.New(context.Background(), wasm.Config{
			CacheDir: wasmtest.SharedCacheDir(),
			Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		})
	})
	require.NoError(t, sharedErr)
	return shared
}

func compile(t testing.TB, rt *wasm.Runtime, guest string, spec wasm.ModuleSpec) *wasm.Module {
	t.Helper()
	if spec.Name == "" {
		spec.Name = guest + "@1"
	}
	m, err := rt.Compile(context.Background(), wasmtest.Guest(t, guest), spec)
	require.NoError(t, err)
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func instantiate(t testing.TB, m *wasm.Module) *wasm.Instance {
	t.Helper()
	inst, err := m.Instantiate(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { inst.Close(context.Background()) })
	return inst
}

func get(path, query string) *wire.Request {
	return &wire.Request{Method: "GET", Path: path, RawQuery: query}
}

func TestKindsMatchStore(t *testing.T) {
	require.Equal(t, record.KindReactor, wasm.KindReactor)
	require.Equal(t, record.KindCommand, wasm.KindCommand)
}

func TestReactorRoundTrip(t *testing.T) {
	t.Parallel()
	rt := testRuntime(t)
	m := compile(t, rt, wasmtest.Hello, wasm.ModuleSpec{Env: map[string]string{"GREETING": "hi there"}})
	require.Equal(t, wasm.KindReactor, m.Kind(), "detected from exports")
	inst := instantiate(t, m)

	var stdout, stderr bytes.Buffer
	deadline := time.Now().Add(time.Minute)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	resp, err := inst.Handle(ctx, &wire.Request{
		Method: "POST", Path: "/hello/ada", RawQuery: "x=1&y=two", Host: "fn.test", RemoteAddr: "192.0.2.1:4444",
		Headers:      []wire.Header{{Name: "X-Test", Values: []string{"a", "b"}}, {Name: "Content-Type", Values: []string{"text/plain"}}},
		Params:       []wire.Param{{Name: "name", Value: "ada"}},
		Body:         []byte("the body\x00\xff"),
		InvocationID: "inv-123",
		TraceParent:  "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	}, wasm.Output{Stdout: &stdout, Stderr: &stderr})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.Status)
	require.Contains(t, resp.Headers, wire.Header{Name: "X-Hello", Values: []string{"world"}})
	body := string(resp.Body)
	for _, want := range []string{
		"method=POST\n", "path=/hello/ada\n", "query=x=1&y=two\n", "host=fn.test\n", "remote=192.0.2.1:4444\n",
		"param.name=ada\n", "header.X-Test=[a b]\n", "header.Content-Type=[text/plain]\n",
		"body=the body\x00\xff\n", "env.GREETING=hi there\n", "invocation=inv-123\n",
		"traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\n",
	} {
		require.Contains(t, body, want)
	}
	require.Contains(t, body, "deadline=", "the ctx deadline reaches the guest")
	require.Equal(t, "hello guest handling POST /hello/ada\n", stdout.String())
	require.Empty(t, stderr.String())
	require.False(t, inst.Broken())

	// The same instance serves the next call, and its logs go to the new
	// invocation's writers only.
	var stdout2 bytes.Buffer
	resp, err = inst.Handle(context.Background(), get("/again", "status=201"), wasm.Output{Stdout: &stdout2})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.Status)
	require.Contains(t, string(resp.Body), "path=/again\n")
	require.NotContains(t, string(resp.Body), "deadline=")
	require.Equal(t, "hello guest handling GET /again\n", stdout2.String())
	require.Equal(t, "hello guest handling POST /hello/ada\n", stdout.String(), "earlier writer untouched")
}

func TestPanicBreaksInstanceOnly(t *testing.T) {
	t.Parallel()
	m := compile(t, testRuntime(t), wasmtest.Panic, wasm.ModuleSpec{})
	inst := instantiate(t, m)
	var stderr bytes.Buffer
	_, err := inst.Handle(context.Background(), get("/", ""), wasm.Output{Stderr: &stderr})
	var trap *wasm.TrapError
	require.ErrorAs(t, err, &trap)
	require.Equal(t, "panic@1", trap.Module)
	require.Contains(t, trap.Message, "panicked")
	require.Contains(t, stderr.String(), "guest panicked on purpose")
	require.Contains(t, stderr.String(), "main.init", "the stack is logged")
	require.True(t, inst.Broken())
	_, err = inst.Handle(context.Background(), get("/", "ok=1"), wasm.Output{})
	require.ErrorIs(t, err, wasm.ErrInstanceBroken)

	resp, err := instantiate(t, m).Handle(context.Background(), get("/", "ok=1"), wasm.Output{})
	require.NoError(t, err)
	require.Equal(t, "fine", string(resp.Body))
}

func TestTimeoutInterruptsLoop(t *testing.T) {
	t.Parallel()
	m := compile(t, testRuntime(t), wasmtest.Loop, wasm.ModuleSpec{})
	inst := instantiate(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := inst.Handle(ctx, get("/", ""), wasm.Output{})
	require.ErrorIs(t, err, wasm.ErrTimeout)
	require.Contains(t, err.Error(), "loop@1")
	require.True(t, inst.Broken())

	resp, err := instantiate(t, m).Handle(context.Background(), get("/", "ok=1"), wasm.Output{})
	require.NoError(t, err)
	require.Equal(t, "fine", string(resp.Body))
}

func TestCanceledContext(t *testing.T) {
	t.Parallel()
	m := compile(t, testRuntime(t), wasmtest.Loop, wasm.ModuleSpec{})
	inst := instantiate(t, m)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	_, err := inst.Handle(ctx, get("/", ""), wasm.Output{})
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, wasm.ErrTimeout)
	require.True(t, inst.Broken())
}

func TestUnboundedAllocationTraps(t *testing.T) {
	t.Parallel()
	m := compile(t, testRuntime(t), wasmtest.Alloc, wasm.ModuleSpec{MemoryMB: 32})
	require.Equal(t, 32, m.MemoryMB())
	inst := instantiate(t, m)
	var stderr bytes.Buffer
	_, err := inst.Handle(context.Background(), get("/", ""), wasm.Output{Stderr: &stderr})
	var trap *wasm.TrapError
	require.ErrorAs(t, err, &trap)
	require.Contains(t, stderr.String(), "out of memory")
	require.True(t, inst.Broken())

	resp, err := instantiate(t, m).Handle(context.Background(), get("/", "ok=1"), wasm.Output{})
	require.NoError(t, err)
	require.Equal(t, "fine", string(resp.Body))
}

func TestResponseTooLarge(t *testing.T) {
	t.Parallel()
	m := compile(t, testRuntime(t), wasmtest.Huge, wasm.ModuleSpec{})
	inst := instantiate(t, m)
	_, err := inst.Handle(context.Background(), get("/", ""), wasm.Output{})
	require.ErrorIs(t, err, wasm.ErrResponseTooLarge)
	require.False(t, inst.Broken(), "the guest returned normally")
	resp, err := inst.Handle(context.Background(), get("/", "n=10"), wasm.Output{})
	require.NoError(t, err)
	require.Equal(t, "xxxxxxxxxx", string(resp.Body))
}

func TestResponseCapIsOnBody(t *testing.T) {
	t.Parallel()
	rt, err := wasm.New(context.Background(), wasm.Config{CacheDir: wasmtest.SharedCacheDir(), MaxResponseBytes: 1000})
	require.NoError(t, err)
	defer rt.Close(context.Background())
	m, err := rt.Compile(context.Background(), wasmtest.Guest(t, wasmtest.Huge), wasm.ModuleSpec{Name: "huge@2"})
	require.NoError(t, err)
	inst, err := m.Instantiate(context.Background())
	require.NoError(t, err)
	resp, err := inst.Handle(context.Background(), get("/", "n=1000"), wasm.Output{})
	require.NoError(t, err)
	require.Len(t, resp.Body, 1000)
	_, err = inst.Handle(context.Background(), get("/", "n=1001"), wasm.Output{})
	require.ErrorIs(t, err, wasm.ErrResponseTooLarge)
}

func TestSleepingGuest(t *testing.T) {
	t.Parallel()
	m := compile(t, testRuntime(t), wasmtest.Sleep, wasm.ModuleSpec{})
	resp, err := instantiate(t, m).Handle(context.Background(), get("/", "ms=5"), wasm.Output{})
	require.NoError(t, err)
	require.Equal(t, "slept 5ms", string(resp.Body))
}

// Two versions with identical bytes share compiled code; closing one must
// not break the other.
func TestSharedCodeSurvivesClose(t *testing.T) {
	t.Parallel()
	rt := testRuntime(t)
	bin := wasmtest.Guest(t, wasmtest.Sleep)
	a, err := rt.Compile(context.Background(), bin, wasm.ModuleSpec{Name: "sleep@7", MemoryMB: 64})
	require.NoError(t, err)
	b, err := rt.Compile(context.Background(), bin, wasm.ModuleSpec{Name: "sleep@8", MemoryMB: 64})
	require.NoError(t, err)
	require.NoError(t, a.Close(context.Background()))
	require.NoError(t, a.Close(context.Background()), "idempotent")
	inst, err := b.Instantiate(context.Background())
	require.NoError(t, err)
	defer inst.Close(context.Background())
	_, err = inst.Handle(context.Background(), get("/", "ms=0"), wasm.Output{})
	require.NoError(t, err)
	require.NoError(t, b.Close(context.Background()))
}

func TestWrongEntryPoint(t *testing.T) {
	t.Parallel()
	m := compile(t, testRuntime(t), wasmtest.Sleep, wasm.ModuleSpec{})
	_, err := m.RunCommand(context.Background(), get("/", ""), wasm.Output{})
	require.ErrorContains(t, err, "runs with Instantiate")
}

func TestCompileRejects(t *testing.T) {
	t.Parallel()
	rt := testRuntime(t)
	hello := wasmtest.Guest(t, wasmtest.Hello)
	tests := []struct {
		name string
		bin  []byte
		spec wasm.ModuleSpec
		want []string
	}{
		{"not wasm", []byte("#!/bin/sh\necho hi\n"), wasm.ModuleSpec{}, []string{"not a WebAssembly module"}},
		{"truncated", []byte("\x00asm\x01\x00\x00\x00\x01\x05"), wasm.ModuleSpec{}, []string{"compile module bad@1"}},
		{"unknown host module", moduleWith(importFunc("env", "foo", nil, nil)), wasm.ModuleSpec{},
			[]string{`imports env.foo from unknown host module "env"`, "exports neither strata_handle"}},
		{"unknown host function", moduleWith(importFunc("strata_v1", "kv_get", nil, nil)), wasm.ModuleSpec{},
			[]string{"imports unknown function strata_v1.kv_get"}},
		{"wrong signature", moduleWith(importFunc("strata_v1", "request_read", []byte{i32}, nil)), wasm.ModuleSpec{},
			[]string{"imports strata_v1.request_read with signature (i32) -> (), want (i32, i32) -> (i32)"}},
		{"memory above limit", moduleWith(memory(200), exportMemory()), wasm.ModuleSpec{MemoryMB: 8, Kind: wasm.KindCommand},
			[]string{"min 200 pages (12 Mi) over limit of 128 pages (8 Mi)"}},
		{"reactor as command", hello, wasm.ModuleSpec{Kind: wasm.KindCommand}, []string{"command does not export _start"}},
		{"unknown kind", hello, wasm.ModuleSpec{Kind: "daemon"}, []string{`unknown kind "daemon"`}},
		{"memory out of range", hello, wasm.ModuleSpec{MemoryMB: 5000}, []string{"memory 5000 MB out of range"}},
		{"bad env", hello, wasm.ModuleSpec{Env: map[string]string{"A=B": "x"}}, []string{`environment variable "A=B"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Name = "bad@1"
			_, err := rt.Compile(context.Background(), tt.bin, tt.spec)
			require.ErrorIs(t, err, wasm.ErrInvalidModule)
			for _, want := range tt.want {
				require.Contains(t, err.Error(), want)
			}
			require.True(t, strings.HasPrefix(err.Error(), "compile module bad@1: "), err.Error())
		})
	}
}

func TestRuntimeClose(t *testing.T) {
	t.Parallel()
	rt, err := wasm.New(context.Background(), wasm.Config{})
	require.NoError(t, err)
	require.NoError(t, rt.Close(context.Background()))
	require.NoError(t, rt.Close(context.Background()))
	_, err = rt.Compile(context.Background(), moduleWith(), wasm.ModuleSpec{Name: "x@1"})
	require.ErrorContains(t, err, "runtime closed")
	require.False(t, errors.Is(err, wasm.ErrInvalidModule))
}

// Hand-assembled modules for validation tests.

const i32 = 0x7f

type section struct {
	id   byte
	body []byte
}

func importFunc(mod, name string, params, results []byte) []section {
	typ := append([]byte{1, 0x60, byte(len(params))}, params...)
	typ = append(append(typ, byte(len(results))), results...)
	imp := []byte{1}
	imp = append(append(imp, byte(len(mod))), mod...)
	imp = append(append(imp, byte(len(name))), name...)
	imp = append(imp, 0x00, 0x00) // func, type 0
	return []section{{1, typ}, {2, imp}}
}

func memory(minPages int) []section {
	return []section{{5, []byte{1, 0x00, byte(minPages&0x7f | 0x80), byte(minPages >> 7)}}}
}

func exportMemory() []section {
	return []section{{7, append(append([]byte{1, 6}, "memory"...), 0x02, 0x00)}}
}

func moduleWith(parts ...[]section) []byte {
	out := []byte("\x00asm\x01\x00\x00\x00")
	for _, p := range parts {
		for _, s := range p {
			out = append(out, s.id, byte(len(s.body)))
			out = append(out, s.body...)
		}
	}
	return out
}

// A guest asleep in poll_oneoff (time.Sleep) is woken at its deadline and
// interrupted then, not when its sleep would have ended: an hour's sleep
// with a 100 ms deadline returns ErrTimeout. The bound on the wait below is
// only there so a regression fails instead of hanging the suite.
func TestSleepingGuestStopsAtDeadline(t *testing.T) {
	t.Parallel()
	m := compile(t, testRuntime(t), "sleep", wasm.ModuleSpec{})
	inst := instantiate(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := inst.Handle(ctx, get("/", "ms=3600000"), wasm.Output{})
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, wasm.ErrTimeout)
	case <-time.After(2 * time.Minute):
		t.Fatal("a guest sleeping past its deadline was not interrupted")
	}
	// A short sleep within the deadline still completes normally.
	inst2 := instantiate(t, m)
	resp, err := inst2.Handle(context.Background(), get("/", "ms=5"), wasm.Output{})
	require.NoError(t, err)
	require.Equal(t, "slept 5ms", string(resp.Body))
}
