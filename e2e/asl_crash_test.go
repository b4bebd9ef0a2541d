package e2e

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Crash and restart of a STANDARD state machine execution (issue 14,
// scope 5): `strata server` is killed with SIGKILL while a Task runs and
// again while the execution waits for a task token callback, and
// restarted on the same data, on SQLite and on PostgreSQL. The execution
// resumes and completes with the same output; no Task whose result was
// recorded before a kill runs again (the Task cut by the kill runs again:
// at least once), and the callback sent after the restart completes it.
// The record of what ran is e2e/testdata/aslcrash's trace database.

func TestStateMachineCrashSQLite(t *testing.T) {
	t.Parallel()
	runASLCrash(t, nil)
}

func TestStateMachineCrashPostgres(t *testing.T) {
	pg := os.Getenv("STRATA_TEST_POSTGRES")
	if pg == "" {
		t.Skip("STRATA_TEST_POSTGRES not set")
	}
	t.Parallel()
	runASLCrash(t, pgStoreArgs(t, "strata_e2e_aslcrash"))
}

// aslCall is a row of the trace database.
type aslCall struct{ name, token string }

func aslCalls(t *testing.T, n *wfNode) []aslCall {
	t.Helper()
	path := filepath.Join(n.dataDir, "databases", "trace.db")
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return nil
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`select name, token from calls order by id`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return nil
		}
		t.Fatalf("read the trace: %v", err)
	}
	defer rows.Close()
	var out []aslCall
	for rows.Next() {
		var c aslCall
		if err := rows.Scan(&c.name, &c.token); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func countCalls(calls []aslCall, name string) int {
	c := 0
	for _, x := range calls {
		if x.name == name {
			c++
		}
	}
	return c
}

// sfnCall sends one Step Functions request with the node's admin token
// (a token of every project names its project in X-Strata-Project).
func sfnCall(t *testing.T, n *wfNode, op string, body any) (int, map[string]any) {
	t.Helper()
	r := do(t, "POST", n.url+"/", jsonBody(body), map[string]string{
		"Authorization": "Bearer " + n.token, "X-Strata-Project": "aslcrash",
		"X-Amz-Target": "AWSStepFunctions." + op, "Content-Type": "application/x-amz-json-1.0"})
	var out map[string]any
	_ = json.Unmarshal([]byte(r.body), &out)
	return r.status, out
}

func runASLCrash(t *testing.T, store []string) {
	n := &wfNode{t: t, dataDir: t.TempDir(), store: store,
		project: copyTree(t, filepath.Join(repoRoot(), "e2e", "testdata", "aslcrash"))}
	n.start()
	out := n.cli("deploy")
	if !strings.Contains(out, "pipeline") {
		t.Fatalf("deploy output:\n%s", out)
	}
	st, res := sfnCall(t, n, "StartExecution", map[string]any{
		"stateMachineArn": machineArnOf(t, n), "name": "run-1", "input": `{"items":[1,2,3]}`})
	if st != 200 {
		t.Fatalf("StartExecution: %d %v", st, res)
	}
	arn, _ := res["executionArn"].(string)
	describe := func() map[string]any {
		st, d := sfnCall(t, n, "DescribeExecution", map[string]any{"executionArn": arn})
		if st != 200 {
			t.Fatalf("DescribeExecution: %d %v", st, d)
		}
		return d
	}

	// Kill 1: while Task A runs (it sleeps 6 s after recording its call).
	waitFor(t, wfWait, "Task A to start", func() error {
		if countCalls(aslCalls(t, n), "A") == 0 {
			return fmt.Errorf("no call of A yet")
		}
		return nil
	})
	n.kill()
	n.start()

	// The execution resumes (after the killed node's lease) and reaches
	// the callback: A ran again (it was cut), the rest once.
	var token string
	waitFor(t, wfWait, "the callback to be handed out", func() error {
		for _, c := range aslCalls(t, n) {
			if c.name == "ask" {
				token = c.token
				return nil
			}
		}
		return fmt.Errorf("calls so far: %v", aslCalls(t, n))
	})
	if got := describe()["status"]; got != "RUNNING" {
		t.Fatalf("status %v while the callback waits", got)
	}

	// Kill 2: while the execution waits for the callback.
	n.kill()
	n.start()
	// The callback, sent to the restarted node, completes the execution
	// (it is accepted at once: the inbox is durable, the run picks it up
	// when it takes the execution over).
	waitFor(t, wfWait, "SendTaskSuccess to be accepted", func() error {
		st, res := sfnCall(t, n, "SendTaskSuccess", map[string]any{"taskToken": token, "output": `{"approved":true}`})
		if st != 200 {
			return fmt.Errorf("%d %v", st, res)
		}
		return nil
	})
	var final map[string]any
	waitFor(t, wfWait, "the execution to succeed", func() error {
		final = describe()
		if final["status"] != "SUCCEEDED" {
			return fmt.Errorf("status %v %v %v", final["status"], final["error"], final["cause"])
		}
		return nil
	})
	var output map[string]any
	if err := json.Unmarshal([]byte(final["output"].(string)), &output); err != nil {
		t.Fatal(err)
	}
	want := `{"a":{"ran":"A"},"answer":{"approved":true},"b":{"ran":"B"},"items":[1,2,3],"m":[{"ran":"M1"},{"ran":"M2"},{"ran":"M3"}]}`
	got, _ := json.Marshal(output)
	if string(got) != want {
		t.Fatalf("output\n got %s\nwant %s", got, want)
	}
	calls := aslCalls(t, n)
	if a := countCalls(calls, "A"); a != 2 {
		t.Fatalf("A ran %d times, want 2 (once cut by the kill, once after): %v", a, calls)
	}
	for _, name := range []string{"B", "M1", "M2", "M3", "ask"} {
		if c := countCalls(calls, name); c != 1 {
			t.Fatalf("%s ran %d times, want once: a Task recorded before a kill ran again: %v", name, c, calls)
		}
	}
	// The history reads to the end.
	st, h := sfnCall(t, n, "GetExecutionHistory", map[string]any{"executionArn": arn, "reverseOrder": true, "maxResults": 1})
	if st != 200 {
		t.Fatalf("GetExecutionHistory: %d %v", st, h)
	}
	if evs, _ := h["events"].([]any); len(evs) != 1 || evs[0].(map[string]any)["type"] != "ExecutionSucceeded" {
		t.Fatalf("last event: %v", h)
	}
}

// machineArnOf lists the project's machines and returns pipeline's ARN.
func machineArnOf(t *testing.T, n *wfNode) string {
	t.Helper()
	st, res := sfnCall(t, n, "ListStateMachines", map[string]any{})
	if st != 200 {
		t.Fatalf("ListStateMachines: %d %v", st, res)
	}
	ms, _ := res["stateMachines"].([]any)
	for _, m := range ms {
		if mm, _ := m.(map[string]any); mm["name"] == "pipeline" {
			return mm["stateMachineArn"].(string)
		}
	}
	t.Fatalf("no machine pipeline in %v", res)
	return ""
}
