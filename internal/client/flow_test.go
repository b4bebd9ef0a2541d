package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/api"
	"github.com/stratahq/strata/internal/client"
	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
)

// fakeFlows answers with its function fields; a nil field fails the test.
type fakeFlows struct {
	start     func(flow.StartParams) (*record.FlowExecution, bool, error)
	get       func(id string) (*record.FlowExecution, error)
	list      func(store.FlowListParams) ([]record.FlowExecution, error)
	history   func(id string, run int) ([]record.FlowEvent, error)
	signal    func(id, name string, value []byte) error
	cancel    func(id, reason string) error
	terminate func(id, reason string) error
	restart   func(id string, fromFailure bool) (*record.FlowExecution, error)
}

var _ api.Flows = (*fakeFlows)(nil)

func (f *fakeFlows) Start(_ context.Context, p flow.StartParams) (*record.FlowExecution, bool, error) {
	return f.start(p)
}
func (f *fakeFlows) Get(_ context.Context, _ string, id string) (*record.FlowExecution, error) {
	return f.get(id)
}
func (f *fakeFlows) List(_ context.Context, p store.FlowListParams) ([]record.FlowExecution, error) {
	return f.list(p)
}
func (f *fakeFlows) History(_ context.Context, _ string, id string, run int) ([]record.FlowEvent, error) {
	return f.history(id, run)
}
func (f *fakeFlows) Signal(_ context.Context, _ string, id, name string, value []byte) error {
	return f.signal(id, name, value)
}
func (f *fakeFlows) Cancel(_ context.Context, _ string, id, reason string) error {
	return f.cancel(id, reason)
}
func (f *fakeFlows) Terminate(_ context.Context, _ string, id, reason string) error {
	return f.terminate(id, reason)
}
func (f *fakeFlows) Restart(_ context.Context, _ string, id string, fromFailure bool) (*record.FlowExecution, error) {
	return f.restart(id, fromFailure)
}

// setup serves the real admin API (tokens in a real SQLite store) over
// HTTP with fl as its engine and returns a client for it.
func setup(t *testing.T, fl api.Flows) *client.Client {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.TokenPut(ctx, record.Token{Hash: api.HashToken("tok"), Name: "test"}))
	srv := httptest.NewServer(api.New(api.Config{Store: st, Flows: fl}))
	t.Cleanup(srv.Close)
	return client.New(srv.URL, "tok")
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func exec(id, status string) *record.FlowExecution {
	return &record.FlowExecution{ID: id, Workflow: "fulfil", Function: "shop", Project: "p", Run: 1, Status: status,
		Input: []byte(`{"n":1}`), CreatedAt: t0, UpdatedAt: t0}
}

func apiStatus(t *testing.T, err error) int {
	t.Helper()
	var ae *client.APIError
	require.True(t, errors.As(err, &ae), "want an APIError, got %v", err)
	return ae.Status
}

func TestExecutionStart(t *testing.T) {
	ctx := context.Background()
	var got flow.StartParams
	existing := map[string]bool{"old": true}
	c := setup(t, &fakeFlows{start: func(p flow.StartParams) (*record.FlowExecution, bool, error) {
		got = p
		if p.Workflow != "fulfil" {
			return nil, false, fmt.Errorf("%w: %q", flow.ErrUnknownWorkflow, p.Workflow)
		}
		ex := exec(p.ID, record.FlowRunning)
		ex.Input = p.Input
		return ex, !existing[p.ID], nil
	}})

	ex, created, err := c.ExecutionStart(ctx, "fulfil", "order-42", []byte(`{"order": 42}`))
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, "order-42", ex.ID)
	require.JSONEq(t, `{"order":42}`, string(ex.Input))
	// The input reaches the engine as JSON (compacted on the way).
	require.Equal(t, flow.StartParams{Workflow: "fulfil", ID: "order-42", Input: []byte(`{"order":42}`)}, got)

	ex, created, err = c.ExecutionStart(ctx, "fulfil", "old", nil)
	require.NoError(t, err)
	require.False(t, created, "an existing id answers 200, read as not created")
	require.Equal(t, "old", ex.ID)
	require.Nil(t, got.Input, "no input is sent as none")

	_, _, err = c.ExecutionStart(ctx, "nope", "", nil)
	require.Equal(t, http.StatusNotFound, apiStatus(t, err))
	require.ErrorContains(t, err, `unknown workflow: "nope"`)

	_, _, err = c.ExecutionStart(ctx, "fulfil", "", []byte(`{not json`))
	require.Error(t, err, "invalid input fails before a request")
}

func TestExecutionReads(t *testing.T) {
	ctx := context.Background()
	var gotList store.FlowListParams
	var gotRun int
	closed := exec("o1", record.FlowFailed)
	closed.Error, closed.ClosedAt = []byte(`{"type":"FunctionError","message":"boom","step":2}`), t0.Add(time.Minute)
	c := setup(t, &fakeFlows{
		list: func(p store.FlowListParams) ([]record.FlowExecution, error) {
			gotList = p
			return []record.FlowExecution{*closed, *exec("o0", record.FlowRunning)}, nil
		},
		get: func(id string) (*record.FlowExecution, error) {
			if id != "o1" {
				return nil, store.ErrNotFound
			}
			return closed, nil
		},
		history: func(id string, run int) ([]record.FlowEvent, error) {
			gotRun = run
			return []record.FlowEvent{
				{Seq: 1, Type: "started", Name: "fulfil", Data: []byte(`{"input":{"n":1}}`), Time: t0},
				{Seq: 2, Type: "call_scheduled", Step: 1, Name: "charge", Time: t0.Add(time.Second)},
			}, nil
		},
	})

	list, err := c.Executions(ctx, client.ExecutionListParams{Workflow: "fulfil", Status: "failed", ParentID: "p1", Before: "o9", Limit: 5})
	require.NoError(t, err)
	require.Equal(t, store.FlowListParams{Workflow: "fulfil", Status: "failed", ParentID: "p1", Before: "o9", Limit: 5}, gotList)
	require.Len(t, list, 2)
	require.Equal(t, "o1", list[0].ID)
	require.Equal(t, t0.Add(time.Minute), list[0].ClosedAt.UTC())
	require.True(t, list[1].ClosedAt.IsZero())

	_, err = c.Executions(ctx, client.ExecutionListParams{})
	require.NoError(t, err)
	require.Equal(t, store.FlowListParams{}, gotList, "zero params filter nothing")

	ex, err := c.Execution(ctx, "o1")
	require.NoError(t, err)
	require.Equal(t, "failed", ex.Status)
	require.JSONEq(t, `{"type":"FunctionError","message":"boom","step":2}`, string(ex.Error))
	require.Equal(t, "null", string(ex.Output))

	_, err = c.Execution(ctx, "nope")
	require.Equal(t, http.StatusNotFound, apiStatus(t, err))

	evs, err := c.ExecutionHistory(ctx, "o1", 0)
	require.NoError(t, err)
	require.Equal(t, 0, gotRun)
	require.Len(t, evs, 2)
	require.Equal(t, api.ExecutionEvent{Seq: 2, Type: "call_scheduled", Step: 1, Name: "charge", Data: json.RawMessage("null"), Time: evs[1].Time}, evs[1])
	require.JSONEq(t, `{"input":{"n":1}}`, string(evs[0].Data))
	_, err = c.ExecutionHistory(ctx, "o1", 3)
	require.NoError(t, err)
	require.Equal(t, 3, gotRun)
}

func TestExecutionWrites(t *testing.T) {
	ctx := context.Background()
	var calls []string
	closedErr := func(id string) error {
		if id == "done" {
			return fmt.Errorf("execution %s: %w", id, store.ErrClosed)
		}
		return nil
	}
	c := setup(t, &fakeFlows{
		signal: func(id, name string, value []byte) error {
			calls = append(calls, "signal "+id+" "+name+" "+string(value))
			return closedErr(id)
		},
		cancel: func(id, reason string) error {
			calls = append(calls, "cancel "+id+" "+reason)
			return closedErr(id)
		},
		terminate: func(id, reason string) error {
			calls = append(calls, "terminate "+id+" "+reason)
			return closedErr(id)
		},
		restart: func(id string, fromFailure bool) (*record.FlowExecution, error) {
			calls = append(calls, fmt.Sprintf("restart %s %v", id, fromFailure))
			if id == "live" {
				return nil, fmt.Errorf("execution %s: %w", id, store.ErrRunning)
			}
			ex := exec(id, record.FlowRunning)
			ex.Run = 2
			return ex, nil
		},
	})

	require.NoError(t, c.ExecutionSignal(ctx, "o1", "approval", []byte("true")))
	require.NoError(t, c.ExecutionSignal(ctx, "o1", "ping", nil))
	require.NoError(t, c.ExecutionSignal(ctx, "a/b", "with space", []byte(`"x"`)))
	require.NoError(t, c.ExecutionCancel(ctx, "o1", "customer asked"))
	require.NoError(t, c.ExecutionTerminate(ctx, "o1", "stuck"))
	ex, err := c.ExecutionRestart(ctx, "o1", true)
	require.NoError(t, err)
	require.Equal(t, 2, ex.Run)
	require.Equal(t, []string{
		"signal o1 approval true", "signal o1 ping null", `signal a/b with space "x"`,
		"cancel o1 customer asked", "terminate o1 stuck", "restart o1 true",
	}, calls)

	require.Equal(t, http.StatusConflict, apiStatus(t, c.ExecutionSignal(ctx, "done", "approval", []byte("true"))))
	require.Equal(t, http.StatusConflict, apiStatus(t, c.ExecutionCancel(ctx, "done", "")))
	require.Equal(t, http.StatusConflict, apiStatus(t, c.ExecutionTerminate(ctx, "done", "x")))
	_, err = c.ExecutionRestart(ctx, "live", false)
	require.Equal(t, http.StatusConflict, apiStatus(t, err))
	require.ErrorContains(t, err, "execution live: execution running")
}

func TestExecutionsNotEnabled(t *testing.T) {
	c := setup(t, nil)
	_, err := c.Executions(context.Background(), client.ExecutionListParams{})
	require.Equal(t, http.StatusServiceUnavailable, apiStatus(t, err))
	require.ErrorContains(t, err, "workflows are not enabled")
}
