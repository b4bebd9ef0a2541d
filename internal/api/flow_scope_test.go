package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
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

// TestExecutionsProjectScoped is the attack on the workflow routes: a
// token of project a asks for, signals, cancels, terminates and restarts
// project b's execution and gets 404, as for one that does not exist; its
// listing holds project a's executions only. The real engine scopes them.
func TestExecutionsProjectScoped(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	require.NoError(t, err)
	defer st.Close()
	now := time.Now().UTC()
	for _, p := range []string{"a", "b"} {
		_, _, err := st.FlowStart(ctx, store.FlowStartParams{Execution: record.FlowExecution{ID: "exec-" + p, Project: p, Workflow: "w" + p,
			Function: "f" + p, Run: 1, Status: record.FlowRunning, Input: []byte(`{}`), CreatedAt: now, UpdatedAt: now},
			Events: []record.FlowEvent{{Type: "started", Name: "w" + p, Time: now}}, DueAt: now.Add(time.Hour)}, now)
		require.NoError(t, err)
	}
	secret := api.NewToken()
	require.NoError(t, st.TokenPut(ctx, record.Token{Hash: api.HashToken(secret), Name: "a", Project: "a", Scope: record.ScopeDeploy}))
	engine := flow.New(flow.Config{Store: st, ProjectOf: func(string) string { return "" },
		Workflows: func(string) (flow.WorkflowRef, bool) { return flow.WorkflowRef{}, false }})
	srv := httptest.NewServer(api.New(api.Config{Store: st, Flows: engine}))
	defer srv.Close()
	call := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+apitype.Prefix+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/executions/exec-b", ""}, {"GET", "/executions/exec-b/history", ""},
		{"POST", "/executions/exec-b/signals/go", `"x"`}, {"POST", "/executions/exec-b/cancel", ""},
		{"POST", "/executions/exec-b/terminate", ""}, {"POST", "/executions/exec-b/restart", ""},
	} {
		code, body := call(c.method, c.path, c.body)
		require.Equal(t, http.StatusNotFound, code, "%s %s: %s", c.method, c.path, body)
	}
	ex, err := st.FlowGet(ctx, "exec-b")
	require.NoError(t, err)
	require.Equal(t, record.FlowRunning, ex.Status, "nothing reached project b's execution")
	code, body := call("GET", "/executions", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "exec-a")
	require.NotContains(t, body, "exec-b")
	code, _ = call("GET", "/executions?project=b", "")
	require.Equal(t, http.StatusForbidden, code)
	code, body = call("GET", "/executions/exec-a", "")
	require.Equal(t, http.StatusOK, code, body)
}
