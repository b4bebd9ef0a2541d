package deploy

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// shopWithWorkflows: orders orchestrates fulfil and refund (listed out of
// order), POST /orders starts fulfil with a rate limit, GET /orders/{id}
// invokes orders; api has no workflow.
func shopWithWorkflows() Spec {
	s := spec("shop", fn("orders", sha('1'), "GET /orders/{id}"), fn("api", sha('2'), "GET /a"))
	o := &s.Functions[0]
	o.Config.Workflows = []record.WorkflowConfig{
		{Name: "refund"},
		{Name: "fulfil", HistoryLimit: 1000, Retention: 24 * time.Hour},
	}
	o.Routes = append(o.Routes, RouteSpec{Method: "POST", Path: "/orders", Workflow: "fulfil", RateLimit: 10, RateBurst: 10})
	return s
}

// applied is the state after applying spec's plan against cur, as the store
// would keep it.
func applied(t *testing.T, s Spec, cur State) State {
	t.Helper()
	p, err := Compute(s, cur)
	require.NoError(t, err)
	ap := p.ApplyParams(s, testNow)
	st := State{Active: map[string]record.Version{}}
	for _, f := range cur.Functions {
		if f.Project != s.Project {
			st.Functions = append(st.Functions, f)
			st.Active[f.Name] = cur.Active[f.Name]
		}
	}
	for _, f := range s.Functions {
		st.Functions = append(st.Functions, record.Function{Name: f.Name, Project: s.Project, ActiveVersion: 1})
		st.Active[f.Name] = cur.Active[f.Name]
	}
	for _, v := range ap.NewVersions {
		st.Active[v.Function] = record.Version{Function: v.Function, ModuleSHA256: v.ModuleSHA256, Config: v.Config}
	}
	st.Routes = ap.Routes
	st.Queues, st.Topics, st.Schedules = ap.Events.Queues, ap.Events.Topics, ap.Events.Schedules
	return st
}

func TestWorkflowsFirstDeploy(t *testing.T) {
	s := shopWithWorkflows()
	p, err := Compute(s, State{})
	require.NoError(t, err)
	assert.Equal(t, []Workflow{
		{Function: "orders", WorkflowConfig: record.WorkflowConfig{Name: "fulfil", HistoryLimit: 1000, Retention: 24 * time.Hour}},
		{Function: "orders", WorkflowConfig: record.WorkflowConfig{Name: "refund"}},
	}, p.WorkflowsAdd)

	var out bytes.Buffer
	require.NoError(t, p.Write(&out))
	assert.Equal(t, `project shop:
+ function api: module 222222222222, kind reactor, memory 128 MB, timeout 10s, max_concurrency 64
+ function orders: module 111111111111, kind reactor, memory 128 MB, timeout 10s, max_concurrency 64, workflow +fulfil, workflow +refund
+ route GET /a → api
+ route POST /orders → orders (starts workflow fulfil, rate_limit 10/s, burst 10)
+ route GET /orders/{id} → orders
+ workflow fulfil (orders, history_limit 1000, retention 24h)
+ workflow refund (orders)
functions: 2 to add, 0 to change, 0 to remove, 0 unchanged; routes: 3 to add, 0 to remove; workflows: 2 to add, 0 to change, 0 to remove
`, out.String())

	ap := p.ApplyParams(s, testNow)
	require.Len(t, ap.NewVersions, 2)
	assert.Equal(t, "orders", ap.NewVersions[1].Function)
	// Sorted by name, whatever the spec's order.
	assert.Equal(t, []record.WorkflowConfig{
		{Name: "fulfil", HistoryLimit: 1000, Retention: 24 * time.Hour},
		{Name: "refund"},
	}, ap.NewVersions[1].Config.Workflows)
	assert.Nil(t, ap.NewVersions[0].Config.Workflows)
	assert.Contains(t, ap.Routes, record.Route{Project: "shop", Method: "POST", Path: "/orders", Function: "orders", Workflow: "fulfil", RateLimit: 10, RateBurst: 10})
	assert.Contains(t, ap.Routes, record.Route{Project: "shop", Method: "GET", Path: "/orders/{id}", Function: "orders"})

	// The caller's spec is left as it was, and the new version does not
	// share its slice.
	assert.Equal(t, "refund", s.Functions[0].Config.Workflows[0].Name)
	ap.NewVersions[1].Config.Workflows[0].Name = "changed"
	p2, err := Compute(s, State{})
	require.NoError(t, err)
	assert.Equal(t, "fulfil", p2.Add[1].New.Config.Workflows[0].Name)
}

func TestWorkflowsRedeployIsNoOp(t *testing.T) {
	s := shopWithWorkflows()
	st := applied(t, s, State{})
	p, err := Compute(s, st)
	require.NoError(t, err)
	assert.True(t, p.Empty(), "%+v", p)

	// Another order in the spec is the same set.
	s.Functions[0].Config.Workflows[0], s.Functions[0].Config.Workflows[1] = s.Functions[0].Config.Workflows[1], s.Functions[0].Config.Workflows[0]
	p, err = Compute(s, st)
	require.NoError(t, err)
	assert.True(t, p.Empty(), "%+v", p)
}

func TestWorkflowsChanges(t *testing.T) {
	st := applied(t, shopWithWorkflows(), State{})

	s := shopWithWorkflows()
	s.Functions[0].Config.Workflows = []record.WorkflowConfig{
		{Name: "fulfil", Retention: 48 * time.Hour}, // history limit back to the default
		{Name: "audit"},
	}
	// refund moves to api.
	s.Functions[1].Config.Workflows = []record.WorkflowConfig{{Name: "refund", HistoryLimit: 200}}
	// GET /orders/{id} now starts audit.
	s.Functions[0].Routes[0].Workflow = "audit"

	p, err := Compute(s, st)
	require.NoError(t, err)
	assert.Empty(t, p.Add)
	require.Len(t, p.Change, 2)
	assert.Equal(t, []string{"workflow +refund"}, p.Change[0].Fields)
	assert.Equal(t, []string{"workflow +audit", "workflow ~fulfil", "workflow -refund"}, p.Change[1].Fields)

	var out bytes.Buffer
	require.NoError(t, p.Write(&out))
	assert.Equal(t, `project shop:
~ function api: workflow +refund
~ function orders: workflow +audit, workflow ~fulfil, workflow -refund
~ route GET /orders/{id} → orders: workflow none→audit
+ workflow audit (orders)
~ workflow fulfil (orders): history_limit 1000→default, retention 24h→48h
~ workflow refund (api): function orders→api, history_limit default→200
functions: 0 to add, 2 to change, 0 to remove, 0 unchanged; routes: 0 to add, 1 to change, 0 to remove; workflows: 1 to add, 2 to change, 0 to remove
`, out.String())

	ap := p.ApplyParams(s, testNow)
	require.Len(t, ap.NewVersions, 2)
	assert.Equal(t, []record.WorkflowConfig{{Name: "audit"}, {Name: "fulfil", Retention: 48 * time.Hour}}, ap.NewVersions[1].Config.Workflows)
	assert.Contains(t, ap.Routes, record.Route{Project: "shop", Method: "GET", Path: "/orders/{id}", Function: "orders", Workflow: "audit"})

	// Removing every workflow and the route that started one.
	s = shopWithWorkflows()
	s.Functions[0].Config.Workflows = nil
	s.Functions[0].Routes = s.Functions[0].Routes[:1]
	p, err = Compute(s, st)
	require.NoError(t, err)
	out.Reset()
	require.NoError(t, p.Write(&out))
	assert.Equal(t, `project shop:
~ function orders: workflow -fulfil, workflow -refund
- route POST /orders → orders
- workflow fulfil (orders)
- workflow refund (orders)
functions: 0 to add, 1 to change, 0 to remove, 1 unchanged; routes: 0 to add, 1 to remove; workflows: 0 to add, 0 to change, 2 to remove
`, out.String())

	// Removing the function removes its workflows.
	s = spec("shop", fn("api", sha('2'), "GET /a"))
	p, err = Compute(s, st)
	require.NoError(t, err)
	assert.Equal(t, []string{"orders"}, p.Remove)
	assert.Len(t, p.WorkflowsRemove, 2)
}

func TestWorkflowNameOwnedByAnotherProject(t *testing.T) {
	st := applied(t, shopWithWorkflows(), State{})
	other := spec("blog", fn("post", sha('3')))
	other.Functions[0].Config.Workflows = []record.WorkflowConfig{{Name: "fulfil"}, {Name: "publish"}}
	_, err := Compute(other, st)
	require.Error(t, err)
	assert.True(t, errors.Is(err, store.ErrConflict))
	assert.Contains(t, err.Error(), `workflow "fulfil" belongs to project "shop" (function "orders"); rename it or remove it there first: conflict`)
	assert.NotContains(t, err.Error(), "publish")

	other.Functions[0].Config.Workflows = []record.WorkflowConfig{{Name: "publish"}}
	_, err = Compute(other, st)
	require.NoError(t, err)
}

func TestWorkflowSpecValidate(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(s *Spec)
		want   string
	}{
		{"bad name", func(s *Spec) { s.Functions[0].Config.Workflows[0].Name = "Fulfil" }, `function "orders": config: workflows: name must be a lowercase letter`},
		{"listed twice", func(s *Spec) { s.Functions[0].Config.Workflows[0].Name = "fulfil" }, `workflows: "fulfil" is listed twice`},
		{"history limit low", func(s *Spec) { s.Functions[0].Config.Workflows[1].HistoryLimit = 99 }, `workflow "fulfil": history_limit: must be an integer number of events per run between 100 and 1000000, got 99`},
		{"history limit high", func(s *Spec) { s.Functions[0].Config.Workflows[1].HistoryLimit = MaxHistoryLimit + 1 }, `got 1000001`},
		{"retention short", func(s *Spec) { s.Functions[0].Config.Workflows[1].Retention = 59 * time.Second }, `workflow "fulfil": retention: must be a duration like "168h" or "30m" between 1m and 8760h (a year); days are written in hours, got 59s`},
		{"retention long", func(s *Spec) { s.Functions[0].Config.Workflows[1].Retention = MaxRetention + time.Hour }, `got 8761h`},
		{"command module", func(s *Spec) { s.Functions[0].Config.Kind = record.KindCommand }, `function "orders": config: workflows: a command module cannot orchestrate workflows`},
		{"two functions", func(s *Spec) { s.Functions[1].Config.Workflows = []record.WorkflowConfig{{Name: "fulfil"}} }, `workflow "fulfil" is declared by functions "orders" and "api"`},
		{"unknown route workflow", func(s *Spec) { s.Functions[0].Routes[1].Workflow = "fulfill" }, `function "orders": route POST /orders: unknown workflow "fulfill"`},
		{"async route workflow", func(s *Spec) { s.Functions[0].Routes[1].Async = true }, `function "orders": route POST /orders: a route that starts workflow "fulfil" cannot be async`},
		{"other function's workflow", func(s *Spec) {
			s.Functions[1].Routes = append(s.Functions[1].Routes, RouteSpec{Method: "POST", Path: "/refund", Workflow: "refund"})
		}, `function "api": route POST /refund: workflow "refund" belongs to function "orders"; the route must be one of that function's`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := shopWithWorkflows()
			require.NoError(t, s.Validate())
			tt.change(&s)
			err := s.Validate()
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrInvalidSpec))
			assert.Contains(t, err.Error(), tt.want)
		})
	}

	// Limits are inclusive, and an empty kind (detected later) is fine.
	s := shopWithWorkflows()
	s.Functions[0].Config.Kind = ""
	s.Functions[0].Config.Workflows[1].HistoryLimit = MinHistoryLimit
	s.Functions[0].Config.Workflows[1].Retention = MinRetention
	s.Functions[0].Config.Workflows[0].HistoryLimit = MaxHistoryLimit
	s.Functions[0].Config.Workflows[0].Retention = MaxRetention
	require.NoError(t, s.Validate())
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		168 * time.Hour:                 "168h",
		90 * time.Minute:                "1h30m",
		time.Minute:                     "1m",
		90 * time.Second:                "1m30s",
		time.Hour + time.Second:         "1h0m1s",
		1500 * time.Millisecond:         "1.5s",
		8760*time.Hour + 30*time.Minute: "8760h30m",
	} {
		assert.Equal(t, want, shortDuration(d), d.String())
	}
}
