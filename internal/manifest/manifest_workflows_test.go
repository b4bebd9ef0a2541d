package manifest

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/deploy"
	"github.com/stratahq/strata/internal/record"
)

func TestSpecWithWorkflows(t *testing.T) {
	data, err := os.ReadFile("testdata/ok_workflows.yaml")
	require.NoError(t, err)
	specOf := func(t *testing.T, data string) deploy.Spec {
		t.Helper()
		m, err := Parse("testdata/ok_workflows.yaml", []byte(data))
		require.NoError(t, err)
		digests := map[string]string{}
		for _, f := range m.Functions {
			digests[f.Name] = strings.Repeat("a", 64)
		}
		spec, err := m.Spec(digests)
		require.NoError(t, err)
		require.NoError(t, spec.Validate())
		return spec
	}
	spec := specOf(t, string(data))
	fns := map[string]deploy.FunctionSpec{}
	for _, f := range spec.Functions {
		fns[f.Name] = f
	}
	assert.Equal(t, []record.WorkflowConfig{
		{Name: "approval", Retention: 90 * time.Minute},
		{Name: "fulfil", HistoryLimit: 50000, Retention: 168 * time.Hour},
	}, fns["orders"].Config.Workflows)
	assert.Equal(t, []record.WorkflowConfig{{Name: "pages"}}, fns["pipeline"].Config.Workflows)
	assert.Equal(t, []deploy.RouteSpec{
		{Method: "GET", Path: "/orders/{id}"},
		{Method: "POST", Path: "/orders", Workflow: "fulfil", RateLimit: 5, RateBurst: 5},
		{Method: "POST", Path: "/approvals/{id}", Workflow: "approval"},
	}, fns["orders"].Routes)

	// First deploy: the store gets routes that start workflows on the
	// workflow's function.
	p, err := deploy.Compute(spec, deploy.State{})
	require.NoError(t, err)
	ap := p.ApplyParams(spec, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, ap.Validate())
	assert.Contains(t, ap.Routes, record.Route{Project: "shop", Method: "POST", Path: "/orders", Function: "orders", Workflow: "fulfil", RateLimit: 5, RateBurst: 5})
	assert.Contains(t, ap.Routes, record.Route{Project: "shop", Method: "PUT", Path: "/docs/{id}", Function: "pipeline", Workflow: "pages"})
	var out bytes.Buffer
	require.NoError(t, p.Write(&out))
	assert.Contains(t, out.String(), "+ workflow fulfil (orders, history_limit 50000, retention 168h)\n")
	assert.Contains(t, out.String(), "+ workflow pages (pipeline)\n")

	st := deploy.State{Active: map[string]record.Version{}, Routes: ap.Routes}
	for _, v := range ap.NewVersions {
		st.Functions = append(st.Functions, record.Function{Name: v.Function, Project: spec.Project, ActiveVersion: 1})
		st.Active[v.Function] = record.Version{Function: v.Function, Number: 1, ModuleSHA256: v.ModuleSHA256, Config: v.Config}
	}
	st.Queues, st.Topics, st.Schedules = ap.Events.Queues, ap.Events.Topics, ap.Events.Schedules

	// The same file again, with its workflows in another order: no change.
	reordered := strings.Replace(string(data), "  approval: { function: orders, retention: 90m }\n", "", 1)
	reordered = strings.Replace(reordered, "workflows:\n", "workflows:\n  approval: { function: orders, retention: 90m }\n", 1)
	require.NotEqual(t, string(data), reordered)
	again, err := deploy.Compute(specOf(t, reordered), st)
	require.NoError(t, err)
	assert.True(t, again.Empty(), "%+v", again)

	// A workflow's retention changes: a new version of its function only.
	changed := strings.Replace(string(data), "retention: 168h", "retention: 720h", 1)
	require.NotEqual(t, string(data), changed)
	p, err = deploy.Compute(specOf(t, changed), st)
	require.NoError(t, err)
	require.Len(t, p.Change, 1)
	assert.Equal(t, "orders", p.Change[0].Name)
	assert.Equal(t, []string{"workflow ~fulfil"}, p.Change[0].Fields)
	assert.Equal(t, []string{"pipeline"}, p.Unchanged)
	out.Reset()
	require.NoError(t, p.Write(&out))
	assert.Contains(t, out.String(), "~ workflow fulfil (orders): retention 168h→720h\n")
}
