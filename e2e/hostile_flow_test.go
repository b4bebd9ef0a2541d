package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Issue 9, Found 2: workflows crossed projects. Two projects on one
// `strata server`: victim (e2e/testdata/hostileflow/victim) runs an
// execution that waits for a signal and has an activity that answers its
// secret env value; thief (…/thief) knows victim's function, workflow and
// execution id and tries to call the function as an activity, signal the
// execution, start its own workflow under the execution's id (from a
// function, and over HTTP with Idempotency-Key and no token) and adopt it
// or victim's workflow as a child. Every attempt is refused without a
// word about victim, and victim's execution completes with its own value.

func TestHostileFlowSQLite(t *testing.T) {
	t.Parallel()
	testHostileFlow(t)
}

func TestHostileFlowPostgres(t *testing.T) {
	t.Parallel()
	testHostileFlow(t, pgStoreArgs(t, "strata_e2e_hflow")...)
}

// hflowExec is an execution as the admin API shows it.
type hflowExec struct {
	ID       string          `json:"id"`
	Project  string          `json:"project"`
	Workflow string          `json:"workflow"`
	Status   string          `json:"status"`
	Output   json.RawMessage `json:"output"`
	Error    json.RawMessage `json:"error"`
	ParentID string          `json:"parent_id"`
}

// hflowOutcome is what one of thief's attacks got.
type hflowOutcome struct {
	Value string `json:"value"`
	Error string `json:"error"`
}

const hflowSecret = "victim-secret-7f3a"

func testHostileFlow(t *testing.T, serverArgs ...string) {
	_, base, tok := startServer(t, serverArgs...)
	for _, p := range []string{"victim", "thief"} {
		dir := copyTree(t, filepath.Join(repoRoot(), "e2e", "testdata", "hostileflow", p))
		mustRun(t, dir, "deploy", "--server", base, "--token", tok)
	}
	admin := map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
	get := func(t *testing.T, id string) hflowExec {
		t.Helper()
		r := do(t, "GET", base+"/_strata/api/v1/executions/"+url.PathEscape(id), nil, admin)
		require.Equal(t, 200, r.status, "%s", r.body)
		var ex hflowExec
		require.NoError(t, json.Unmarshal(r.body, &ex), "%s", r.body)
		return ex
	}
	closed := func(t *testing.T, id string) hflowExec {
		t.Helper()
		var ex hflowExec
		waitFor(t, eventsWait, "execution "+id+" to close", func() error {
			if ex = get(t, id); ex.Status == "running" {
				return fmt.Errorf("%s still running", id)
			}
			return nil
		})
		return ex
	}
	attack := func(t *testing.T, path string) hflowOutcome {
		t.Helper()
		r := do(t, "POST", base+path, nil, nil)
		require.Equal(t, 200, r.status, "%s", r.body)
		var o hflowOutcome
		require.NoError(t, json.Unmarshal(r.body, &o), "%s", r.body)
		return o
	}
	// noLeak requires that s tells nothing of victim's execution.
	noLeak := func(t *testing.T, s string) {
		t.Helper()
		for _, w := range []string{"vhold", "victim", "running", "waiting", hflowSecret} {
			require.NotContains(t, s, w)
		}
	}

	// Victim starts its execution over its own workflow route.
	r := do(t, "POST", base+"/victim/hold", nil, nil)
	require.Equal(t, 202, r.status, "%s", r.body)
	var started struct{ ID string }
	require.NoError(t, json.Unmarshal(r.body, &started))
	vid := started.ID
	require.NotEmpty(t, vid)

	t.Run("activity call to another project's function", func(t *testing.T) {
		r := do(t, "POST", base+"/thief/steal", nil, nil)
		require.Equal(t, 202, r.status, "%s", r.body)
		var s struct{ ID string }
		require.NoError(t, json.Unmarshal(r.body, &s))
		ex := closed(t, s.ID)
		require.Equal(t, "completed", ex.Status, "%s", ex.Error)
		var o hflowOutcome
		require.NoError(t, json.Unmarshal(ex.Output, &o), "%s", ex.Output)
		require.Empty(t, o.Value, "thief's workflow ran victim's function")
		require.Contains(t, o.Error, "function vault not found in project thief")
		require.NotContains(t, string(ex.Output), hflowSecret)
	})

	t.Run("signal to another project's execution", func(t *testing.T) {
		o := attack(t, "/thief/signal/"+url.PathEscape(vid))
		require.Empty(t, o.Value)
		require.Contains(t, o.Error, `execution "`+vid+`" not found in project thief`)
		// Word for word what an id nobody holds gets.
		unknown := attack(t, "/thief/signal/no-such-execution")
		require.Equal(t, strings.ReplaceAll(unknown.Error, "no-such-execution", vid), o.Error)
		noLeak(t, o.Error)
	})

	t.Run("start under another project's execution id", func(t *testing.T) {
		o := attack(t, "/thief/start/"+url.PathEscape(vid))
		require.Empty(t, o.Value, "flow.Start with a foreign id reported success")
		require.Contains(t, o.Error, fmt.Sprintf("execution id taken: %q is in use by another execution", vid))
		noLeak(t, o.Error)
	})

	t.Run("Idempotency-Key of another project's execution, no token", func(t *testing.T) {
		r := do(t, "POST", base+"/thief/steal", nil, map[string]string{"Idempotency-Key": vid})
		require.Equal(t, 409, r.status, "%s", r.body)
		require.Contains(t, string(r.body), "execution id taken: ")
		noLeak(t, string(r.body))
		require.Empty(t, r.header.Get("Location"))
		// Within thief too: an id of one workflow does not answer for
		// another one.
		mine := do(t, "POST", base+"/thief/start/thief-own-1", nil, nil)
		require.Equal(t, 200, mine.status, "%s", mine.body)
		r = do(t, "POST", base+"/thief/steal", nil, map[string]string{"Idempotency-Key": "thief-own-1"})
		require.Equal(t, 409, r.status, "%s", r.body)
		require.NotContains(t, string(r.body), "tquick")
	})

	t.Run("child of another project's workflow, or under its id", func(t *testing.T) {
		in, _ := json.Marshal(map[string]any{"workflow": "steal-child", "input": vid})
		r := do(t, "POST", base+"/_strata/api/v1/executions", in, admin)
		require.Equal(t, 201, r.status, "%s", r.body)
		var s hflowExec
		require.NoError(t, json.Unmarshal(r.body, &s))
		ex := closed(t, s.ID)
		require.Equal(t, "completed", ex.Status, "%s", ex.Error)
		var out []hflowOutcome
		require.NoError(t, json.Unmarshal(ex.Output, &out), "%s", ex.Output)
		require.Len(t, out, 2)
		require.Contains(t, out[0].Error, `child workflow "vhold": no active function of project thief declares it`)
		require.Contains(t, out[1].Error, fmt.Sprintf("child id %q is taken by another execution", vid))
		noLeak(t, out[1].Error)
	})

	// Victim's execution is as it was, and completes with its own value.
	ex := get(t, vid)
	require.Equal(t, "running", ex.Status)
	require.Equal(t, "victim", ex.Project)
	require.Empty(t, ex.ParentID)
	r = do(t, "POST", base+"/_strata/api/v1/executions/"+url.PathEscape(vid)+"/signals/go", []byte(`"owner"`), admin)
	require.Equal(t, 202, r.status, "%s", r.body)
	ex = closed(t, vid)
	require.Equal(t, "completed", ex.Status, "%s", ex.Error)
	require.JSONEq(t, `"owner"`, string(ex.Output))
}
