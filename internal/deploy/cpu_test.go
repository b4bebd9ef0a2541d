package deploy

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/record"
)

// cpu_ms arriving over the API is checked as the manifest checks it: in
// range, below the timeout, and only where it is enforced; an object
// class's as its function's.
func TestValidateCPU(t *testing.T) {
	withCPU := func(mut func(*record.FunctionConfig)) apitype.Spec {
		s := spec("shop", fn("api", sha('1'), "GET /a"))
		mut(&s.Functions[0].Config)
		return s
	}
	require.NoError(t, Validate(withCPU(func(c *record.FunctionConfig) { c.CPUMS = 50 })))
	require.NoError(t, Validate(withCPU(func(c *record.FunctionConfig) {
		c.Objects = []record.ObjectClass{{Name: "Room", CPUMS: 9999}}
	})))
	require.NoError(t, Validate(withCPU(func(c *record.FunctionConfig) { c.CPUMS = 50; c.Kind = "" })), "a kind detected later is checked after compiling")
	for _, tt := range []struct {
		name string
		mut  func(*record.FunctionConfig)
		want string
	}{
		{"negative", func(c *record.FunctionConfig) { c.CPUMS = -1 }, `cpu_ms: must be an integer number of milliseconds between 0 (no limit) and 900000, got -1`},
		{"too large", func(c *record.FunctionConfig) { c.CPUMS, c.TimeoutMS = 900001, 900000 }, `between 0 (no limit) and 900000, got 900001`},
		{"at the timeout", func(c *record.FunctionConfig) { c.CPUMS = 10000 }, `cpu_ms: must be below the timeout (10000 ms), got 10000`},
		{"above the timeout", func(c *record.FunctionConfig) { c.CPUMS = 20000 }, `must be below the timeout (10000 ms), got 20000`},
		{"command", func(c *record.FunctionConfig) { c.CPUMS, c.Kind = 50, record.KindCommand }, `cpu_ms: is not enforced for a command function`},
		{"process", func(c *record.FunctionConfig) {
			c.CPUMS, c.Kind, c.Runtime, c.Handler, c.Events = 50, record.KindProcess, record.RuntimeNode, "index.handler", record.EventsLambda
		}, `cpu_ms: is not enforced for a process function`},
		{"class negative", func(c *record.FunctionConfig) { c.Objects = []record.ObjectClass{{Name: "Room", CPUMS: -5}} },
			`object "Room": cpu_ms: must be an integer number of milliseconds between 0 (no limit) and 900000, got -5`},
		{"class at the timeout", func(c *record.FunctionConfig) { c.Objects = []record.ObjectClass{{Name: "Room", CPUMS: 10000}} },
			`object "Room": cpu_ms: must be below the timeout (10000 ms), got 10000`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(withCPU(tt.mut))
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrInvalidSpec))
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// A changed cpu_ms shows in the plan as other changed settings do.
func TestPlanShowsCPU(t *testing.T) {
	before := spec("shop", fn("api", sha('1'), "GET /a"))
	before.Functions[0].Config.Objects = []record.ObjectClass{{Name: "Room"}}
	st := deployed(before)
	after := spec("shop", fn("api", sha('1'), "GET /a"), fn("new", sha('2'), "GET /n"))
	after.Functions[0].Config.CPUMS = 50
	after.Functions[0].Config.Objects = []record.ObjectClass{{Name: "Room", CPUMS: 20}}
	after.Functions[1].Config.CPUMS = 100
	p, err := Compute(after, st)
	require.NoError(t, err)
	require.Len(t, p.Change, 1)
	assert.Equal(t, []string{"cpu_ms 0→50", "object ~Room (cpu_ms 0→20)"}, p.Change[0].Fields)
	var out bytes.Buffer
	require.NoError(t, p.Write(&out))
	assert.Contains(t, out.String(), "+ function new: module 222222222222, kind reactor, memory 128 MB, timeout 10s, max_concurrency 64, cpu_ms 100\n")
	assert.Contains(t, out.String(), "~ function api: cpu_ms 0→50, object ~Room (cpu_ms 0→20)\n")
}
