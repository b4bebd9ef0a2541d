package manifest

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/deploy"
	"github.com/stratahq/strata/internal/record"
)

// TestSpecWithObjects follows testdata/ok_objects.yaml from the manifest to
// the records a deploy stores: classes in their function's config, object
// and WebSocket routes as record.Route, class bindings; then checks that
// reordering changes nothing and that a class's settings make a new
// version of its function alone.
func TestSpecWithObjects(t *testing.T) {
	data, err := os.ReadFile("testdata/ok_objects.yaml")
	require.NoError(t, err)
	specOf := func(t *testing.T, data string) apitype.Spec {
		t.Helper()
		m, err := Parse("testdata/ok_objects.yaml", []byte(data))
		require.NoError(t, err)
		digests := map[string]string{}
		for _, f := range m.Functions {
			digests[f.Name] = strings.Repeat("a", 64)
		}
		spec, err := m.Spec(digests)
		require.NoError(t, err)
		require.NoError(t, deploy.Validate(spec))
		return spec
	}
	spec := specOf(t, string(data))
	fns := map[string]apitype.FunctionSpec{}
	for _, f := range spec.Functions {
		fns[f.Name] = f
	}
	assert.Equal(t, []record.ObjectClass{
		{Name: "Counter"},
		{Name: "Presence_v2", IdleTimeoutMS: 24 * 3600 * 1000, StorageLimitBytes: 1024},
		{Name: "Room", IdleTimeoutMS: 30000, StorageLimitBytes: 50 << 20, CPUMS: 50},
	}, fns["rooms"].Config.Objects)
	assert.Equal(t, []record.ObjectClass{{Name: "Ledger", StorageLimitBytes: 10 << 30}}, fns["api"].Config.Objects)
	assert.Equal(t, []record.Binding{
		{Name: "db", Kind: record.BindingSQL, Resource: "main"},
		{Name: "kv", Kind: record.BindingKV, Resource: "cache"},
		{Name: "ledger", Kind: record.BindingObject, Resource: "Ledger"},
		{Name: "rooms", Kind: record.BindingObject, Resource: "Room"},
	}, fns["api"].Config.Bindings)
	assert.Contains(t, fns["rooms"].Routes, apitype.RouteSpec{Method: "GET", Path: "/rooms/{name}/ws", Object: "Room", ObjectParam: "name"})

	p, err := deploy.Compute(spec, deploy.State{})
	require.NoError(t, err)
	ap := p.ApplyParams(spec, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, ap.Validate())
	for _, want := range []record.Route{
		{Project: "chat", Method: "GET", Path: "/rooms/{name}/ws", Function: "rooms", Object: "Room", ObjectParam: "name"},
		{Project: "chat", Method: "POST", Path: "/orgs/{org}/counters/{counter}", Function: "rooms", Object: "Counter", ObjectParam: "counter", RateLimit: 10, RateBurst: 10},
		{Project: "chat", Method: "*", Path: "/presence/{user...}", Function: "rooms", Object: "Presence_v2", ObjectParam: "user"},
		{Project: "chat", Method: "PUT", Path: "/ledger/{account}", Function: "api", Object: "Ledger", ObjectParam: "account"},
		{Project: "chat", Method: "*", Path: "/chat", Function: "rooms", WebSocket: true},
		{Project: "chat", Method: "GET", Path: "/live", Function: "rooms", WebSocket: true},
		{Project: "chat", Method: "POST", Path: "/plain", Function: "rooms"},
	} {
		assert.Contains(t, ap.Routes, want)
	}
	var out bytes.Buffer
	require.NoError(t, p.Write(&out))
	assert.Contains(t, out.String(), "+ route GET /rooms/{name}/ws → rooms (object Room by {name})\n")
	assert.Contains(t, out.String(), "+ route * /chat → rooms (websocket)\n")

	st := deploy.State{Active: map[string]record.Version{}, Routes: ap.Routes}
	for _, v := range ap.NewVersions {
		st.Functions = append(st.Functions, record.Function{Name: v.Function, Project: spec.Project, ActiveVersion: 1})
		st.Active[v.Function] = record.Version{Function: v.Function, Number: 1, ModuleSHA256: v.ModuleSHA256, Config: v.Config}
	}
	st.Queues, st.Topics, st.Schedules = ap.Events.Queues, ap.Events.Topics, ap.Events.Schedules
	require.NotNil(t, ap.Bindings)
	st.Databases, st.KV = ap.Bindings.Databases, ap.Bindings.KV

	// The same classes in another order: no change.
	line := "  Counter: { function: rooms }\n"
	reordered := strings.Replace(string(data), line, "", 1)
	reordered = strings.Replace(reordered, "objects:\n", "objects:\n"+line, 1)
	require.NotEqual(t, string(data), reordered)
	again, err := deploy.Compute(specOf(t, reordered), st)
	require.NoError(t, err)
	assert.True(t, again.Empty(), "%+v", again)

	// A class's idle timeout changes: a new version of its function only.
	changed := strings.Replace(string(data), "idle_timeout: 30s", "idle_timeout: 45s", 1)
	require.NotEqual(t, string(data), changed)
	p, err = deploy.Compute(specOf(t, changed), st)
	require.NoError(t, err)
	require.Len(t, p.Change, 1)
	assert.Equal(t, "rooms", p.Change[0].Name)
	assert.Equal(t, []string{"object ~Room"}, p.Change[0].Fields)
	assert.Equal(t, []string{"api"}, p.Unchanged)

	// cpu_ms of the function and of its class: shown as other settings.
	changed = strings.Replace(string(data), "    cpu_ms: 50\n", "    cpu_ms: 70\n", 1)
	changed = strings.Replace(changed, "    cpu_ms: 200\n", "    cpu_ms: 300\n", 1)
	p, err = deploy.Compute(specOf(t, changed), st)
	require.NoError(t, err)
	require.Len(t, p.Change, 1)
	assert.Equal(t, []string{"cpu_ms 200→300", "object ~Room (cpu_ms 50→70)"}, p.Change[0].Fields)

	// A route that forwards to an object no longer does: a route change.
	changed = strings.Replace(string(data), "        object: Room\n", "", 1)
	p, err = deploy.Compute(specOf(t, changed), st)
	require.NoError(t, err)
	require.Len(t, p.RoutesChange, 1)
	assert.Equal(t, []string{"object Room by {name}→none"}, p.RoutesChange[0].Fields)
}
