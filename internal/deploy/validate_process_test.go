package deploy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
)

func processConfig() record.FunctionConfig {
	return record.FunctionConfig{
		Kind: record.KindProcess, Runtime: record.RuntimeNode, Handler: "index.handler", Events: record.EventsLambda,
		MemoryMB: 128, TimeoutMS: 10000, MaxConcurrency: 4,
	}
}

// TestValidateProcessBindings: a process function reaches SQL, KV,
// fetch, secrets, queues and topics through its Runtime API socket, so it
// may declare them; workflows and durable objects need the Wasm SDK and
// are refused with a message that says so.
func TestValidateProcessBindings(t *testing.T) {
	c := processConfig()
	c.Bindings = []record.Binding{
		{Name: "db", Kind: record.BindingSQL, Resource: "main"},
		{Name: "cache", Kind: record.BindingKV, Resource: "sessions"},
	}
	c.Fetch = []string{"api.example.com"}
	c.Secrets = []string{"API_KEY"}
	require.NoError(t, ValidateConfig(c))

	for name, tc := range map[string]struct {
		edit func(*record.FunctionConfig)
		want string
	}{
		"workflows": {func(c *record.FunctionConfig) { c.Workflows = []record.WorkflowConfig{{Name: "orders"}} },
			"workflows: a process function cannot orchestrate workflows (they need the Wasm SDK)"},
		"objects": {func(c *record.FunctionConfig) { c.Objects = []record.ObjectClass{{Name: "Counter"}} },
			"objects: a process function cannot define durable objects (they need the Wasm SDK)"},
		"object binding": {func(c *record.FunctionConfig) {
			c.Bindings = append(c.Bindings, record.Binding{Name: "counters", Kind: record.BindingObject, Resource: "Counter"})
		}, `bindings: "counters": a process function cannot bind durable objects (stubs need the Wasm SDK); it may bind sql databases and kv namespaces`},
	} {
		t.Run(name, func(t *testing.T) {
			c := processConfig()
			tc.edit(&c)
			err := ValidateConfig(c)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
