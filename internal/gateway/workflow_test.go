package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/route"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
	"github.com/stratahq/strata/sdk/go/wire"
)

// fakeStarter keeps executions in memory the way the engine promises to:
// an id that exists returns its execution (created false), an empty id
// gets a new one. err, when set, is returned instead.
type fakeStarter struct {
	mu    sync.Mutex
	got   []flow.StartParams
	execs map[string]*record.FlowExecution
	err   error
}

var _ WorkflowStarter = (*fakeStarter)(nil)

func (f *fakeStarter) Start(ctx context.Context, p flow.StartParams) (*record.FlowExecution, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, p)
	if f.err != nil {
		return nil, false, f.err
	}
	if f.execs == nil {
		f.execs = map[string]*record.FlowExecution{}
	}
	if ex, ok := f.execs[p.ID]; ok && p.ID != "" {
		if ex.Project != p.Project {
			// As the engine: another project's id is taken, no more.
			return nil, false, fmt.Errorf("%w: %q is in use by another execution", flow.ErrIDTaken, p.ID)
		}
		return ex, false, nil
	}
	id := p.ID
	if id == "" {
		id = fmt.Sprintf("gen-%d", len(f.execs)+1)
	}
	ex := &record.FlowExecution{ID: id, Project: p.Project, Workflow: p.Workflow, Function: "orders", Run: 1, Status: record.FlowRunning, Input: p.Input}
	f.execs[id] = ex
	return ex, true, nil
}

// Get reads an execution of project the way the engine does: another
// project's is not found.
func (f *fakeStarter) Get(ctx context.Context, project, id string) (*record.FlowExecution, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ex, ok := f.execs[id]
	if !ok || ex.Project != project {
		return nil, fmt.Errorf("execution %s: %w", id, store.ErrNotFound)
	}
	cp := *ex
	return &cp, nil
}

func (f *fakeStarter) calls() []flow.StartParams {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]flow.StartParams(nil), f.got...)
}

// workflowRoutes: POST /orders starts fulfil (rate limited), GET
// /orders/{id} invokes orders.
var workflowRoutes = []record.Route{
	{Project: "shop", Method: "POST", Path: "/orders", Function: "orders", Workflow: "fulfil", RateLimit: 1, RateBurst: 3},
	{Project: "shop", Method: "PUT", Path: "/approvals/{id}", Function: "orders", Workflow: "approval"},
	{Project: "shop", Method: "GET", Path: "/orders/{id}", Function: "orders"},
}

// newWorkflowGW serves workflowRoutes through the real router.
func newWorkflowGW(t *testing.T, cfg Config) *Gateway {
	t.Helper()
	if cfg.Invoker == nil {
		cfg.Invoker = &fakeInvoker{resp: &wire.Response{Status: 200}}
	}
	g := New(cfg)
	r, err := route.NewRouter(workflowRoutes)
	require.NoError(t, err)
	g.SetRouter(r, workflowRoutes)
	return g
}

func serve(g *Gateway, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	return rec
}

func decodeStart(t *testing.T, rec *httptest.ResponseRecorder) StartResponse {
	t.Helper()
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var res StartResponse
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &res), rec.Body.String())
	return res
}

func TestWorkflowRouteStartsExecution(t *testing.T) {
	inv := &fakeInvoker{resp: &wire.Response{Status: 200}}
	st := &fakeStarter{}
	g := newWorkflowGW(t, Config{Invoker: inv, Workflows: st, Executions: st, StatusKey: testStatusKey})

	req := httptest.NewRequest("POST", "/orders", strings.NewReader(`{"order": 42, "items": ["a"]}`))
	req.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	rec := serve(g, req)

	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	assert.Equal(t, StartResponse{ID: "gen-1", Workflow: "fulfil", Status: "running", Created: true}, decodeStart(t, rec))
	assert.Equal(t, ExecutionStatusPath+g.statusLink("shop", "gen-1"), rec.Header().Get("Location"))
	assert.Equal(t, []flow.StartParams{{
		Workflow:    "fulfil",
		Input:       []byte(`{"order": 42, "items": ["a"]}`),
		TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		Project:     "shop",
	}}, st.calls())
	assert.Empty(t, inv.got.Function, "a workflow route invoked its function")

	// The same gateway still invokes plain routes.
	rec = serve(g, httptest.NewRequest("GET", "/orders/7", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "orders", inv.got.Function)
	assert.Len(t, st.calls(), 1)
}

func TestWorkflowRouteIdempotencyKey(t *testing.T) {
	st := &fakeStarter{}
	g := newWorkflowGW(t, Config{Workflows: st, Executions: st, StatusKey: testStatusKey})
	start := func(key, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("PUT", "/approvals/9", strings.NewReader(body))
		if key != "" {
			req.Header.Set(HeaderIdempotencyKey, key)
		}
		return serve(g, req)
	}

	first := start("order-42", `true`)
	require.Equal(t, http.StatusAccepted, first.Code, first.Body.String())
	assert.Equal(t, StartResponse{ID: "order-42", Workflow: "approval", Status: "running", Created: true}, decodeStart(t, first))
	assert.Equal(t, ExecutionStatusPath+g.statusLink("shop", "order-42"), first.Header().Get("Location"))

	// A retry finds the execution: 200, created false, nothing new started.
	again := start("order-42", `false`)
	require.Equal(t, http.StatusOK, again.Code, again.Body.String())
	assert.Equal(t, StartResponse{ID: "order-42", Workflow: "approval", Status: "running", Created: false}, decodeStart(t, again))
	assert.Equal(t, first.Header().Get("Location"), again.Header().Get("Location"))
	assert.Equal(t, []byte("true"), st.execs["order-42"].Input)

	// Without the header every request starts its own execution.
	a, b := start("", `1`), start("", `2`)
	require.Equal(t, http.StatusAccepted, a.Code)
	require.Equal(t, http.StatusAccepted, b.Code)
	assert.NotEqual(t, decodeStart(t, a).ID, decodeStart(t, b).ID)

	// The Location is one path segment, whatever the id holds, and
	// reads that execution.
	odd := start("tenant/7 ?#", `{}`)
	require.Equal(t, http.StatusAccepted, odd.Code)
	loc := odd.Header().Get("Location")
	assert.NotContains(t, strings.TrimPrefix(loc, ExecutionStatusPath), "/")
	rec := serve(g, httptest.NewRequest("GET", loc, nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"id":"tenant/7 ?#","workflow":"approval","status":"running"}`, rec.Body.String())

	calls := st.calls()
	require.Len(t, calls, 5)
	assert.Equal(t, []string{"order-42", "order-42", "", "", "tenant/7 ?#"},
		[]string{calls[0].ID, calls[1].ID, calls[2].ID, calls[3].ID, calls[4].ID})
}

func TestWorkflowRouteInput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   string
		status int
		input  []byte // what the engine gets, when it is called
		want   string // in the error body
	}{
		{name: "empty is null", body: "", status: 202, input: nil},
		{name: "whitespace is null", body: " \r\n\t", status: 202, input: nil},
		{name: "null", body: "null", status: 202, input: []byte("null")},
		{name: "string", body: `"x"`, status: 202, input: []byte(`"x"`)},
		{name: "not json", body: "order=42", status: 400, want: `the request body is the input of workflow "fulfil" and must be JSON (or empty for null): invalid character 'o' looking for beginning of value`},
		{name: "truncated", body: `{"order": 4`, status: 400, want: "must be JSON (or empty for null): unexpected end of JSON input"},
		{name: "two values", body: `{} {}`, status: 400, want: "must be JSON"},
		{name: "over the gateway cap", body: `"` + strings.Repeat("x", 1024) + `"`, status: 413, want: "over the 1024 byte limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &fakeStarter{}
			g := newWorkflowGW(t, Config{Workflows: st, MaxBody: 1024})
			rec := serve(g, httptest.NewRequest("POST", "/orders", strings.NewReader(tc.body)))
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			if tc.status != http.StatusAccepted {
				assert.Empty(t, st.calls(), "the engine was called for a bad request")
				var eb apitype.ErrorBody
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &eb))
				assert.Contains(t, eb.Error, tc.want)
				assert.Equal(t, tc.status, eb.Status)
				return
			}
			require.Len(t, st.calls(), 1)
			assert.Equal(t, tc.input, st.calls()[0].Input)
		})
	}
}

// TestWorkflowRouteBodyCap: a workflow's input is capped at flow.MaxPayload
// even where the gateway allows larger bodies, with or without a
// Content-Length.
func TestWorkflowRouteBodyCap(t *testing.T) {
	st := &fakeStarter{}
	g := newWorkflowGW(t, Config{Workflows: st}) // MaxBody: 6 MiB
	fits := `"` + strings.Repeat("x", flow.MaxPayload-2) + `"`
	over := `"` + strings.Repeat("x", flow.MaxPayload-1) + `"`

	rec := serve(g, httptest.NewRequest("POST", "/orders", strings.NewReader(fits)))
	require.Equal(t, http.StatusAccepted, rec.Code)

	rec = serve(g, httptest.NewRequest("POST", "/orders", strings.NewReader(over)))
	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	assert.Contains(t, rec.Body.String(), fmt.Sprintf("request body of %d bytes is over the %d byte limit of a workflow's input", len(over), flow.MaxPayload))

	// Chunked: no length up front, cut off while reading.
	req := httptest.NewRequest("POST", "/orders", io.MultiReader(strings.NewReader(over)))
	require.EqualValues(t, -1, req.ContentLength)
	rec = serve(g, req)
	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	assert.Contains(t, rec.Body.String(), fmt.Sprintf("over the %d byte limit", flow.MaxPayload))

	calls := st.calls()
	require.Len(t, calls, 1)
	assert.Len(t, calls[0].Input, flow.MaxPayload)
}

func TestWorkflowRouteErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
	}{
		{"unknown workflow", fmt.Errorf("%w: fulfil", flow.ErrUnknownWorkflow), 404},
		{"bad id", fmt.Errorf("execution id %q: %w", "x", flow.ErrBadInput), 400},
		{"payload too large", fmt.Errorf("input: %w", flow.ErrPayloadTooLarge), 413},
		{"store down", errors.New("database is locked"), 500},
		{"client gone", context.Canceled, statusClientClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newWorkflowGW(t, Config{Workflows: &fakeStarter{err: tc.err}})
			rec := serve(g, httptest.NewRequest("POST", "/orders", strings.NewReader(`{}`)))
			require.Equal(t, tc.status, rec.Code)
			var eb apitype.ErrorBody
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &eb))
			assert.Equal(t, tc.err.Error(), eb.Error)
			assert.Empty(t, rec.Header().Get("Location"))
		})
	}
}

func TestWorkflowRouteWithoutStarter(t *testing.T) {
	inv := &fakeInvoker{resp: &wire.Response{Status: 200}}
	g := newWorkflowGW(t, Config{Invoker: inv})
	rec := serve(g, httptest.NewRequest("POST", "/orders", strings.NewReader(`{}`)))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Contains(t, rec.Body.String(), "workflow routes are not available on this node")
	assert.Empty(t, inv.got.Function, "a workflow route fell back to invoking its function")
}

func TestWorkflowRouteRateLimit(t *testing.T) {
	st := &fakeStarter{}
	g := newWorkflowGW(t, Config{Workflows: st})
	var codes []int
	for range 5 {
		rec := serve(g, httptest.NewRequest("POST", "/orders", strings.NewReader(`{}`)))
		codes = append(codes, rec.Code)
	}
	// A burst of 3, then 1/s refuses the rest at once, before any start.
	assert.Equal(t, []int{202, 202, 202, 429, 429}, codes)
	assert.Len(t, st.calls(), 3)
}

func TestStatusMappingFlow(t *testing.T) {
	for err, want := range map[error]int{
		fmt.Errorf("x: %w", flow.ErrUnknownWorkflow): 404,
		fmt.Errorf("x: %w", flow.ErrBadInput):        400,
		fmt.Errorf("x: %w", flow.ErrPayloadTooLarge): 413,
		fmt.Errorf("x: %w", store.ErrClosed):         409,
		fmt.Errorf("x: %w", store.ErrRunning):        409,
	} {
		assert.Equal(t, want, Status(err), err.Error())
	}
}

// suspender is an orchestrator whose executions wait for ever (nothing in
// these tests needs them to run).
type suspender struct{}

func (suspender) Orchestrate(context.Context, *flow.Run) (flow.Outcome, error) {
	return flow.Outcome{Suspended: true}, nil
}

// Issue 9, Found 2: an HTTP start through a workflow route, with no token
// and the id of another project's execution as its Idempotency-Key, was
// answered 200 with that execution's workflow name and status. With the
// real engine and a real SQLite store: it is a 409 that names only the
// key; so is a key held by the same project's execution of another
// workflow; a key of the route's own workflow is still the idempotent 200.
func TestWorkflowRouteIdempotencyKeyOfAnotherExecution(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	refs := map[string]flow.WorkflowRef{
		"fulfil":   {Function: "orders", Project: "shop"},
		"approval": {Function: "orders", Project: "shop"},
		"payroll":  {Function: "hr", Project: "victim"},
	}
	eng := flow.New(flow.Config{
		Store: st, Orchestrator: suspender{}, Invoker: &fakeInvoker{resp: &wire.Response{Status: 200}},
		Workflows: func(name string) (flow.WorkflowRef, bool) { r, ok := refs[name]; return r, ok },
		ProjectOf: func(fn string) string { return map[string]string{"orders": "shop", "hr": "victim"}[fn] },
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	t.Cleanup(eng.Close)
	_, created, err := eng.Start(ctx, flow.StartParams{Workflow: "payroll", ID: "salaries-2026", Project: "victim"})
	require.NoError(t, err)
	require.True(t, created)
	_, _, err = eng.Start(ctx, flow.StartParams{Workflow: "fulfil", ID: "order-7", Project: "shop"})
	require.NoError(t, err)

	g := newWorkflowGW(t, Config{Workflows: eng})
	start := func(key string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("PUT", "/approvals/1", strings.NewReader(`true`))
		req.Header.Set(HeaderIdempotencyKey, key)
		return serve(g, req)
	}
	for _, key := range []string{"salaries-2026", "order-7"} {
		t.Run(key, func(t *testing.T) {
			rec := start(key)
			require.Equal(t, http.StatusConflict, rec.Code, rec.Body.String())
			var eb apitype.ErrorBody
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &eb), rec.Body.String())
			assert.Equal(t, `execution id taken: "`+key+`" is in use by another execution; start with another id (or none for a new one)`, eb.Error)
			for _, leak := range []string{"payroll", "victim", "fulfil", "running", "hr"} {
				assert.NotContains(t, rec.Body.String(), leak)
			}
			assert.Empty(t, rec.Header().Get("Location"))
		})
	}

	first := start("approval-1")
	require.Equal(t, http.StatusAccepted, first.Code, first.Body.String())
	again := start("approval-1")
	require.Equal(t, http.StatusOK, again.Code, again.Body.String())
	assert.Equal(t, StartResponse{ID: "approval-1", Workflow: "approval", Status: "running", Created: false}, decodeStart(t, again))

	// The victim's execution is untouched.
	ex, err := eng.Get(ctx, "victim", "salaries-2026")
	require.NoError(t, err)
	assert.Equal(t, "payroll", ex.Workflow)
	assert.Equal(t, 1, ex.HistoryLen)
}

var testStatusKey = []byte("0123456789abcdef0123456789abcdef")

// TestExecutionStatusLink: the Location of a workflow route is a public
// path that shows that execution's status and output, nothing more, and
// nothing of any other execution: guessed, altered, forged and other
// projects' links all get the same 404.
func TestExecutionStatusLink(t *testing.T) {
	st := &fakeStarter{}
	g := newWorkflowGW(t, Config{Workflows: st, Executions: st, StatusKey: testStatusKey})
	// Another project's execution, with its output, in the same engine.
	st.execs = map[string]*record.FlowExecution{
		"acme-1": {ID: "acme-1", Project: "acme", Workflow: "payroll", Status: record.FlowCompleted, Input: []byte(`{"salary":1}`), Output: []byte(`{"paid":true}`)},
	}

	req := httptest.NewRequest("POST", "/orders", strings.NewReader(`{"card":"4242"}`))
	req.Header.Set(HeaderIdempotencyKey, "order-1")
	rec := serve(g, req)
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	loc := rec.Header().Get("Location")
	require.True(t, strings.HasPrefix(loc, ExecutionStatusPath), loc)
	require.NotContains(t, loc, "/_strata/api/", "public callers cannot use the admin API")

	get := func(path string) *httptest.ResponseRecorder { return serve(g, httptest.NewRequest("GET", path, nil)) }
	rec = get(loc)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"id":"order-1","workflow":"fulfil","status":"running"}`, rec.Body.String(), "status only: no input")
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))

	st.mu.Lock()
	st.execs["order-1"].Status = record.FlowCompleted
	st.execs["order-1"].Output = []byte(`{"shipped":true}`)
	st.mu.Unlock()
	rec = get(loc)
	assert.JSONEq(t, `{"id":"order-1","workflow":"fulfil","status":"completed","output":{"shipped":true}}`, rec.Body.String())

	const notFound = `{"error":"no such execution (a status link is the Location a workflow route answered)","status":404}` + "\n"
	link := strings.TrimPrefix(loc, ExecutionStatusPath)
	mac, payload, _ := strings.Cut(link, ".")
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	other := &Gateway{cfg: Config{StatusKey: []byte("another node's key, or a guess..")}}
	flip := []byte(mac)
	flip[0] ^= 1
	for name, path := range map[string]string{
		"the execution id alone":                ExecutionStatusPath + "order-1",
		"the id with another execution's MAC":   ExecutionStatusPath + mac + "." + b64("acme\x00acme-1"),
		"the id with another project's MAC":     ExecutionStatusPath + mac + "." + b64("acme\x00order-1"),
		"a flipped MAC bit":                     ExecutionStatusPath + string(flip) + "." + payload,
		"a truncated MAC":                       ExecutionStatusPath + mac[:len(mac)-2] + "." + payload,
		"no MAC":                                ExecutionStatusPath + "." + payload,
		"signed with another key":               ExecutionStatusPath + other.statusLink("acme", "acme-1"),
		"a link of an execution that is gone":   ExecutionStatusPath + g.statusLink("shop", "never-started"),
		"not base64":                            ExecutionStatusPath + "!!!.???",
		"the listing":                           ExecutionStatusPath,
		"a MAC for a payload without separator": ExecutionStatusPath + base64.RawURLEncoding.EncodeToString(g.statusMAC("acme-1")) + "." + b64("acme-1"),
	} {
		rec := get(path)
		assert.Equal(t, http.StatusNotFound, rec.Code, name)
		assert.Equal(t, notFound, rec.Body.String(), "%s: every refusal reads the same", name)
	}

	// A start in shop whose Idempotency-Key names acme's execution is
	// refused (the engine's rule) and gets no link.
	req = httptest.NewRequest("POST", "/orders", strings.NewReader(`{}`))
	req.Header.Set(HeaderIdempotencyKey, "acme-1")
	rec = serve(g, req)
	assert.Equal(t, http.StatusConflict, rec.Code, rec.Body.String())
	assert.Empty(t, rec.Header().Get("Location"))
	assert.NotContains(t, rec.Body.String(), "payroll")

	rec = serve(g, httptest.NewRequest("POST", loc, nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
}

// TestWorkflowRouteWithoutStatusLinks: a gateway that cannot sign links
// answers no Location rather than one the caller cannot use.
func TestWorkflowRouteWithoutStatusLinks(t *testing.T) {
	st := &fakeStarter{}
	g := newWorkflowGW(t, Config{Workflows: st})
	rec := serve(g, httptest.NewRequest("POST", "/orders", strings.NewReader(`{}`)))
	require.Equal(t, http.StatusAccepted, rec.Code)
	assert.Empty(t, rec.Header().Get("Location"))
}
