package cli_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/api"
	"github.com/stratahq/strata/internal/cli"
	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/sfn"
	"github.com/stratahq/strata/internal/store/sqlite"
)

const (
	smGreet = `{"StartAt":"Greet","States":{"Greet":{"Type":"Pass","Result":"hi","ResultPath":"$.greeting","End":true}}}`
	smFail  = `{"StartAt":"No","States":{"No":{"Type":"Fail","Error":"Nope","Cause":"said no"}}}`
)

// smServer is the admin API over a real SQLite store with a real Step
// Functions handler running executions; shop has EXPRESS greet and
// refuse and STANDARD nightly, blog has its own greet.
func smServer(t *testing.T) *strata {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	st.SetNow(func() time.Time { return t0 })
	require.NoError(t, st.TokenPut(ctx, record.Token{Hash: api.HashToken("tok"), Name: "test", Scope: record.ScopeAdmin}))
	require.NoError(t, st.TokenPut(ctx, record.Token{Hash: api.HashToken(blogToken), Name: "blog-ci", Project: "blog", Scope: record.ScopeDeploy}))
	for _, m := range []record.StateMachine{
		{Project: "shop", Name: "greet", Type: record.StateMachineExpress, Definition: smGreet},
		{Project: "shop", Name: "refuse", Type: record.StateMachineExpress, Definition: smFail},
		{Project: "shop", Name: "nightly", Type: record.StateMachineStandard, Definition: smGreet},
		{Project: "blog", Name: "greet", Type: record.StateMachineExpress, Definition: smFail},
	} {
		_, err := st.StateMachineCreate(ctx, m)
		require.NoError(t, err)
	}
	// A real flow engine runs STANDARD executions, with the runner as its
	// orchestrator (as package server wires them).
	var runner *sfn.Handler
	fl := flow.New(flow.Config{Store: st, Orchestrator: orchestrateWith(func() flow.Orchestrator { return runner.Orchestrator() }),
		Workflows: func(name string) (flow.WorkflowRef, bool) {
			p, _, ok := sfn.ParseWorkflow(name)
			return flow.WorkflowRef{Function: name, Project: p}, ok
		},
		ProjectOf: func(fn string) string { p, _, _ := sfn.ParseWorkflow(fn); return p }})
	runner = sfn.New(sfn.Config{Store: st, Executions: fl})
	fl.Run()
	t.Cleanup(fl.Close)
	t.Cleanup(runner.Stop)
	srv := httptest.NewServer(api.New(api.Config{Store: st, StateMachines: runner}))
	t.Cleanup(srv.Close)
	return &strata{url: srv.URL}
}

func TestSMList(t *testing.T) {
	s := smServer(t)
	r := s.run(t, "", "sm", "list", "--project", "shop")
	require.Equal(t, 0, r.code, r.errOut)
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	require.Len(t, lines, 4)
	require.Regexp(t, `^NAME\s+TYPE\s+REVISION\s+UPDATED$`, lines[0])
	require.Regexp(t, `^greet\s+EXPRESS\s+1\s+`, lines[1])
	require.Regexp(t, `^nightly\s+STANDARD\s+1\s+`, lines[2])
	require.Regexp(t, `^refuse\s+EXPRESS\s+1\s+`, lines[3])

	t.Chdir(t.TempDir())
	r = s.run(t, "", "sm", "list")
	require.Equal(t, cli.ExitFailure, r.code)
	require.Contains(t, r.errOut, "state machines belong to a project: name it with ?project= (strata sm ... --project P)")
}

func TestSMShow(t *testing.T) {
	s := smServer(t)
	r := s.run(t, "", "sm", "show", "greet", "--project", "shop")
	require.Equal(t, 0, r.code, r.errOut)
	require.Contains(t, r.out, "name:      greet\nproject:   shop\ntype:      EXPRESS\nrevision:  1\narn:       "+sfn.MachineArn("shop", "greet")+"\n")
	require.Contains(t, r.out, "definition:\n{\n  \"StartAt\": \"Greet\",\n")

	r = s.run(t, "", "sm", "show", "nope", "--project", "shop")
	require.Equal(t, cli.ExitFailure, r.code)
	require.Contains(t, r.errOut, "(404)")

	r = s.run(t, "", "sm", "show", "bad name", "--project", "shop")
	require.Equal(t, cli.ExitUsage, r.code)
	require.Contains(t, r.errOut, "must be 1 to 80 characters")
}

func TestSMStart(t *testing.T) {
	s := smServer(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.json")
	require.NoError(t, os.WriteFile(in, []byte(`{"id": 7}`), 0o644))

	r := s.run(t, "", "sm", "start", "greet", "--project", "shop", "--input", "@"+in, "--sync")
	require.Equal(t, result{0, `{"greeting":"hi","id":7}` + "\n", ""}, r)
	r = s.run(t, `{"id": 8}`, "sm", "start", "greet", "--project", "shop", "--input", "-", "--sync")
	require.Equal(t, result{0, `{"greeting":"hi","id":8}` + "\n", ""}, r)

	r = s.run(t, "", "sm", "start", "refuse", "--project", "shop", "--sync", "--name", "try-1")
	require.Equal(t, cli.ExitFailure, r.code)
	require.Equal(t, "error: execution try-1 FAILED: Nope: said no\n", r.errOut)

	// In the background: the ARN of the EXPRESS execution.
	r = s.run(t, "", "sm", "start", "greet", "--project", "shop", "--name", "bg")
	require.Equal(t, 0, r.code, r.errOut)
	require.Contains(t, r.out, ":express:greet:bg:")

	r = s.run(t, "", "sm", "start", "greet", "--project", "shop", "--input", "{not json")
	require.Equal(t, cli.ExitUsage, r.code)
	require.Contains(t, r.errOut, "--input is not valid JSON")

	// --sync is StartSyncExecution, which runs EXPRESS machines only.
	r = s.run(t, "", "sm", "start", "nightly", "--project", "shop", "--sync")
	require.Equal(t, cli.ExitFailure, r.code)
	require.Contains(t, r.errOut, "StateMachineTypeNotSupported")
}

type orchestrateWith func() flow.Orchestrator

func (f orchestrateWith) Orchestrate(ctx context.Context, r *flow.Run) (flow.Outcome, error) {
	return f().Orchestrate(ctx, r)
}

func TestSMStandardExecutions(t *testing.T) {
	s := smServer(t)
	r := s.run(t, "", "sm", "start", "nightly", "--project", "shop", "--name", "n-1", "--input", `{"day":3}`)
	require.Equal(t, 0, r.code, r.errOut)
	require.Contains(t, r.out, ":execution:nightly:n-1")
	require.Eventually(t, func() bool {
		r = s.run(t, "", "sm", "executions", "nightly", "--project", "shop")
		return r.code == 0 && strings.Contains(r.out, "n-1") && strings.Contains(r.out, "SUCCEEDED")
	}, 10*time.Second, 20*time.Millisecond, "%+v", r)
	r = s.run(t, "", "sm", "describe", "nightly", "n-1", "--project", "shop")
	require.Equal(t, 0, r.code, r.errOut)
	require.Contains(t, r.out, `"status": "SUCCEEDED"`)
	require.Contains(t, r.out, `\"greeting\":\"hi\"`)

	r = s.run(t, "", "sm", "history", "nightly", "n-1", "--project", "shop")
	require.Equal(t, 0, r.code, r.errOut)
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	require.Len(t, lines, 5, r.out) // header, started, entered, exited, succeeded
	require.Regexp(t, `^1\s+ExecutionStarted\s+input=\{"day":3\}`, lines[1])
	require.Regexp(t, `^2\s+PassStateEntered\s+Greet`, lines[2])
	require.Regexp(t, `^4\s+ExecutionSucceeded`, lines[4])

	// Another project has no such execution, even with the same names.
	r = s.run(t, "", "sm", "history", "nightly", "n-1", "--project", "blog")
	require.Equal(t, cli.ExitFailure, r.code)
	r = s.run(t, "", "sm", "history", "greet", "n-1", "--project", "blog")
	require.Equal(t, cli.ExitFailure, r.code)
	require.Contains(t, r.errOut, "ExecutionDoesNotExist")

	r = s.run(t, "", "sm", "stop", "nightly", "n-1", "--project", "shop")
	require.Equal(t, 0, r.code, r.errOut)
	// It succeeded: not redrivable (the API test redrives a failed
	// one); another project has no such execution to redrive.
	r = s.run(t, "", "sm", "redrive", "nightly", "n-1", "--project", "blog")
	require.Equal(t, cli.ExitFailure, r.code)
	require.Contains(t, r.errOut, "ExecutionDoesNotExist")
	r = s.run(t, "", "sm", "redrive", "nightly", "n-1", "--project", "shop")
	require.Equal(t, cli.ExitFailure, r.code)
	require.Contains(t, r.errOut, "ExecutionNotRedrivable: Execution is SUCCEEDED and cannot be redriven")
	r = s.run(t, "", "sm", "stop", "nightly", "nope", "--project", "shop")
	require.Equal(t, cli.ExitFailure, r.code)
	require.Contains(t, r.errOut, "ExecutionDoesNotExist")
}

func TestSMValidate(t *testing.T) {
	s := smServer(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.asl.yaml")
	require.NoError(t, os.WriteFile(good, []byte("StartAt: A\nStates:\n  A:\n    Type: Pass\n    End: true\n"), 0o644))
	r := s.run(t, "", "sm", "validate", good)
	require.Equal(t, result{0, good + ": OK\n", ""}, r)

	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}`), 0o644))
	r = s.run(t, "", "sm", "validate", bad)
	require.Equal(t, cli.ExitFailure, r.code)
	require.Contains(t, r.out, bad+": MISSING_TRANSITION_TARGET: Missing 'Next' target: B at /States/A/Next\n")
	require.Contains(t, r.errOut, "problem(s)")
}

// TestSMProjectToken: blog's token sees and starts blog's greet only;
// naming shop is refused.
func TestSMProjectToken(t *testing.T) {
	s := smServer(t)
	t.Chdir(t.TempDir())
	r := s.runAs(t, blogToken, "sm", "list")
	require.Equal(t, 0, r.code, r.errOut)
	require.Contains(t, r.out, "greet")
	require.NotContains(t, r.out, "nightly")
	require.NotContains(t, r.out, "refuse")

	// Its greet is blog's (which fails), not shop's.
	r = s.runAs(t, blogToken, "sm", "start", "greet", "--sync")
	require.Equal(t, cli.ExitFailure, r.code)
	require.Contains(t, r.errOut, "FAILED: Nope")

	r = s.runAs(t, blogToken, "sm", "start", "refuse", "--sync")
	require.Equal(t, cli.ExitFailure, r.code)
	require.Contains(t, r.errOut, "(404)")

	for _, args := range [][]string{{"sm", "list"}, {"sm", "start", "greet", "--sync"}, {"sm", "show", "greet"}} {
		r = s.runAs(t, blogToken, append(args, "--project", "shop")...)
		require.Equal(t, cli.ExitFailure, r.code, args)
		require.Contains(t, r.errOut, "token blog-ci is limited to project blog; it may not act on project shop", args)
	}
}
