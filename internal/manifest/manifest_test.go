package manifest

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/deploy"
	"github.com/stratahq/strata/internal/record"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// TestGolden parses every testdata/*.yaml. Files named ok_* must parse; their
// golden file is the parsed result as JSON. All others must fail; their
// golden file is the error text users see.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	require.NoError(t, err)
	var bad int
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			m, err := Load(file)
			var got string
			if strings.HasPrefix(name, "ok_") {
				require.NoError(t, err)
				got = goldenJSON(t, m)
			} else {
				bad++
				require.Error(t, err)
				var errs Errors
				require.ErrorAs(t, err, &errs)
				require.NotEmpty(t, errs)
				for _, e := range errs {
					assert.Equal(t, file, e.File)
					assert.Positive(t, e.Line, "every problem in a file has a position: %v", e)
					assert.Positive(t, e.Column, "every problem in a file has a position: %v", e)
				}
				got = err.Error() + "\n"
			}
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to create it")
			assert.Equal(t, string(want), got)
		})
	}
	assert.GreaterOrEqual(t, bad, 15, "keep at least 15 bad manifests")
}

// goldenJSON renders a manifest with paths relative to testdata, so golden
// files do not depend on where the checkout lives.
func goldenJSON(t *testing.T, m *Manifest) string {
	t.Helper()
	base, err := filepath.Abs("testdata")
	require.NoError(t, err)
	rel := func(p string) string {
		if p == "" {
			return ""
		}
		r, err := filepath.Rel(base, p)
		require.NoError(t, err)
		return filepath.ToSlash(r)
	}
	type fnView struct {
		Function
		Timeout string                `json:"timeout"`
		Config  record.FunctionConfig `json:"config"`
	}
	view := struct {
		Path, Dir, Project string
		Queues             []Queue        `json:",omitempty"`
		Topics             []Topic        `json:",omitempty"`
		Databases          []Database     `json:",omitempty"`
		KV                 []KVNamespace  `json:",omitempty"`
		Secrets            []string       `json:",omitempty"`
		Workflows          []Workflow     `json:",omitempty"`
		Objects            []Object       `json:",omitempty"`
		StateMachines      []StateMachine `json:",omitempty"`
		Functions          []fnView
	}{rel(m.Path), rel(m.Dir), m.Project, m.Queues, m.Topics, m.Databases, m.KV, m.Secrets, m.Workflows, m.Objects, nil, nil}
	for _, sm := range m.StateMachines {
		sm.File = rel(sm.File)
		view.StateMachines = append(view.StateMachines, sm)
	}
	for _, f := range m.Functions {
		f.Source, f.Wasm = rel(f.Source), rel(f.Wasm)
		view.Functions = append(view.Functions, fnView{Function: f, Timeout: f.Timeout.String(), Config: f.Config()})
	}
	out, err := json.MarshalIndent(view, "", "  ")
	require.NoError(t, err)
	return string(out) + "\n"
}

func TestParseErrorFormat(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "hello"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hello", "main.go"), []byte("package main\n"), 0o644))
	path := filepath.Join(dir, "strata.yaml")
	// The example from the docs: line 7, column 5... of the value "lots".
	data := "project: hello\n\nfunctions:\n  hello:\n    source: ./hello\n    timeout: 10s\n    memory: lots\n"
	require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
	_, err := Parse("strata.yaml", []byte(data))
	require.Error(t, err) // ./hello is not next to the working directory
	_, err = Load(path)
	require.Error(t, err)
	var e *Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, 7, e.Line)
	assert.Equal(t, 13, e.Column)
	assert.Equal(t, "functions.hello.memory", e.Field)
	assert.Equal(t, path+`:7:13: functions.hello.memory: must be an integer number of MB between 16 and 4096, got "lots"`, e.Error())
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "hello"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hello", "main.go"), []byte("package main\n"), 0o644))
	path := filepath.Join(dir, FileName)
	require.NoError(t, os.WriteFile(path, []byte("project: hello\nfunctions:\n  hello:\n    source: ./hello\n    routes: [GET /hi]\n    env: {K: v}\n"), 0o644))

	m, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, path, m.Path)
	assert.Equal(t, dir, m.Dir)
	f, ok := m.Function("hello")
	require.True(t, ok)
	assert.Equal(t, filepath.Join(dir, "hello"), f.Source)
	assert.Equal(t, Position{3, 3}, f.Pos)
	_, ok = m.Function("nope")
	assert.False(t, ok)

	spec, err := m.Spec(map[string]string{"hello": strings.Repeat("a", 64)})
	require.NoError(t, err)
	require.NoError(t, deploy.Validate(spec))
	assert.Equal(t, apitype.Spec{Project: "hello", Functions: []apitype.FunctionSpec{{
		Name:         "hello",
		ModuleSHA256: strings.Repeat("a", 64),
		Config:       record.FunctionConfig{Kind: "reactor", MemoryMB: 128, TimeoutMS: 10000, MaxConcurrency: 64, Env: map[string]string{"K": "v"}},
		Routes:       []apitype.RouteSpec{{Method: "GET", Path: "/hi"}},
		Retries:      deploy.DefaultRetries,
	}}}, spec)
	_, err = m.Spec(nil)
	assert.EqualError(t, err, `build spec for project "hello": no module digest for hello`)

	// Config hands out a copy: changing it leaves the manifest alone.
	f.Config().Env["K"] = "changed"
	assert.Equal(t, "v", m.Functions[0].Env["K"])
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(filepath.Join(dir, "strata.yaml"))
	require.Error(t, err)
	assert.True(t, errors.Is(err, fs.ErrNotExist))
	assert.Equal(t, filepath.Join(dir, "strata.yaml")+": cannot read manifest: no such file or directory", err.Error())

	big := filepath.Join(dir, "big.yaml")
	require.NoError(t, os.WriteFile(big, make([]byte, MaxSize+1), 0o644))
	_, err = Load(big)
	assert.EqualError(t, err, big+": manifest is larger than 1048576 bytes")
}

func TestSuggest(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"timout", "timeout"},
		{"memroy", "memory"},
		{"maxConcurrency", "max_concurrency"},
		{"max-concurrency", "max_concurrency"},
		{"ENV", "env"},
		{"route", "routes"},
		{"sources", "source"},
		{"color", ""},
		{"x", ""},
		{strings.Repeat("z", 100), ""},
	} {
		assert.Equal(t, tt.want, suggest(tt.in, functionKeys), tt.in)
	}
}

func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.yaml")
	require.NoError(f, err)
	for _, file := range files {
		data, err := os.ReadFile(file)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte("a: &a [*a]\nb: *a\n"))
	f.Add([]byte("<<: &x {<<: *x}\n"))
	f.Add([]byte("? [a]\n: b\n"))
	f.Add([]byte("project: !!str 1\nfunctions: {x: {wasm: fn/mod.wasm, env: !!map {A: !!str 1}}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse("testdata/fuzz.yaml", data)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error is not a non-empty Errors: %T %v", err, err)
			}
			for _, e := range errs {
				if e.Msg == "" {
					t.Fatalf("empty message in %v", errs)
				}
			}
			return
		}
		// A manifest that parses must make a spec the server accepts.
		digests := map[string]string{}
		for _, fn := range m.Functions {
			digests[fn.Name] = strings.Repeat("0", 64)
		}
		spec, err := m.Spec(digests)
		if err != nil {
			t.Fatal(err)
		}
		if err := deploy.Validate(spec); err != nil {
			t.Fatalf("parsed manifest makes an invalid spec: %v\n%s", err, data)
		}
	})
}

func TestMergeBomb(t *testing.T) {
	// Each level merges the previous one ten times: without a bound this
	// would copy 10^8 keys.
	var b strings.Builder
	b.WriteString("project: p\nx0: &a0 {k: v}\n")
	for i := 1; i <= 8; i++ {
		b.WriteString(fmt.Sprintf("x%d: &a%d {<<: [", i, i))
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(fmt.Sprintf("*a%d", i-1))
		}
		b.WriteString("]}\n")
	}
	b.WriteString("functions:\n  f:\n    <<: *a8\n    wasm: testdata/fn/mod.wasm\n")
	_, err := Parse("bomb.yaml", []byte(b.String()))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `merges copy more than 10000 keys`)
}

func TestSpecWithEvents(t *testing.T) {
	m, err := Load("testdata/ok_events.yaml")
	require.NoError(t, err)
	digests := map[string]string{}
	for _, f := range m.Functions {
		digests[f.Name] = strings.Repeat("a", 64)
	}
	spec, err := m.Spec(digests)
	require.NoError(t, err)
	require.NoError(t, deploy.Validate(spec))

	assert.Contains(t, spec.Queues, apitype.QueueSpec{Name: "orders", VisibilityTimeoutMS: 45000, MaxReceives: 3, DeadLetter: "orders-dlq"})
	assert.Contains(t, spec.Queues, apitype.QueueSpec{Name: "orders-dlq", VisibilityTimeoutMS: 30000, MaxReceives: 5})
	assert.Contains(t, spec.Queues, apitype.QueueSpec{Name: "audit", VisibilityTimeoutMS: 30000, MaxReceives: 5, FIFO: true})
	assert.Contains(t, spec.Topics, apitype.TopicSpec{Name: "user-signed-up", Queues: []string{"audit"}})
	assert.Contains(t, spec.Topics, apitype.TopicSpec{Name: "empty"})

	fns := map[string]apitype.FunctionSpec{}
	for _, f := range spec.Functions {
		fns[f.Name] = f
	}
	assert.Equal(t, &apitype.QueueTrigger{Name: "orders", BatchSize: 10}, fns["process-order"].Queue)
	assert.Equal(t, &apitype.QueueTrigger{Name: "audit", BatchSize: 1}, fns["audit-reader"].Queue)
	assert.Equal(t, []string{"user-signed-up", "order-placed"}, fns["audit-reader"].Topics)
	assert.Equal(t, []string{"user-signed-up"}, fns["welcome-email"].Topics)
	assert.Equal(t, &apitype.ScheduleSpec{Spec: "0 3 * * *", Timezone: "Europe/Berlin"}, fns["nightly-cleanup"].Schedule)
	assert.Equal(t, 0, fns["ticker"].Retries)
	assert.Equal(t, deploy.DefaultRetries, fns["welcome-email"].Retries)
	th := fns["thumbnail"]
	assert.Equal(t, 4, th.Config.Provisioned)
	assert.Equal(t, 10, th.Retries)
	assert.Equal(t, "orders-dlq", th.DeadLetter)
	assert.Equal(t, []apitype.RouteSpec{
		{Method: "POST", Path: "/thumb"},
		{Method: "POST", Path: "/hooks/{id}", Async: true, RateLimit: 100, RateBurst: 200},
		{Method: "GET", Path: "/slow", RateLimit: 0.5, RateBurst: 1},
		{Method: "PUT", Path: "/later", Async: true},
		{Method: "GET", Path: "/fast", RateLimit: 2.5, RateBurst: 3},
	}, th.Routes)

	// The spec plans cleanly from nothing, and the store gets every queue.
	p, err := deploy.Compute(spec, deploy.State{})
	require.NoError(t, err)
	ev := p.ApplyParams(spec, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).Events
	require.NotNil(t, ev)
	assert.Len(t, ev.Queues, 5+6+3) // user queues, one async queue per function, three subscriptions
	assert.Len(t, ev.Schedules, 2)

	// Spec hands out copies.
	fns["audit-reader"].Topics[0] = "changed"
	f, _ := m.Function("audit-reader")
	assert.Equal(t, "user-signed-up", f.Topics[0])
}

func TestSpecWithBindings(t *testing.T) {
	m, err := Load("testdata/ok_bindings.yaml")
	require.NoError(t, err)
	digests := map[string]string{}
	for _, f := range m.Functions {
		digests[f.Name] = strings.Repeat("a", 64)
	}
	spec, err := m.Spec(digests)
	require.NoError(t, err)
	require.NoError(t, deploy.Validate(spec))

	assert.Equal(t, []apitype.DatabaseSpec{
		{Name: "cache-db", Engine: "sqlite", MaxConnections: 10},
		{Name: "main", Engine: "sqlite", MaxConnections: 10},
		{Name: "orders", Engine: "postgres", URL: "${secret:ORDERS_DB_URL}", MaxConnections: 20},
		{Name: "reports", Engine: "postgres", URL: "postgres://reader:${secret:REPORTS_PASSWORD}@db.internal:5432/reports?sslmode=require", MaxConnections: 10},
	}, spec.Databases)
	assert.Equal(t, []apitype.KVSpec{{Name: "flags"}, {Name: "sessions"}}, spec.KV)
	assert.Equal(t, []string{"ORDERS_DB_URL", "REPORTS_PASSWORD", "STRIPE_KEY"}, spec.Secrets)

	fns := map[string]apitype.FunctionSpec{}
	for _, f := range spec.Functions {
		fns[f.Name] = f
	}
	api := fns["api"].Config
	assert.Equal(t, []record.Binding{
		{Name: "cache", Kind: record.BindingKV, Resource: "sessions"},
		{Name: "db", Kind: record.BindingSQL, Resource: "main"},
		{Name: "orders", Kind: record.BindingSQL, Resource: "orders"},
	}, api.Bindings)
	assert.Equal(t, []string{"STRIPE_KEY"}, api.Secrets)
	assert.Equal(t, []string{"*.example.org", "127.0.0.1:9000", "[::1]:8443", "api.stripe.com"}, api.Fetch)
	assert.True(t, api.FetchPrivate)
	plain := fns["plain"].Config
	assert.Empty(t, plain.Bindings)
	assert.Empty(t, plain.Fetch)
	assert.False(t, plain.FetchPrivate)

	// First deploy adds everything; deploying the same manifest again is a
	// no-op, with the complete binding sets still sent.
	p, err := deploy.Compute(spec, deploy.State{})
	require.NoError(t, err)
	ap := p.ApplyParams(spec, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NotNil(t, ap.Bindings)
	require.NoError(t, ap.Validate())
	st := deploy.State{Active: map[string]record.Version{}, Databases: ap.Bindings.Databases, KV: ap.Bindings.KV}
	for _, v := range ap.NewVersions {
		st.Functions = append(st.Functions, record.Function{Name: v.Function, Project: spec.Project, ActiveVersion: 1})
		st.Active[v.Function] = record.Version{Function: v.Function, Number: 1, ModuleSHA256: v.ModuleSHA256, Config: v.Config}
	}
	st.Routes = ap.Routes
	st.Queues, st.Topics, st.Schedules = ap.Events.Queues, ap.Events.Topics, ap.Events.Schedules
	again, err := deploy.Compute(spec, st)
	require.NoError(t, err)
	assert.True(t, again.Empty(), "%+v", again)

	// Reordering lists in the file makes no new version either.
	data, err := os.ReadFile("testdata/ok_bindings.yaml")
	require.NoError(t, err)
	reordered := strings.Replace(string(data), `[api.stripe.com, "*.example.org", "127.0.0.1:9000", "[::1]:8443"]`, `["[::1]:8443", "127.0.0.1:9000", "*.example.org", api.stripe.com]`, 1)
	reordered = strings.Replace(reordered, `{ db: main, orders: orders, cache: sessions, secrets: [STRIPE_KEY] }`, `{ secrets: [STRIPE_KEY], cache: sessions, orders: orders, db: main }`, 1)
	require.NotEqual(t, string(data), reordered)
	m2, err := Parse("testdata/ok_bindings.yaml", []byte(reordered))
	require.NoError(t, err)
	spec2, err := m2.Spec(digests)
	require.NoError(t, err)
	again, err = deploy.Compute(spec2, st)
	require.NoError(t, err)
	assert.True(t, again.Empty())

	// Spec hands out copies.
	api.Fetch[0] = "changed"
	f, _ := m.Function("api")
	assert.NotContains(t, f.Fetch, "changed")
}

// TestSpecStateMachines: the deploy spec carries each machine's type and
// its definition as JSON, a YAML file converted.
func TestSpecStateMachines(t *testing.T) {
	m, err := Load("testdata/ok_state_machines.yaml")
	require.NoError(t, err)
	s, err := m.Spec(map[string]string{"api": strings.Repeat("a", 64)})
	require.NoError(t, err)
	require.Len(t, s.StateMachines, 2)
	require.Equal(t, "nightly-report", s.StateMachines[0].Name)
	require.Equal(t, record.StateMachineStandard, s.StateMachines[0].Type)
	require.JSONEq(t, `{"StartAt":"Wait","States":{"Wait":{"Type":"Pass","End":true}}}`, s.StateMachines[0].Definition)
	require.Equal(t, record.StateMachineExpress, s.StateMachines[1].Type)
	require.NoError(t, deploy.Validate(s))
}
