package bindings

import (
	"context"
	"testing"

	"github.com/stratahq/strata/internal/record"
	"github.com/stretchr/testify/require"
)

type fixture struct {
	st  *memStore
	b   *Bindings
	dir string
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
	f.b = b
	return f
}

// as returns a context of an invocation of function fn with cfg.
// testProject is the project of the functions as() stands for.
const testProject = "p"

func as(fn, invocation string, cfg record.FunctionConfig) context.Context {
	return WithCaller(context.Background(), Caller{Function: fn, Project: testProject, Version: 1, InvocationID: invocation, Config: cfg})
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
