package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/api"
	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/cli"
	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) {
	// Tables print local times; golden files are written in UTC.
	time.Local = time.UTC
	os.Exit(m.Run())
}

// engine is a workflow engine for the CLI to talk to: executions in a
// map, every call recorded.
type engine struct {
	execs   map[string]*record.FlowExecution
	history map[string][]record.FlowEvent
	calls   []string
}

var _ api.Flows = (*engine)(nil)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newEngine() *engine {
	failed := &record.FlowExecution{ID: "order-41", Project: "shop", Workflow: "fulfil", Function: "orders", Run: 1,
		Status: record.FlowFailed, Input: []byte(`{"order": 41, "items": ["book", "lamp"]}`),
		Error:   []byte(`{"type":"FunctionError","message":"card declined","step":2,"name":"charge-card","attempts":3}`),
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", HistoryLen: 6,
		CreatedAt: t0, UpdatedAt: t0.Add(2*time.Second + 345*time.Millisecond), ClosedAt: t0.Add(2*time.Second + 345*time.Millisecond)}
	running := &record.FlowExecution{ID: "order-42", Project: "shop", Workflow: "fulfil", Function: "orders", Run: 2,
		Status: record.FlowRunning, Input: []byte(`{"order":42}`), CreatedAt: t0.Add(time.Hour), UpdatedAt: t0.Add(time.Hour)}
	return &engine{
		execs: map[string]*record.FlowExecution{failed.ID: failed, running.ID: running},
		history: map[string][]record.FlowEvent{"order-41": {
			{Seq: 1, Type: "started", Name: "fulfil", Data: []byte(`{"input":{"order":41,"items":["book","lamp"]},"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}`), Time: t0},
			{Seq: 2, Type: "call_scheduled", Step: 1, Name: "reserve-stock", Data: []byte(`{"input":{"order":41}}`), Time: t0.Add(3 * time.Millisecond)},
			{Seq: 3, Type: "call_completed", Step: 1, Name: "reserve-stock", Data: []byte(`{"result":{"reserved":["book","lamp"],"warehouse":"north-east-7","note":"a result long enough to be cut short in the timeline"}}`), Time: t0.Add(41 * time.Millisecond)},
			{Seq: 4, Type: "call_scheduled", Step: 2, Name: "charge-card", Data: []byte(`{"input":{"order":41}}`), Time: t0.Add(45 * time.Millisecond)},
			{Seq: 5, Type: "call_failed", Step: 2, Name: "charge-card", Data: []byte(`{"error":{"type":"FunctionError","message":"card declined"}}`), Time: t0.Add(2*time.Second + 340*time.Millisecond)},
			{Seq: 6, Type: "failed", Data: []byte(`{"error":{"type":"FunctionError","message":"card declined","step":2}}`), Time: t0.Add(2*time.Second + 345*time.Millisecond)},
		}},
	}
}

func (e *engine) Start(_ context.Context, p flow.StartParams) (*record.FlowExecution, bool, error) {
	e.calls = append(e.calls, fmt.Sprintf("start %s %s %s", p.Workflow, p.ID, p.Input))
	if p.Workflow != "fulfil" {
		return nil, false, fmt.Errorf("%w: %q (no active function declares it under workflows: in strata.yaml)", flow.ErrUnknownWorkflow, p.Workflow)
	}
	if ex, ok := e.execs[p.ID]; ok {
		return ex, false, nil
	}
	id := p.ID
	if id == "" {
		id = "0195a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	}
	ex := &record.FlowExecution{ID: id, Workflow: p.Workflow, Function: "orders", Run: 1, Status: record.FlowRunning, Input: p.Input, CreatedAt: t0}
	e.execs[id] = ex
	return ex, true, nil
}

func (e *engine) Get(_ context.Context, _ string, id string) (*record.FlowExecution, error) {
	ex, ok := e.execs[id]
	if !ok {
		return nil, store.NotFound("execution", id)
	}
	return ex, nil
}

func (e *engine) List(_ context.Context, p store.FlowListParams) ([]record.FlowExecution, error) {
	e.calls = append(e.calls, fmt.Sprintf("list workflow=%s status=%s parent=%s before=%s limit=%d", p.Workflow, p.Status, p.ParentID, p.Before, p.Limit))
	return []record.FlowExecution{*e.execs["order-42"], *e.execs["order-41"]}, nil
}

func (e *engine) History(_ context.Context, _ string, id string, run int) ([]record.FlowEvent, error) {
	e.calls = append(e.calls, fmt.Sprintf("history %s %d", id, run))
	return e.history[id], nil
}

func (e *engine) running(id string) error {
	ex, err := e.Get(context.Background(), "", id)
	if err != nil {
		return err
	}
	if ex.Status != record.FlowRunning {
		return &store.ExecutionStateError{ID: id, Status: ex.Status, Err: store.ErrClosed}
	}
	return nil
}

func (e *engine) Signal(_ context.Context, _ string, id, name string, value []byte) error {
	e.calls = append(e.calls, fmt.Sprintf("signal %s %s %s", id, name, value))
	return e.running(id)
}

func (e *engine) Cancel(_ context.Context, _ string, id, reason string) error {
	e.calls = append(e.calls, fmt.Sprintf("cancel %s %q", id, reason))
	return e.running(id)
}

func (e *engine) Terminate(_ context.Context, _ string, id, reason string) error {
	e.calls = append(e.calls, fmt.Sprintf("terminate %s %q", id, reason))
	return e.running(id)
}

func (e *engine) Restart(_ context.Context, _ string, id string, fromFailure bool) (*record.FlowExecution, error) {
	e.calls = append(e.calls, fmt.Sprintf("restart %s %v", id, fromFailure))
	ex, err := e.Get(context.Background(), "", id)
	if err != nil {
		return nil, err
	}
	if ex.Status == record.FlowRunning {
		return nil, &store.ExecutionStateError{ID: id, Status: ex.Status, Err: store.ErrRunning}
	}
	c := *ex
	c.Status, c.ClosedAt, c.Error = record.FlowRunning, time.Time{}, nil
	if !fromFailure {
		c.Run++
	}
	return &c, nil
}

// strata runs the CLI against the admin API (tokens in a real SQLite
// store) serving e.
type strata struct {
	url string
	e   *engine
}

func setup(t *testing.T) *strata {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.TokenPut(ctx, record.Token{Hash: api.HashToken("tok"), Name: "test"}))
	e := newEngine()
	srv := httptest.NewServer(api.New(api.Config{Store: st, Flows: e}))
	t.Cleanup(srv.Close)
	return &strata{url: srv.URL, e: e}
}

type result struct {
	code        int
	out, errOut string
}

// run runs `strata args... --server URL --token tok` with stdin.
func (s *strata) run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--server", s.url, "--token", "tok")
	code := cli.Run(context.Background(), args, cli.IO{In: strings.NewReader(stdin), Out: &out, Err: &errOut})
	return result{code, out.String(), errOut.String()}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create %s", path)
	require.Equal(t, string(want), got)
}

func TestWorkflowStart(t *testing.T) {
	s := setup(t)
	dir := t.TempDir()
	order := filepath.Join(dir, "order.json")
	require.NoError(t, os.WriteFile(order, []byte(`{"order": 43}`), 0o644))

	r := s.run(t, "", "workflow", "start", "fulfil", "--data", "@"+order, "--id", "order-43")
	require.Equal(t, result{0, "order-43\n", ""}, r)

	r = s.run(t, "", "wf", "start", "fulfil", "--id", "order-41", "--data", `{"order":41}`)
	require.Equal(t, result{0, "order-41 (existing, failed)\n", ""}, r)

	r = s.run(t, `[1, 2]`, "workflow", "start", "fulfil", "--data", "-")
	require.Equal(t, result{0, "0195a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\n", ""}, r)

	r = s.run(t, "", "workflow", "start", "fulfil")
	require.Equal(t, 0, r.code, r.errOut)
	require.Equal(t, []string{
		`start fulfil order-43 {"order":43}`, `start fulfil order-41 {"order":41}`, `start fulfil  [1,2]`, `start fulfil  `,
	}, s.e.calls)

	r = s.run(t, "", "workflow", "start", "nope")
	require.Equal(t, cli.ExitFailure, r.code)
	require.Equal(t, "error: unknown workflow: \"nope\" (no active function declares it under workflows: in strata.yaml) (404)\n", r.errOut)
}

func TestWorkflowBadCommandLines(t *testing.T) {
	s := setup(t)
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"data not JSON", []string{"workflow", "start", "fulfil", "--data", "hello"}, `--data is not valid JSON (invalid character 'h' looking for beginning of value); a string needs its quotes: --data '"text"'`},
		{"data file missing", []string{"workflow", "start", "fulfil", "--data", "@/nonexistent/order.json"}, "--data: open /nonexistent/order.json: no such file or directory"},
		{"signal data not JSON", []string{"workflow", "signal", "order-42", "approval", "--data", "{yes}"}, "--data is not valid JSON"},
		{"start without workflow", []string{"workflow", "start"}, "strata workflow start takes 1 argument(s), got 0"},
		{"signal without name", []string{"workflow", "signal", "order-42"}, "strata workflow signal takes 2 argument(s), got 1"},
		{"terminate without reason", []string{"workflow", "terminate", "order-42"}, "terminate needs --reason"},
		{"unknown flag", []string{"workflow", "restart", "order-41", "--from-falure"}, "unknown flag: --from-falure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.run(t, "", tc.args...)
			require.Equal(t, cli.ExitUsage, r.code, r.errOut)
			require.Contains(t, r.errOut, tc.msg)
			require.Empty(t, r.out)
		})
	}
	require.Empty(t, s.e.calls, "a wrong command line sends nothing")
}

func TestWorkflowList(t *testing.T) {
	s := setup(t)
	r := s.run(t, "", "workflow", "list")
	require.Equal(t, 0, r.code, r.errOut)
	golden(t, "workflow_list.golden", r.out)

	r = s.run(t, "", "wf", "ls", "--status", "running", "--workflow", "fulfil", "--limit", "5", "--parent", "p1", "--before", "order-50")
	require.Equal(t, 0, r.code, r.errOut)
	require.Equal(t, []string{
		"list workflow= status= parent= before= limit=0",
		"list workflow=fulfil status=running parent=p1 before=order-50 limit=5",
	}, s.e.calls)

	r = s.run(t, "", "workflow", "list", "--status", "runing")
	require.Equal(t, cli.ExitFailure, r.code)
	require.Contains(t, r.errOut, `status "runing": want running, completed, failed, canceled or terminated`)
}

func TestWorkflowShow(t *testing.T) {
	s := setup(t)
	r := s.run(t, "", "workflow", "show", "order-41")
	require.Equal(t, 0, r.code, r.errOut)
	golden(t, "workflow_show.golden", r.out)

	r = s.run(t, "", "workflow", "show", "order-41", "--json", "--run", "1")
	require.Equal(t, 0, r.code, r.errOut)
	var v struct {
		Execution apitype.ExecutionInfo    `json:"execution"`
		Events    []apitype.ExecutionEvent `json:"events"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.out), &v), r.out)
	require.Equal(t, "failed", v.Execution.Status)
	require.JSONEq(t, `{"order": 41, "items": ["book", "lamp"]}`, string(v.Execution.Input))
	require.Len(t, v.Events, 6)
	require.Contains(t, string(v.Events[2].Data), "cut short in the timeline", "--json shows values in full")
	require.Equal(t, []string{"history order-41 0", "history order-41 1"}, s.e.calls)

	r = s.run(t, "", "workflow", "show", "nope")
	require.Equal(t, cli.ExitFailure, r.code)
	require.Equal(t, "error: execution \"nope\" not found (404)\n", r.errOut)
}

func TestWorkflowSignalCancelTerminateRestart(t *testing.T) {
	s := setup(t)
	for _, tc := range []struct {
		args []string
		out  string
	}{
		{[]string{"workflow", "signal", "order-42", "approval", "--data", "true"}, "sent signal approval to order-42\n"},
		{[]string{"workflow", "signal", "order-42", "ping"}, "sent signal ping to order-42\n"},
		{[]string{"workflow", "cancel", "order-42", "--reason", "customer asked"}, "cancel requested for order-42\n"},
		{[]string{"workflow", "terminate", "order-42", "--reason", "stuck"}, "terminated order-42\n"},
		{[]string{"workflow", "restart", "order-41", "--from-failure"}, "restarted order-41: run 1, running\n"},
		{[]string{"wf", "restart", "order-41"}, "restarted order-41: run 2, running\n"},
	} {
		r := s.run(t, "", tc.args...)
		require.Equal(t, result{0, tc.out, ""}, r, "%v", tc.args)
	}
	require.Equal(t, []string{
		"signal order-42 approval true", "signal order-42 ping null", `cancel order-42 "customer asked"`,
		`terminate order-42 "stuck"`, "restart order-41 true", "restart order-41 false",
	}, s.e.calls)

	// Refusals from the server: exit 1 with its message.
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"workflow", "signal", "order-41", "approval", "--data", "true"}, `signal approval: execution "order-41" is failed (409)`},
		{[]string{"workflow", "signal", "nope", "approval"}, `signal approval: execution "nope" not found (404)`},
		{[]string{"workflow", "cancel", "order-41"}, `cancel: execution "order-41" is failed (409)`},
		{[]string{"workflow", "terminate", "order-41", "--reason", "x"}, `terminate: execution "order-41" is failed (409)`},
		{[]string{"workflow", "restart", "order-42"}, `restart: execution "order-42" is running (409)`},
	} {
		r := s.run(t, "", tc.args...)
		require.Equal(t, cli.ExitFailure, r.code, "%v", tc.args)
		require.Equal(t, "error: "+tc.err+"\n", r.errOut)
		require.Empty(t, r.out)
	}
}

func TestWorkflowServerProblems(t *testing.T) {
	s := setup(t)
	var out, errOut bytes.Buffer
	stdio := cli.IO{In: strings.NewReader(""), Out: &out, Err: &errOut}
	code := cli.Run(context.Background(), []string{"workflow", "list", "--server", s.url, "--token", "wrong"}, stdio)
	require.Equal(t, cli.ExitUnreachable, code)
	require.Contains(t, errOut.String(), "invalid admin token")

	// A port nothing listens on: the server this test started, now closed.
	srv := httptest.NewServer(nil)
	srv.Close()
	errOut.Reset()
	code = cli.Run(context.Background(), []string{"workflow", "show", "x", "--server", srv.URL, "--token", "tok"}, stdio)
	require.Equal(t, cli.ExitUnreachable, code)
	require.Contains(t, errOut.String(), "reach Strata at "+srv.URL)
}
