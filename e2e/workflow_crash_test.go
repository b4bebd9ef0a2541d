package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // reads the activity's trace database
)

// Crash and restart of durable workflows (issue 5, scope 5): `strata
// server` is killed with SIGKILL in the middle of an execution of
// e2e/testdata/wfcrash (during an activity, during a durable timer, just
// after a signal was acknowledged) and restarted on the same data, on SQLite
// and on PostgreSQL. The execution must resume and complete with the same
// result; no activity whose completion was recorded before the kill may run
// again, and nothing acknowledged may be lost. Then a non-determinism error
// through the real binary: a redeploy that reorders the steps of a waiting
// execution fails it cleanly, and the original code restarts it.
//
// The record of what ran is the trace database the activity writes one row
// per attempt to, before doing anything else: unlike logs, it survives the
// kill.

// wfWait bounds every wait. A restarted server takes over the executions
// of the killed one when their 30 s lease runs out, and the e2e tests run in
// parallel on two cores: generous.
const wfWait = 2 * time.Minute

// wfNode is a `strata server` whose state (data dir, and the store when it
// is PostgreSQL) outlives its process, so a test can kill it and start
// another on the same state.
type wfNode struct {
	t       *testing.T
	dataDir string
	store   []string // nil for SQLite in dataDir, else pgStoreArgs (--store and --secret-key-file)
	project string   // this test's copy of testdata/wfcrash
	p       *proc
	url     string
	token   string // printed once, by the first start
}

func newWFNode(t *testing.T, store []string) *wfNode {
	t.Helper()
	n := &wfNode{t: t, dataDir: t.TempDir(), store: store,
		project: copyTree(t, filepath.Join(repoRoot(), "e2e", "testdata", "wfcrash"))}
	n.start()
	out := n.cli("deploy")
	if !strings.Contains(out, "+ workflow crashy (crashy)") {
		t.Fatalf("deploy output:\n%s", out)
	}
	return n
}

// start runs a server on the node's state and waits until it serves.
func (n *wfNode) start() {
	n.t.Helper()
	// A restart listens on the port the node had, as a production node
	// does: its default id (host and port) stays the same, so it takes
	// its durable objects back at once instead of after their lease.
	addr := "127.0.0.1:0"
	if n.url != "" {
		addr = strings.TrimPrefix(n.url, "http://")
	}
	args := []string{"server", "--addr", addr, "--data-dir", n.dataDir}
	args = append(args, n.store...)
	n.p = startProc(n.t, n.dataDir, args...)
	urlRe := regexp.MustCompile(`serving on (http://\S+)`)
	tokRe := regexp.MustCompile(`admin token \(shown once, store it now\): (\S+)`)
	n.url = ""
	p := n.p
	eventually(n.t, time.Minute, "strata server to start", func() bool {
		if p.exited() {
			n.t.Fatalf("strata server exited:\n%s\n%s", p.out, p.err)
		}
		if m := urlRe.FindStringSubmatch(p.out.String()); m != nil {
			n.url = m[1]
		}
		if m := tokRe.FindStringSubmatch(p.out.String()); m != nil {
			n.token = m[1]
		}
		return n.url != "" && n.token != ""
	})
}

// kill ends the server with SIGKILL: no shutdown, no lease given back.
func (n *wfNode) kill() {
	n.t.Helper()
	if err := n.p.cmd.Process.Kill(); err != nil {
		n.t.Fatal(err)
	}
	<-n.p.done
}

// cli runs the strata CLI in the project against this node.
func (n *wfNode) cli(args ...string) string {
	n.t.Helper()
	return mustRun(n.t, n.project, append(args, "--server", n.url, "--token", n.token)...)
}

// signal sends a signal through the admin API and requires the 202 that
// acknowledges it.
func (n *wfNode) signal(id, name string, value any) {
	n.t.Helper()
	r := do(n.t, "POST", n.url+"/_strata/api/v1/executions/"+id+"/signals/"+name, jsonBody(value),
		map[string]string{"Authorization": "Bearer " + n.token, "Content-Type": "application/json"})
	if r.status != 202 {
		n.t.Fatalf("signal %s to %s: %d %s, want 202", name, id, r.status, r.body)
	}
}

// wfEvent is a history event as `strata workflow show --json` prints it.
type wfEvent struct {
	Seq  int             `json:"seq"`
	Type string          `json:"type"`
	Step int             `json:"step"`
	Name string          `json:"name"`
	Data json.RawMessage `json:"data"`
}

// same reports whether two events are the same record; Data compares as
// compact JSON.
func (e wfEvent) same(o wfEvent) bool {
	var a, b bytes.Buffer
	_ = json.Compact(&a, e.Data)
	_ = json.Compact(&b, o.Data)
	return e.Seq == o.Seq && e.Type == o.Type && e.Step == o.Step && e.Name == o.Name && a.String() == b.String()
}

func (e wfEvent) String() string {
	return fmt.Sprintf("#%d %s step %d %s %s", e.Seq, e.Type, e.Step, e.Name, e.Data)
}

// wfError is a recorded workflow error.
type wfError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Step    int    `json:"step"`
	Name    string `json:"name"`
}

// wfState is `strata workflow show ID --json`.
type wfState struct {
	Execution struct {
		ID     string          `json:"id"`
		Run    int             `json:"run"`
		Status string          `json:"status"`
		Output json.RawMessage `json:"output"`
		Error  json.RawMessage `json:"error"`
	} `json:"execution"`
	Events []wfEvent `json:"events"`
}

func (n *wfNode) show(id string) wfState {
	n.t.Helper()
	out := n.cli("workflow", "show", id, "--json")
	var s wfState
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		n.t.Fatalf("workflow show %s --json: %v\n%s", id, err, out)
	}
	return s
}

// count is the number of events of a type (and, if step > 0, that step).
func (s wfState) count(typ string, step int) int {
	c := 0
	for _, e := range s.Events {
		if e.Type == typ && (step == 0 || e.Step == step) {
			c++
		}
	}
	return c
}

// stepOf is the step of the call to the activity for step name (A, B, C),
// 0 if the history has not scheduled it.
func (s wfState) stepOf(name string) int {
	for _, e := range s.Events {
		var in struct {
			Input struct{ Name string } `json:"input"`
		}
		if e.Type == "call_scheduled" && json.Unmarshal(e.Data, &in) == nil && in.Input.Name == name {
			return e.Step
		}
	}
	return 0
}

// completed reports whether the call for step name is completed.
func (s wfState) completed(name string) bool {
	k := s.stepOf(name)
	return k > 0 && s.count("call_completed", k) > 0
}

func (s wfState) dump() string {
	var b strings.Builder
	fmt.Fprintf(&b, "execution %s run %d %s output %s error %s\n", s.Execution.ID, s.Execution.Run, s.Execution.Status, s.Execution.Output, s.Execution.Error)
	for _, e := range s.Events {
		fmt.Fprintf(&b, "  %s\n", e)
	}
	return b.String()
}

// waitState polls the execution until cond holds and returns that state.
func (n *wfNode) waitState(id, what string, cond func(wfState) error) wfState {
	n.t.Helper()
	var s wfState
	waitFor(n.t, wfWait, what, func() error {
		s = n.show(id)
		if err := cond(s); err != nil {
			return fmt.Errorf("%w\n%s", err, s.dump())
		}
		return nil
	})
	return s
}

// attempt is one row of the trace database: one attempt of a step.
type attempt struct {
	id      int64 // in the order attempts started
	step    int
	name    string
	attempt int
}

// attempts reads the trace of an execution from the SQLite database the
// activity writes to (the server's data dir). Before the first attempt
// the table does not exist: no attempts.
func (n *wfNode) attempts(execution string) []attempt {
	n.t.Helper()
	path := filepath.Join(n.dataDir, "databases", "trace.db")
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return nil
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		n.t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`select id, step, name, attempt from attempts where execution = ? order by id`, execution)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return nil
		}
		n.t.Fatalf("read the trace: %v", err)
	}
	defer rows.Close()
	var out []attempt
	for rows.Next() {
		var a attempt
		if err := rows.Scan(&a.id, &a.step, &a.name, &a.attempt); err != nil {
			n.t.Fatal(err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		n.t.Fatal(err)
	}
	return out
}

// ran counts the attempts of step name, and those with an id above after.
func ran(as []attempt, name string, after int64) (total, since int) {
	for _, a := range as {
		if a.name == name {
			total++
			if a.id > after {
				since++
			}
		}
	}
	return total, since
}

// crashInput is the input of every crash scenario: step B takes 4 s and the
// timer 4 s, windows wide enough to kill the server in.
func crashInput(value string) string {
	return fmt.Sprintf(`{"value":%q,"b_ms":4000,"timer_ms":4000}`, value)
}

// crashOutput is what crashy answers for an input value and a signal value.
func crashOutput(value, sig string) string {
	b, _ := json.Marshal(fmt.Sprintf("C(B(A(%s))+%s)", value, sig))
	return string(b)
}

// crashScenario is one kill: the moment to kill at (a condition on the
// history and the trace) and what to do right before the kill.
type crashScenario struct {
	name   string
	moment string
	at     func(s wfState, as []attempt) error
	// beforeKill runs right after the moment is reached (scenario c sends
	// the signal here); it returns the signal value if it sent one.
	beforeKill func(n *wfNode, id string) string
}

var crashScenarios = []crashScenario{
	{
		name:   "DuringActivity",
		moment: "step B to be running (its attempt recorded, its completion not)",
		at: func(s wfState, as []attempt) error {
			if s.stepOf("B") == 0 || s.completed("B") {
				return fmt.Errorf("step B not scheduled, or already completed")
			}
			if n, _ := ran(as, "B", 0); n == 0 {
				return fmt.Errorf("step B has not started")
			}
			return nil
		},
	},
	{
		name:   "DuringTimer",
		moment: "the durable timer to be running",
		at: func(s wfState, _ []attempt) error {
			if s.count("timer_started", 0) != 1 || s.count("timer_fired", 0) != 0 {
				return fmt.Errorf("the timer is not running")
			}
			return nil
		},
	},
	{
		name:   "SignalArrives",
		moment: "the execution to wait for its signal",
		at: func(s wfState, _ []attempt) error {
			if s.count("signal_waiting", 0) != 1 {
				return fmt.Errorf("not waiting for the signal")
			}
			return nil
		},
		beforeKill: func(n *wfNode, id string) string {
			n.signal(id, "go", "sent-before-the-kill")
			return "sent-before-the-kill"
		},
	},
}

func TestWorkflowCrashSQLite(t *testing.T) {
	t.Parallel()
	for _, sc := range crashScenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			runCrashScenario(t, nil, sc)
		})
	}
}

func TestWorkflowCrashPostgres(t *testing.T) {
	pg := os.Getenv("STRATA_TEST_POSTGRES")
	if pg == "" {
		t.Skip("STRATA_TEST_POSTGRES not set")
	}
	t.Parallel()
	for _, sc := range crashScenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			// A schema of its own per scenario, dropped at the end.
			runCrashScenario(t, pgStoreArgs(t, "strata_e2e_wfcrash"), sc)
		})
	}
}

// runCrashScenario starts an execution of crashy, kills the server at the
// scenario's moment, restarts it on the same state and checks that the
// execution completes with the expected output, that every activity
// completed before the kill ran exactly once, that every step ran at least
// once and that the history before the kill is the start of the history
// after it.
func runCrashScenario(t *testing.T, store []string, sc crashScenario) {
	began := time.Now()
	n := newWFNode(t, store)
	id := "crash-" + strings.ToLower(sc.name)
	if out := strings.TrimSpace(n.cli("workflow", "start", "crashy", "--id", id, "--data", crashInput(id))); out != id {
		t.Fatalf("workflow start printed %q, want %s", out, id)
	}

	before := n.waitState(id, sc.moment, func(s wfState) error {
		if s.Execution.Status != "running" {
			t.Fatalf("execution %s before the kill:\n%s", s.Execution.Status, s.dump())
		}
		return sc.at(s, n.attempts(id))
	})
	sig := "sent-after-the-restart"
	if sc.beforeKill != nil {
		sig = sc.beforeKill(n, id)
	}
	n.kill()
	killed := time.Now()
	// The server is dead: the trace now holds every attempt that started
	// before the kill.
	atKill := n.attempts(id)
	var lastAtKill int64
	if len(atKill) > 0 {
		lastAtKill = atKill[len(atKill)-1].id
	}
	t.Logf("killed at %q with %d events in the history, %d attempts in the trace", sc.moment, len(before.Events), len(atKill))

	n.start()
	if sc.beforeKill == nil {
		n.waitState(id, "the restarted server to resume the execution up to its signal", func(s wfState) error {
			if s.Execution.Status != "running" {
				t.Fatalf("execution %s after the restart, before its signal:\n%s", s.Execution.Status, s.dump())
			}
			if s.count("signal_waiting", 0) != 1 {
				return fmt.Errorf("not waiting for the signal yet")
			}
			return nil
		})
		n.signal(id, "go", sig)
	}
	after := n.waitState(id, "the execution to complete", func(s wfState) error {
		switch s.Execution.Status {
		case "running":
			return fmt.Errorf("still running")
		case "completed":
			return nil
		}
		t.Fatalf("execution %s after the restart:\n%s", s.Execution.Status, s.dump())
		return nil
	})

	// The same result as without a crash.
	if want := crashOutput(id, sig); compactJSON(after.Execution.Output) != want {
		t.Fatalf("output %s, want %s\n%s", after.Execution.Output, want, after.dump())
	}
	// The history before the kill was kept as it was: what was recorded
	// is the start of what is recorded now.
	if len(after.Events) < len(before.Events) {
		t.Fatalf("the history shrank across the restart:\nbefore:\n%s\nafter:\n%s", before.dump(), after.dump())
	}
	for i, e := range before.Events {
		if !e.same(after.Events[i]) {
			t.Fatalf("event %d changed across the restart: %s, now %s", i+1, e, after.Events[i])
		}
	}
	// Each step completed once, the timer fired once, the signal was
	// received once.
	for _, name := range []string{"A", "B", "C"} {
		k := after.stepOf(name)
		if k == 0 || after.count("call_scheduled", k) != 1 || after.count("call_completed", k) != 1 {
			t.Fatalf("step %s (step %d): want scheduled and completed once:\n%s", name, k, after.dump())
		}
	}
	for _, typ := range []string{"timer_started", "timer_fired", "signal_waiting", "signal_received", "completed"} {
		if c := after.count(typ, 0); c != 1 {
			t.Fatalf("%d %s events, want 1:\n%s", c, typ, after.dump())
		}
	}

	// What ran: an activity whose completion was recorded before the kill
	// ran exactly once; one that had not started before the kill ran once
	// after it; one interrupted by the kill ran again after the restart.
	as := n.attempts(id)
	for _, name := range []string{"A", "B", "C"} {
		total, since := ran(as, name, lastAtKill)
		switch {
		case before.completed(name):
			if total != 1 {
				t.Fatalf("step %s completed before the kill but ran %d times: %+v", name, total, as)
			}
		case total == since:
			if total != 1 {
				t.Fatalf("step %s started after the restart and ran %d times, want once: %+v", name, total, as)
			}
		case sc.name == "DuringActivity" && name == "B":
			if since == 0 {
				t.Fatalf("step B was running at the kill and did not run again: %+v", as)
			}
		}
		t.Logf("step %s: %d attempt(s), %d after the restart", name, total, since)
	}
	t.Logf("%s: %s in all; killed after %s, completed %s after the kill", sc.name, time.Since(began).Round(time.Second),
		killed.Sub(began).Round(time.Second), time.Since(killed).Round(time.Second))
}

func compactJSON(b []byte) string {
	var c bytes.Buffer
	if err := json.Compact(&c, b); err != nil {
		return string(b)
	}
	return c.String()
}

// TestWorkflowNonDeterminism redeploys crashy with its timer moved before
// step B while an execution waits for its signal: the signal's replay no
// longer matches the history, so the execution fails with NonDeterminism
// naming step B's step, and its history is kept as it was. The original
// code, redeployed, continues it with restart --from-failure.
func TestWorkflowNonDeterminism(t *testing.T) {
	t.Parallel()
	began := time.Now()
	n := newWFNode(t, nil)
	const id = "nondeterminism"
	n.cli("workflow", "start", "crashy", "--id", id, "--data", `{"value":"nd","b_ms":0,"timer_ms":100}`)
	waiting := n.waitState(id, "the execution to wait for its signal", func(s wfState) error {
		if s.Execution.Status != "running" {
			t.Fatalf("execution %s:\n%s", s.Execution.Status, s.dump())
		}
		if s.count("signal_waiting", 0) != 1 {
			return fmt.Errorf("not waiting for the signal yet")
		}
		return nil
	})
	stepB := waiting.stepOf("B")

	// The reordered code: the timer first, then step B.
	main := filepath.Join(n.project, "crashy", "main.go")
	editFile(t, main, "const swapped = false", "const swapped = true")
	if out := n.cli("deploy"); !strings.Contains(out, "~ function crashy") {
		t.Fatalf("deploy of the reordered workflow:\n%s", out)
	}
	n.signal(id, "go", "before-the-fix")
	failed := n.waitState(id, "the execution to fail", func(s wfState) error {
		if s.Execution.Status == "running" {
			return fmt.Errorf("still running")
		}
		return nil
	})
	var fe wfError
	if failed.Execution.Status != "failed" || json.Unmarshal(failed.Execution.Error, &fe) != nil {
		t.Fatalf("want a failed execution with an error:\n%s", failed.dump())
	}
	if fe.Type != "NonDeterminism" || fe.Step != stepB ||
		!strings.Contains(fe.Message, fmt.Sprintf("at step %d:", stepB)) ||
		!strings.Contains(fe.Message, `the history records call "step", the code now asks for sleep`) {
		t.Fatalf("error %+v: want NonDeterminism at step %d (step B), naming the recorded call and the new sleep", fe, stepB)
	}
	// The history is intact: everything recorded while it waited, then the
	// failure, and nothing else.
	if len(failed.Events) != len(waiting.Events)+1 || failed.Events[len(failed.Events)-1].Type != "failed" {
		t.Fatalf("history after the failure: want the %d events before it and one failed event:\nbefore:\n%s\nafter:\n%s",
			len(waiting.Events), waiting.dump(), failed.dump())
	}
	for i, e := range waiting.Events {
		if !e.same(failed.Events[i]) {
			t.Fatalf("event %d changed by the failure: %s, now %s", i+1, e, failed.Events[i])
		}
	}
	// The failed replay ran no activity again.
	as := n.attempts(id)
	for _, name := range []string{"A", "B"} {
		if total, _ := ran(as, name, 0); total != 1 {
			t.Fatalf("step %s ran %d times, want once: %+v", name, total, as)
		}
	}

	// The original code continues it from the failure, with the results
	// recorded before it.
	editFile(t, main, "const swapped = true", "const swapped = false")
	if out := n.cli("deploy"); !strings.Contains(out, "~ function crashy") {
		t.Fatalf("deploy of the original workflow:\n%s", out)
	}
	if out := strings.TrimSpace(n.cli("workflow", "restart", id, "--from-failure")); out != "restarted "+id+": run 1, running" {
		t.Fatalf("restart --from-failure printed %q", out)
	}
	// The signal sent before the fix was acknowledged and not consumed by
	// the failed run: the failed execution kept it, and the restart uses
	// it without a new one.
	done := n.waitState(id, "the restarted execution to complete", func(s wfState) error {
		switch s.Execution.Status {
		case "running":
			return fmt.Errorf("still running")
		case "completed":
			return nil
		}
		t.Fatalf("execution %s after restart --from-failure:\n%s", s.Execution.Status, s.dump())
		return nil
	})
	if want := crashOutput("nd", "before-the-fix"); compactJSON(done.Execution.Output) != want {
		t.Fatalf("output %s, want %s\n%s", done.Execution.Output, want, done.dump())
	}
	for i, e := range failed.Events {
		if !e.same(done.Events[i]) {
			t.Fatalf("event %d changed by the restart: %s, now %s", i+1, e, done.Events[i])
		}
	}
	as = n.attempts(id)
	for _, name := range []string{"A", "B", "C"} {
		if total, _ := ran(as, name, 0); total != 1 {
			t.Fatalf("step %s ran %d times, want once: %+v\n%s", name, total, as, done.dump())
		}
	}
	t.Logf("NonDeterminism: %s", time.Since(began).Round(time.Second))
}
