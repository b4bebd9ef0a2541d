package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// smDescribe is what `strata sm describe` prints (DescribeExecution).
type smDescribe struct {
	Status string `json:"status"`
	Output string `json:"output"`
	Error  string `json:"error"`
	Cause  string `json:"cause"`
}

func smWait(t *testing.T, dir, machine, execution string) smDescribe {
	t.Helper()
	var d smDescribe
	waitFor(t, time.Minute, execution+" to finish", func() error {
		out := mustRun(t, dir, "sm", "describe", machine, execution)
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			return fmt.Errorf("sm describe: %v\n%s", err, out)
		}
		if d.Status == "RUNNING" {
			return fmt.Errorf("still running")
		}
		return nil
	})
	return d
}

// TestASLExampleApproval runs examples/approval-asl as its README does.
func TestASLExampleApproval(t *testing.T) {
	t.Parallel()
	d := startDev(t, "approval-asl")
	requireDeployed(t, d)
	waiting := func(id string) error {
		r := do(t, "GET", d.url+"/requests", nil, nil)
		if r.status != 200 || !strings.Contains(string(r.body), `"`+id+`"`) {
			return fmt.Errorf("GET /requests: %d %s", r.status, r.body)
		}
		return nil
	}

	out := mustRun(t, d.dir, "sm", "start", "approval", "--name", "r1", "--input", `{"id":"r1","amount":120}`)
	if !strings.Contains(out, ":execution:approval:r1") {
		t.Fatalf("sm start: %s", out)
	}
	waitFor(t, time.Minute, "r1 to wait for a decision", func() error { return waiting("r1") })
	if r := do(t, "POST", d.url+"/requests/r1/approve", []byte(`{"by":"ann"}`), nil); r.status != 202 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	got := smWait(t, d.dir, "approval", "r1")
	if got.Status != "SUCCEEDED" || got.Output != `{"by":"ann","id":"r1","status":"approved"}` {
		t.Fatalf("r1: %+v", got)
	}
	// The token was used and forgotten: a second decision finds nothing.
	if r := do(t, "POST", d.url+"/requests/r1/reject", []byte(`{"by":"bob"}`), nil); r.status != 404 {
		t.Fatalf("second decision: %d %s", r.status, r.body)
	}

	mustRun(t, d.dir, "sm", "start", "approval", "--name", "r2", "--input", `{"id":"r2","amount":9000}`)
	waitFor(t, time.Minute, "r2 to wait for a decision", func() error { return waiting("r2") })
	if r := do(t, "POST", d.url+"/requests/r2/reject", []byte(`{"by":"bob","reason":"over budget"}`), nil); r.status != 202 {
		t.Fatalf("reject: %d %s", r.status, r.body)
	}
	got = smWait(t, d.dir, "approval", "r2")
	if got.Status != "SUCCEEDED" || got.Output != `{"id":"r2","reason":"bob: over budget","status":"rejected"}` {
		t.Fatalf("r2: %+v", got)
	}
	hist := mustRun(t, d.dir, "sm", "history", "approval", "r2")
	for _, want := range []string{"ExecutionStarted", "TaskScheduled", "TaskFailed", "Rejected", "ExecutionSucceeded"} {
		if !strings.Contains(hist, want) {
			t.Fatalf("history lacks %s:\n%s", want, hist)
		}
	}
}
