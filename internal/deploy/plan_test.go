package deploy

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/route"
	"github.com/stratahq/strata/internal/store"
)

// testNow is when tests deploy.
var testNow = time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC)

func sha(c byte) string { return strings.Repeat(string(c), 64) }

func cfg() record.FunctionConfig {
	return record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 128, TimeoutMS: 10000, MaxConcurrency: 64}
}

// fn builds a function spec with default config and routes like "GET /x".
func fn(name, digest string, routes ...string) apitype.FunctionSpec {
	f := apitype.FunctionSpec{Name: name, ModuleSHA256: digest, Config: cfg()}
	for _, r := range routes {
		p, err := route.Parse(r)
		if err != nil {
			panic(err)
		}
		f.Routes = append(f.Routes, apitype.RouteSpec{Method: p.Method, Path: p.Path})
	}
	return f
}

func spec(project string, fns ...apitype.FunctionSpec) apitype.Spec {
	return apitype.Spec{Project: project, Functions: fns}
}

// deployed turns a spec into the state the store would hold after applying it.
func deployed(specs ...apitype.Spec) State {
	st := State{Active: map[string]record.Version{}}
	for _, s := range specs {
		for _, f := range s.Functions {
			st.Functions = append(st.Functions, record.Function{Name: f.Name, Project: s.Project, ActiveVersion: 1})
			st.Active[f.Name] = record.Version{Function: f.Name, Number: 1, ModuleSHA256: f.ModuleSHA256, Config: f.Config}
		}
		st.Routes = append(st.Routes, storeRoutes(s)...)
		ev := Events(s, testNow)
		st.Queues = append(st.Queues, ev.Queues...)
		st.Topics = append(st.Topics, ev.Topics...)
		st.Schedules = append(st.Schedules, ev.Schedules...)
		b := Bindings(s)
		st.Databases = append(st.Databases, b.Databases...)
		st.KV = append(st.KV, b.KV...)
	}
	return st
}

func names(cs []FunctionChange) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func TestComputeFirstDeploy(t *testing.T) {
	s := spec("shop", fn("web", sha('2'), "/{rest...}"), fn("api", sha('1'), "GET /a", "POST /u/{id}"))
	s.Functions[1].Config.Env = map[string]string{"TOKEN": "secret-value", "A": "1"}
	p, err := Compute(s, State{})
	require.NoError(t, err)
	assert.Equal(t, []string{"api", "web"}, names(p.Add))
	assert.Nil(t, p.Add[0].Old)
	assert.Empty(t, p.Change)
	assert.Empty(t, p.Remove)
	assert.Len(t, p.RoutesAdd, 3)
	assert.False(t, p.Empty())

	var out bytes.Buffer
	require.NoError(t, p.Write(&out))
	assert.Equal(t, `project shop:
+ function api: module 111111111111, kind reactor, memory 128 MB, timeout 10s, max_concurrency 64, env +A, env +TOKEN
+ function web: module 222222222222, kind reactor, memory 128 MB, timeout 10s, max_concurrency 64
+ route GET /a → api
+ route POST /u/{id} → api
+ route * /{rest...} → web
functions: 2 to add, 0 to change, 0 to remove, 0 unchanged; routes: 3 to add, 0 to remove
`, out.String())
	assert.NotContains(t, out.String(), "secret-value")

	ap := p.ApplyParams(s, testNow)
	assert.Equal(t, "shop", ap.Project)
	require.Len(t, ap.NewVersions, 2)
	assert.Equal(t, "api", ap.NewVersions[0].Function)
	assert.Equal(t, sha('1'), ap.NewVersions[0].ModuleSHA256)
	assert.Equal(t, "secret-value", ap.NewVersions[0].Config.Env["TOKEN"])
	assert.Equal(t, []record.Route{
		{Project: "shop", Method: "GET", Path: "/a", Function: "api"},
		{Project: "shop", Method: "POST", Path: "/u/{id}", Function: "api"},
		{Project: "shop", Method: "*", Path: "/{rest...}", Function: "web"},
	}, ap.Routes)
	// ApplyParams must not alias the spec's env map.
	ap.NewVersions[0].Config.Env["TOKEN"] = "changed"
	assert.Equal(t, "secret-value", s.Functions[1].Config.Env["TOKEN"])
}

func TestComputeIdempotent(t *testing.T) {
	s := spec("shop", fn("api", sha('1'), "GET /a"), fn("web", sha('2')))
	s.Functions[0].Config.Env = map[string]string{"K": "v"}
	p, err := Compute(s, deployed(s))
	require.NoError(t, err)
	assert.True(t, p.Empty())
	assert.Equal(t, []string{"api", "web"}, p.Unchanged)
	var out bytes.Buffer
	require.NoError(t, p.Write(&out))
	assert.Equal(t, "project shop: no changes (2 functions unchanged)\n", out.String())
	ap := p.ApplyParams(s, testNow)
	assert.Empty(t, ap.NewVersions)
	assert.Empty(t, ap.RemoveFunctions)
	assert.Len(t, ap.Routes, 1)
}

func TestComputeEnvNilEqualsEmpty(t *testing.T) {
	s := spec("shop", fn("api", sha('1')))
	st := deployed(s)
	s.Functions[0].Config.Env = map[string]string{}
	p, err := Compute(s, st)
	require.NoError(t, err)
	assert.True(t, p.Empty())
}

func TestComputeDetectedKindIsUnchanged(t *testing.T) {
	s := spec("shop", fn("legacy", sha('1')))
	s.Functions[0].Config.Kind = record.KindCommand
	st := deployed(s) // the server stored the detected kind
	s.Functions[0].Config.Kind = ""
	p, err := Compute(s, st)
	require.NoError(t, err)
	assert.True(t, p.Empty())
}

func TestComputeChanges(t *testing.T) {
	before := spec("shop",
		fn("api", sha('1'), "GET /a", "GET /b"),
		fn("old", sha('3'), "GET /old"),
		fn("same", sha('4'), "GET /same"),
	)
	before.Functions[0].Config.Env = map[string]string{"KEEP": "1", "EDIT": "old-secret", "DROP": "x"}
	st := deployed(before, spec("other", fn("elsewhere", sha('9'), "GET /e")))

	after := spec("shop",
		fn("api", sha('5'), "GET /a", "POST /b"),
		fn("new", sha('6'), "GET /old"),
		fn("same", sha('4'), "GET /same"),
	)
	c := &after.Functions[0].Config
	c.Kind = record.KindCommand
	c.MemoryMB, c.TimeoutMS, c.MaxConcurrency = 256, 30000, 8
	c.Env = map[string]string{"KEEP": "1", "EDIT": "new-secret", "ADD": "y"}

	p, err := Compute(after, st)
	require.NoError(t, err)
	assert.Equal(t, []string{"new"}, names(p.Add))
	assert.Equal(t, []string{"api"}, names(p.Change))
	require.NotNil(t, p.Change[0].Old)
	assert.Equal(t, sha('1'), p.Change[0].Old.ModuleSHA256)
	assert.Equal(t, []string{"old"}, p.Remove)
	assert.Equal(t, []string{"same"}, p.Unchanged)
	assert.Equal(t, []string{
		"module 111111111111→555555555555", "kind reactor→command", "memory 128→256 MB",
		"timeout 10s→30s", "max_concurrency 64→8", "env +ADD", "env -DROP", "env ~EDIT",
	}, p.Change[0].Fields)
	assert.Equal(t, []record.Route{
		{Project: "shop", Method: "POST", Path: "/b", Function: "api"},
		{Project: "shop", Method: "GET", Path: "/old", Function: "new"},
	}, p.RoutesAdd)
	assert.Equal(t, []record.Route{
		{Project: "shop", Method: "GET", Path: "/b", Function: "api"},
		{Project: "shop", Method: "GET", Path: "/old", Function: "old"},
	}, p.RoutesRemove)

	var out bytes.Buffer
	require.NoError(t, p.Write(&out))
	assert.Equal(t, `project shop:
+ function new: module 666666666666, kind reactor, memory 128 MB, timeout 10s, max_concurrency 64
~ function api: module 111111111111→555555555555, kind reactor→command, memory 128→256 MB, timeout 10s→30s, max_concurrency 64→8, env +ADD, env -DROP, env ~EDIT
- function old
+ route POST /b → api
+ route GET /old → new
- route GET /b → api
- route GET /old → old
functions: 1 to add, 1 to change, 1 to remove, 1 unchanged; routes: 2 to add, 2 to remove
`, out.String())
	assert.NotContains(t, out.String(), "secret")

	ap := p.ApplyParams(after, testNow)
	require.Len(t, ap.NewVersions, 2)
	assert.Equal(t, []string{"api", "new"}, []string{ap.NewVersions[0].Function, ap.NewVersions[1].Function})
	assert.Equal(t, 256, ap.NewVersions[0].Config.MemoryMB)
	assert.Equal(t, []string{"old"}, ap.RemoveFunctions)
	assert.Len(t, ap.Routes, 4)
	for _, r := range ap.Routes {
		assert.Equal(t, "shop", r.Project)
	}
}

func TestComputeRenamedParamIsRouteChange(t *testing.T) {
	before := spec("shop", fn("api", sha('1'), "GET /u/{id}"))
	after := spec("shop", fn("api", sha('1'), "GET /u/{user}"))
	p, err := Compute(after, deployed(before))
	require.NoError(t, err)
	assert.Empty(t, p.Change)
	assert.Equal(t, "/u/{user}", p.RoutesAdd[0].Path)
	assert.Equal(t, "/u/{id}", p.RoutesRemove[0].Path)
}

func TestComputeMissingActiveVersion(t *testing.T) {
	s := spec("shop", fn("api", sha('1')))
	st := deployed(s)
	delete(st.Active, "api")
	p, err := Compute(s, st)
	require.NoError(t, err)
	require.Len(t, p.Change, 1)
	assert.Nil(t, p.Change[0].Old)
	assert.Equal(t, []string{"no active version"}, p.Change[0].Fields)
}

func TestComputeConflicts(t *testing.T) {
	other := spec("blog", fn("hello", sha('1'), "GET /posts/{id}", "* /feed", "POST /x"))
	tests := []struct {
		name string
		spec apitype.Spec
		errs []string
	}{
		{
			name: "function owned by another project",
			spec: spec("shop", fn("hello", sha('2'))),
			errs: []string{`deploy project "shop": function "hello" belongs to project "blog"; rename it or remove it there first: conflict`},
		},
		{
			name: "same route shape",
			spec: spec("shop", fn("api", sha('2'), "GET /posts/{slug}")),
			errs: []string{`route GET /posts/{slug} of function "api" overlaps GET /posts/{id} of project "blog" (function "hello"): project "blog" owns /posts/ and every path under it; ` +
				`paths belong to the first project that deploys a route on them: choose a path outside it, or remove the route from project "blog" first: conflict`},
		},
		{
			name: "specific method under another project's any-method route",
			spec: spec("shop", fn("api", sha('2'), "GET /feed")),
			errs: []string{`route GET /feed of function "api" overlaps * /feed of project "blog"`},
		},
		{
			name: "any-method over another project's route",
			spec: spec("shop", fn("api", sha('2'), "/x")),
			errs: []string{`route * /x of function "api" overlaps POST /x of project "blog"`},
		},
		{
			name: "all reported",
			spec: spec("shop", fn("hello", sha('2'), "GET /posts/{slug}")),
			errs: []string{`function "hello" belongs to project "blog"`, `route GET /posts/{slug} of function "hello" overlaps`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compute(tt.spec, deployed(other))
			require.Error(t, err)
			assert.True(t, errors.Is(err, store.ErrConflict))
			for _, want := range tt.errs {
				assert.Contains(t, err.Error(), want)
			}
		})
	}

	// Paths outside the other project's are fine.
	_, err := Compute(spec("shop", fn("api", sha('2'), "PUT /shop/{slug}", "GET /postscript", "GET /feed/", "GET /")), deployed(other))
	assert.NoError(t, err)
}

// TestComputeRouteOwnership reproduces issue 9's route hijack (Found 7):
// project "thief" deploying GET /victim/login beside project "victim"'s
// GET /victim/{op} took those requests, as a literal beats a parameter. A
// project owns the paths its routes claim; another project's route on them
// is refused, naming the owner.
func TestComputeRouteOwnership(t *testing.T) {
	victim := spec("victim", fn("ops", sha('1'), "GET /victim/{op}", "GET /pages/about"))
	for _, tc := range []struct {
		name, route string
		want        string // "" when the deploy is allowed
	}{
		{"the hijack", "GET /victim/login", `route GET /victim/login of function "steal" overlaps GET /victim/{op} of project "victim" (function "ops"): project "victim" owns /victim/ and every path under it`},
		{"another method", "POST /victim/login", `overlaps GET /victim/{op} of project "victim"`},
		{"deeper under the prefix", "GET /victim/a/b", `project "victim" owns /victim/`},
		{"the prefix itself", "/victim", `project "victim" owns /victim/`},
		{"a wider claim", "GET /pages/{p}", `overlaps GET /pages/about of project "victim" (function "ops"): it would take /pages/ and every path under it, where project "victim" serves /pages/about`},
		{"a root catch-all", "/{rest...}", `it would take / and every path under it, where project "victim" serves`},
		{"beside a literal path", "GET /pages/contact", ""},
		{"a different prefix", "GET /victimised/{x}", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compute(spec("thief", fn("steal", sha('2'), tc.route)), deployed(victim))
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, store.ErrConflict)
			assert.Contains(t, err.Error(), tc.want)
		})
	}

	// The owner redeploys and extends its own routes freely.
	_, err := Compute(spec("victim", fn("ops", sha('3'), "GET /victim/{op}", "GET /victim/login", "POST /victim/{op}/x")), deployed(victim))
	require.NoError(t, err)

	// First deploy wins: once thief holds a prefix, victim cannot take it.
	thief := spec("thief", fn("steal", sha('2'), "GET /shared/{x}"))
	_, err = Compute(spec("victim", fn("ops", sha('1'), "GET /shared/login")), deployed(thief))
	require.ErrorIs(t, err, store.ErrConflict)
	assert.Contains(t, err.Error(), `project "thief" owns /shared/`)
}

func TestComputeRejectsInvalidSpec(t *testing.T) {
	_, err := Compute(spec("shop"), State{})
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrInvalidSpec))
}

func TestApplyParamsEmptyRoutesIsNotNil(t *testing.T) {
	s := spec("shop", fn("api", sha('1')))
	p, err := Compute(s, State{})
	require.NoError(t, err)
	ap := p.ApplyParams(s, testNow)
	assert.NotNil(t, ap.Routes)
	assert.Empty(t, ap.Routes)
}

// TestComputeEventsChange: flipping events: is a change of its own that
// the plan names, and a new Lambda-shaped function says so.
func TestComputeEventsChange(t *testing.T) {
	before := spec("shop", fn("api", sha('1'), "GET /a"))
	after := spec("shop", fn("api", sha('1'), "GET /a"), fn("worker", sha('2')))
	after.Functions[0].Config.Events = record.EventsLambda
	after.Functions[1].Config.Events = record.EventsLambda
	p, err := Compute(after, deployed(before))
	require.NoError(t, err)
	require.Equal(t, []string{"api"}, names(p.Change))
	assert.Equal(t, []string{"events cloudevents→lambda"}, p.Change[0].Fields)
	require.Equal(t, []string{"worker"}, names(p.Add))
	assert.Contains(t, p.Add[0].Fields, "events lambda")
}
