package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/api"
	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
)

// memFlows is an in-memory engine with the semantics the API relies on:
// idempotent start, not found, closed and running errors.
type memFlows struct {
	mu        sync.Mutex
	workflows map[string]string // workflow → function
	base      time.Time
	execs     map[string]*record.FlowExecution
	order     []string                        // creation order
	history   map[string][][]record.FlowEvent // per execution, per run
	lastStart flow.StartParams
	signals   []string // "id/name=value"
	cancels   map[string]string
	restarts  []string // "id fromFailure"
}

func newMemFlows() *memFlows {
	return &memFlows{workflows: map[string]string{"fulfil": "shop"}, base: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		execs: map[string]*record.FlowExecution{}, history: map[string][][]record.FlowEvent{}, cancels: map[string]string{}}
}

func (m *memFlows) Start(ctx context.Context, p flow.StartParams) (*record.FlowExecution, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastStart = p
	fn, ok := m.workflows[p.Workflow]
	if !ok {
		return nil, false, fmt.Errorf("%w: %q", flow.ErrUnknownWorkflow, p.Workflow)
	}
	if strings.ContainsAny(p.ID, " \t") {
		return nil, false, fmt.Errorf("%w: execution id %q holds a space", flow.ErrBadInput, p.ID)
	}
	if len(p.Input) > flow.MaxPayload {
		return nil, false, fmt.Errorf("%w: input of %d bytes", flow.ErrPayloadTooLarge, len(p.Input))
	}
	if p.ID == "" {
		p.ID = "gen-" + strconv.Itoa(len(m.order)+1)
	}
	if ex, ok := m.execs[p.ID]; ok {
		c := *ex
		return &c, false, nil
	}
	at := m.base.Add(time.Duration(len(m.order)) * time.Minute)
	ex := &record.FlowExecution{ID: p.ID, Project: "shop", Workflow: p.Workflow, Function: fn, Run: 1, Status: record.FlowRunning,
		Input: p.Input, TraceID: "0af7651916cd43dd8448eb211c80319c", HistoryLen: 1, CreatedAt: at, UpdatedAt: at}
	m.execs[p.ID] = ex
	m.order = append(m.order, p.ID)
	m.history[p.ID] = [][]record.FlowEvent{{{Seq: 1, Type: "started", Name: p.Workflow, Data: []byte(`{"input":` + string(orNull(p.Input)) + `}`), Time: at}}}
	c := *ex
	return &c, true, nil
}

func orNull(b []byte) []byte {
	if len(b) == 0 {
		return []byte("null")
	}
	return b
}

func (m *memFlows) get(id string) (*record.FlowExecution, error) {
	ex, ok := m.execs[id]
	if !ok {
		return nil, store.NotFound("execution", id)
	}
	return ex, nil
}

func (m *memFlows) Get(ctx context.Context, _ string, id string) (*record.FlowExecution, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ex, err := m.get(id)
	if err != nil {
		return nil, err
	}
	c := *ex
	return &c, nil
}

func (m *memFlows) List(ctx context.Context, p store.FlowListParams) ([]record.FlowExecution, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	limit := p.Limit
	if limit == 0 {
		limit = 100
	}
	var out []record.FlowExecution
	ids := slices.Clone(m.order)
	slices.Reverse(ids)
	if p.Before != "" {
		i := slices.Index(ids, p.Before)
		if i < 0 {
			return nil, nil
		}
		ids = ids[i+1:]
	}
	for _, id := range ids {
		ex := m.execs[id]
		if (p.Workflow != "" && ex.Workflow != p.Workflow) || (p.Status != "" && ex.Status != p.Status) ||
			(p.ParentID != "" && ex.ParentID != p.ParentID) || (p.Project != "" && ex.Project != p.Project) {
			continue
		}
		if len(out) == limit {
			break
		}
		out = append(out, *ex)
	}
	return out, nil
}

func (m *memFlows) History(ctx context.Context, _ string, id string, run int) ([]record.FlowEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ex, err := m.get(id)
	if err != nil {
		return nil, err
	}
	if run == 0 {
		run = ex.Run
	}
	if run > len(m.history[id]) {
		return nil, nil
	}
	return m.history[id][run-1], nil
}

func (m *memFlows) running(id string) (*record.FlowExecution, error) {
	ex, err := m.get(id)
	if err != nil {
		return nil, err
	}
	if ex.Status != record.FlowRunning {
		return nil, &store.ExecutionStateError{ID: id, Status: ex.Status, Err: store.ErrClosed}
	}
	return ex, nil
}

func (m *memFlows) Signal(ctx context.Context, _ string, id, name string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.running(id); err != nil {
		return err
	}
	m.signals = append(m.signals, id+"/"+name+"="+string(value))
	return nil
}

func (m *memFlows) Cancel(ctx context.Context, _ string, id, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.running(id); err != nil {
		return err
	}
	m.cancels[id] = reason
	return nil
}

func (m *memFlows) Terminate(ctx context.Context, _ string, id, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ex, err := m.running(id)
	if err != nil {
		return err
	}
	ex.Status, ex.ClosedAt = record.FlowTerminated, ex.CreatedAt.Add(90*time.Second)
	ex.Error = []byte(`{"type":"Terminated","message":` + strconv.Quote(reason) + `}`)
	return nil
}

func (m *memFlows) Restart(ctx context.Context, _ string, id string, fromFailure bool) (*record.FlowExecution, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ex, err := m.get(id)
	if err != nil {
		return nil, err
	}
	if ex.Status == record.FlowRunning {
		return nil, &store.ExecutionStateError{ID: id, Status: ex.Status, Err: store.ErrRunning}
	}
	m.restarts = append(m.restarts, id+" "+strconv.FormatBool(fromFailure))
	if !fromFailure {
		ex.Run++
		m.history[id] = append(m.history[id], []record.FlowEvent{{Seq: 1, Type: "started", Name: ex.Workflow, Time: ex.CreatedAt}})
	}
	ex.Status, ex.ClosedAt, ex.Error = record.FlowRunning, time.Time{}, nil
	c := *ex
	return &c, nil
}

const testToken = "test-admin-token"

// server is the admin API over real HTTP, with tokens in a real SQLite
// store and the given engine (nil: workflows not enabled).
func server(t *testing.T, fl api.Flows) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.TokenPut(ctx, record.Token{Hash: api.HashToken(testToken), Name: "test"}))
	srv := httptest.NewServer(api.New(api.Config{Store: st, Flows: fl}))
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	status int
	body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal(a.body, &v), "body: %s", a.body)
	return v
}

// call sends one request with the test token (token "" sends none).
func call(t *testing.T, srv *httptest.Server, token, method, path, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+apitype.Prefix+path, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{resp.StatusCode, b}
}

func do(t *testing.T, srv *httptest.Server, method, path, body string) answer {
	t.Helper()
	return call(t, srv, testToken, method, path, body)
}

var flowEndpoints = []struct{ method, path, body string }{
	{"POST", "/executions", `{"workflow":"fulfil"}`},
	{"GET", "/executions", ""},
	{"GET", "/executions/x", ""},
	{"GET", "/executions/x/history", ""},
	{"POST", "/executions/x/signals/go", "true"},
	{"POST", "/executions/x/cancel", "{}"},
	{"POST", "/executions/x/terminate", "{}"},
	{"POST", "/executions/x/restart", "{}"},
}

func TestExecutionsNeedToken(t *testing.T) {
	fl := newMemFlows()
	srv := server(t, fl)
	for _, e := range flowEndpoints {
		for _, tok := range []string{"", "wrong-token"} {
			t.Run(e.method+" "+e.path+" token="+tok, func(t *testing.T) {
				a := call(t, srv, tok, e.method, e.path, e.body)
				require.Equal(t, http.StatusUnauthorized, a.status, "%s", a.body)
			})
		}
	}
	require.Empty(t, fl.order, "nothing may start without a token")
}

func TestExecutionsNotEnabled(t *testing.T) {
	srv := server(t, nil)
	for _, e := range flowEndpoints {
		t.Run(e.method+" "+e.path, func(t *testing.T) {
			a := do(t, srv, e.method, e.path, e.body)
			require.Equal(t, http.StatusServiceUnavailable, a.status)
			require.Contains(t, a.json(t)["error"], "workflows are not enabled")
			// Without a token it is still 401: nothing is told to strangers.
			require.Equal(t, http.StatusUnauthorized, call(t, srv, "", e.method, e.path, e.body).status)
		})
	}
}

func TestExecutionStart(t *testing.T) {
	fl := newMemFlows()
	srv := server(t, fl)

	a := do(t, srv, "POST", "/executions", `{"workflow":"fulfil","id":"order-42","input":{"order":42,"items":["a"]}}`)
	require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
	v := a.json(t)
	require.Equal(t, "order-42", v["id"])
	require.Equal(t, "fulfil", v["workflow"])
	require.Equal(t, "shop", v["function"])
	require.Equal(t, "running", v["status"])
	require.EqualValues(t, 1, v["run"])
	// Input is embedded as JSON, not base64.
	require.Equal(t, map[string]any{"order": float64(42), "items": []any{"a"}}, v["input"])
	require.Nil(t, v["output"])
	require.NotContains(t, v, "closed_at", "a running execution has no closed_at")
	require.Equal(t, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", fl.lastStart.TraceParent)

	// Idempotent on the id: 200 and the existing execution, not a new one.
	a = do(t, srv, "POST", "/executions", `{"workflow":"fulfil","id":"order-42","input":{"order":43}}`)
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	require.Equal(t, map[string]any{"order": float64(42), "items": []any{"a"}}, a.json(t)["input"])
	require.Len(t, fl.order, 1)

	// No id, no input: the engine picks the id; input is absent (null).
	a = do(t, srv, "POST", "/executions", `{"workflow":"fulfil"}`)
	require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
	require.Equal(t, "gen-2", a.json(t)["id"])
	require.Nil(t, fl.lastStart.Input)

	big := `{"workflow":"fulfil","input":"` + strings.Repeat("x", flow.MaxPayload) + `"}`
	huge := `{"workflow":"fulfil","input":"` + strings.Repeat("x", flow.MaxPayload+128<<10) + `"}`
	for _, tc := range []struct {
		name, body string
		status     int
		msg        string
	}{
		{"unknown workflow", `{"workflow":"nope"}`, http.StatusNotFound, "unknown workflow"},
		{"missing workflow", `{"input":1}`, http.StatusBadRequest, "workflow is missing"},
		{"body not JSON", `{"workflow":`, http.StatusBadRequest, "start wants"},
		{"bad id", `{"workflow":"fulfil","id":"a b"}`, http.StatusBadRequest, "bad input"},
		{"input over the limit", big, http.StatusRequestEntityTooLarge, "payload too large"},
		{"body over the limit", huge, http.StatusRequestEntityTooLarge, "byte limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, srv, "POST", "/executions", tc.body)
			require.Equal(t, tc.status, a.status, "%s", a.body)
			v := a.json(t)
			require.Contains(t, v["error"], tc.msg)
			require.EqualValues(t, tc.status, v["status"])
		})
	}
	require.Len(t, fl.order, 2)
}

func TestExecutionGetAndHistory(t *testing.T) {
	fl := newMemFlows()
	srv := server(t, fl)
	require.Equal(t, http.StatusCreated, do(t, srv, "POST", "/executions", `{"workflow":"fulfil","id":"o1","input":[1,2]}`).status)

	a := do(t, srv, "GET", "/executions/o1", "")
	require.Equal(t, http.StatusOK, a.status)
	v := a.json(t)
	for _, k := range []string{"id", "workflow", "function", "project", "run", "status", "input", "output", "error",
		"trace_id", "parent_id", "parent_step", "history_len", "created_at", "updated_at"} {
		require.Contains(t, v, k)
	}
	require.Equal(t, []any{float64(1), float64(2)}, v["input"])
	require.Equal(t, "2026-03-01T12:00:00Z", v["created_at"])

	a = do(t, srv, "GET", "/executions/o1/history", "")
	require.Equal(t, http.StatusOK, a.status)
	var h struct {
		Events []map[string]any `json:"events"`
	}
	require.NoError(t, json.Unmarshal(a.body, &h))
	require.Len(t, h.Events, 1)
	require.Equal(t, map[string]any{"seq": float64(1), "type": "started", "step": float64(0), "name": "fulfil",
		"data": map[string]any{"input": []any{float64(1), float64(2)}}, "time": "2026-03-01T12:00:00Z"}, h.Events[0])

	// A second run; ?run=1 still reads the first.
	require.Equal(t, http.StatusOK, do(t, srv, "POST", "/executions/o1/terminate", `{"reason":"r"}`).status)
	require.Equal(t, http.StatusOK, do(t, srv, "POST", "/executions/o1/restart", "").status)
	require.NoError(t, json.Unmarshal(do(t, srv, "GET", "/executions/o1/history?run=1", "").body, &h))
	require.NotNil(t, h.Events[0]["data"])
	require.NoError(t, json.Unmarshal(do(t, srv, "GET", "/executions/o1/history", "").body, &h))
	require.Nil(t, h.Events[0]["data"], "the current run is the second")

	for _, tc := range []struct {
		name, path string
		status     int
		msg        string
	}{
		{"unknown execution", "/executions/nope", http.StatusNotFound, `execution "nope" not found`},
		{"history of unknown execution", "/executions/nope/history", http.StatusNotFound, `execution "nope" not found`},
		{"bad run", "/executions/o1/history?run=x", http.StatusBadRequest, "run must be"},
		{"negative run", "/executions/o1/history?run=-1", http.StatusBadRequest, "run must be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, srv, "GET", tc.path, "")
			require.Equal(t, tc.status, a.status, "%s", a.body)
			require.Contains(t, a.json(t)["error"], tc.msg)
		})
	}
}

func TestExecutionList(t *testing.T) {
	fl := newMemFlows()
	fl.workflows["approval"] = "approvals"
	srv := server(t, fl)

	a := do(t, srv, "GET", "/executions", "")
	require.Equal(t, http.StatusOK, a.status)
	require.JSONEq(t, `{"executions":[]}`, string(a.body), "an empty list is [], not null")

	for i, wf := range []string{"fulfil", "approval", "fulfil", "fulfil"} {
		require.Equal(t, http.StatusCreated, do(t, srv, "POST", "/executions", fmt.Sprintf(`{"workflow":%q,"id":"e%d"}`, wf, i+1)).status)
	}
	require.Equal(t, http.StatusOK, do(t, srv, "POST", "/executions/e3/terminate", "").status)

	ids := func(path string) []string {
		a := do(t, srv, "GET", path, "")
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		var out struct {
			Executions []apitype.ExecutionInfo `json:"executions"`
		}
		require.NoError(t, json.Unmarshal(a.body, &out))
		var ids []string
		for _, e := range out.Executions {
			ids = append(ids, e.ID)
		}
		return ids
	}
	require.Equal(t, []string{"e4", "e3", "e2", "e1"}, ids("/executions"))
	require.Equal(t, []string{"e4", "e3", "e1"}, ids("/executions?workflow=fulfil"))
	require.Equal(t, []string{"e3"}, ids("/executions?status=terminated"))
	require.Equal(t, []string{"e4", "e3"}, ids("/executions?limit=2"))
	require.Equal(t, []string{"e2", "e1"}, ids("/executions?before=e3"))
	require.Equal(t, []string{"e4", "e2", "e1"}, ids("/executions?status=running&limit=3"))

	for _, path := range []string{"/executions?status=runing", "/executions?limit=0", "/executions?limit=1001", "/executions?limit=x"} {
		t.Run(path, func(t *testing.T) {
			require.Equal(t, http.StatusBadRequest, do(t, srv, "GET", path, "").status)
		})
	}
}

func TestExecutionSignal(t *testing.T) {
	fl := newMemFlows()
	srv := server(t, fl)
	require.Equal(t, http.StatusCreated, do(t, srv, "POST", "/executions", `{"workflow":"fulfil","id":"o1"}`).status)
	require.Equal(t, http.StatusCreated, do(t, srv, "POST", "/executions", `{"workflow":"fulfil","id":"done"}`).status)
	require.Equal(t, http.StatusOK, do(t, srv, "POST", "/executions/done/terminate", "").status)

	a := do(t, srv, "POST", "/executions/o1/signals/approval", `{"ok": true}`)
	require.Equal(t, http.StatusAccepted, a.status, "%s", a.body)
	require.Equal(t, map[string]any{"id": "o1", "signal": "approval"}, a.json(t))
	require.Equal(t, http.StatusAccepted, do(t, srv, "POST", "/executions/o1/signals/ping", "").status)
	require.Equal(t, []string{`o1/approval={"ok": true}`, "o1/ping=null"}, fl.signals)

	for _, tc := range []struct {
		name, path, body string
		status           int
		msg              string
	}{
		{"unknown execution", "/executions/nope/signals/approval", "true", http.StatusNotFound, "signal approval"},
		{"closed execution", "/executions/done/signals/approval", "true", http.StatusConflict, `signal approval: execution "done" is terminated`},
		{"value not JSON", "/executions/o1/signals/approval", "yes", http.StatusBadRequest, "must be a JSON value"},
		{"value over the limit", "/executions/o1/signals/approval", `"` + strings.Repeat("x", flow.MaxPayload) + `"`, http.StatusRequestEntityTooLarge, "byte limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, srv, "POST", tc.path, tc.body)
			require.Equal(t, tc.status, a.status, "%s", a.body)
			require.Contains(t, a.json(t)["error"], tc.msg)
		})
	}
	require.Len(t, fl.signals, 2)
}

func TestExecutionCancelTerminateRestart(t *testing.T) {
	fl := newMemFlows()
	srv := server(t, fl)
	require.Equal(t, http.StatusCreated, do(t, srv, "POST", "/executions", `{"workflow":"fulfil","id":"o1"}`).status)

	// Restarting a running execution conflicts.
	a := do(t, srv, "POST", "/executions/o1/restart", `{"from_failure":true}`)
	require.Equal(t, http.StatusConflict, a.status, "%s", a.body)
	require.Equal(t, `restart: execution "o1" is running`, a.json(t)["error"])

	a = do(t, srv, "POST", "/executions/o1/cancel", `{"reason":"customer asked"}`)
	require.Equal(t, http.StatusAccepted, a.status, "%s", a.body)
	require.Equal(t, "customer asked", fl.cancels["o1"])
	require.Equal(t, http.StatusAccepted, do(t, srv, "POST", "/executions/o1/cancel", "").status, "the body is optional")
	require.Equal(t, "", fl.cancels["o1"])
	require.Equal(t, http.StatusBadRequest, do(t, srv, "POST", "/executions/o1/cancel", `{"reason":`).status)

	a = do(t, srv, "POST", "/executions/o1/terminate", `{"reason":"stuck"}`)
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	v := a.json(t)
	require.Equal(t, "terminated", v["status"])
	v = do(t, srv, "GET", "/executions/o1", "").json(t)
	require.Equal(t, "terminated", v["status"])
	require.Equal(t, map[string]any{"type": "Terminated", "message": "stuck"}, v["error"])
	require.Equal(t, "2026-03-01T12:01:30Z", v["closed_at"])

	// Finished: cancel and terminate conflict.
	for _, path := range []string{"/executions/o1/cancel", "/executions/o1/terminate"} {
		a := do(t, srv, "POST", path, `{"reason":"again"}`)
		require.Equal(t, http.StatusConflict, a.status, "%s %s", path, a.body)
		require.Contains(t, a.json(t)["error"], `: execution "o1" is terminated`)
	}

	a = do(t, srv, "POST", "/executions/o1/restart", `{"from_failure":true}`)
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	v = a.json(t)
	require.Equal(t, "running", v["status"])
	require.Equal(t, "o1", v["id"])
	require.Equal(t, []string{"o1 true"}, fl.restarts)

	for _, path := range []string{"/executions/nope/cancel", "/executions/nope/terminate", "/executions/nope/restart"} {
		require.Equal(t, http.StatusNotFound, do(t, srv, "POST", path, "").status, path)
	}
}
