package bindings

import (
	"context"
	"testing"

	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/sdk/go/wire"
	"github.com/stretchr/testify/require"
)

type fixture struct {
	st  *memStore
	b   testBindings
	dir string
}

// testBindings is Bindings as the tests call it: with the calling
// invocation set once on a context (as, withCaller) rather than passed to
// every call, as the tests were written before the host environment
// became an argument. Production code has no such context value: the
// invoker passes the *host.Call to the runtime, which passes it to the
// handlers; this adapter, private to the tests, keeps the attack tests'
// calls as they were.
type testBindings struct{ *Bindings }

type testCallerKey struct{}

// withCaller returns ctx standing for an invocation of c.
func withCaller(ctx context.Context, c *host.Call) context.Context {
	return context.WithValue(ctx, testCallerKey{}, c)
}

// callerOf is the invocation ctx stands for, nil for none.
func callerOf(ctx context.Context) *host.Call {
	c, _ := ctx.Value(testCallerKey{}).(*host.Call)
	return c
}

func (b testBindings) SQL(ctx context.Context, req wire.SQLRequest) (*wire.SQLResponse, error) {
	return b.Bindings.SQL(ctx, callerOf(ctx), req)
}

func (b testBindings) KV(ctx context.Context, req wire.KVRequest) (*wire.KVResponse, error) {
	return b.Bindings.KV(ctx, callerOf(ctx), req)
}

func (b testBindings) Fetch(ctx context.Context, req wire.FetchRequest) (*wire.FetchResponse, error) {
	return b.Bindings.Fetch(ctx, callerOf(ctx), req)
}

func (b testBindings) Secret(ctx context.Context, name string) ([]byte, error) {
	return b.Bindings.Secret(ctx, callerOf(ctx), name)
}

func setup(t testing.TB, mod ...func(*Config)) *fixture {
	t.Helper()
	f := &fixture{st: newMemStore(), dir: t.TempDir()}
	cfg := Config{Store: f.st, DataDir: f.dir}
	for _, m := range mod {
		m(&cfg)
	}
	b, err := New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	f.b = testBindings{b}
	return f
}

// as returns a context of an invocation of function fn with cfg.
// testProject is the project of the functions as() stands for.
const testProject = "p"

func as(fn, invocation string, cfg record.FunctionConfig) context.Context {
	return withCaller(context.Background(), &host.Call{Function: fn, Project: testProject, Version: 1, InvocationID: invocation, Config: cfg})
}

func sqlBinding(name, db string) record.Binding {
	return record.Binding{Name: name, Kind: record.BindingSQL, Resource: db}
}

func wireNaN() float64 {
	var zero float64
	return zero / zero
}

func storeConfigWithSecret(names ...string) record.FunctionConfig {
	return record.FunctionConfig{Secrets: names}
}
