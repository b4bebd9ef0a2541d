package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The bad input of durable workflows (issue 5) and what a user coming from
// Temporal or Step Functions pokes at first: unknown workflows, payloads
// that are not JSON or not of the declared type, signals and cancels that
// come too late, activities that never answer or stop heartbeating, the
// history limit and continue-as-new, a panicking workflow, idempotent
// starts, terminate and restart, a fan-out with one failing item. One
// `strata dev` of e2e/testdata/wferrors serves every subtest; each uses
// its own execution ids.

// wfeView is what `strata workflow show --json` prints.
type wfeView struct {
	Execution struct {
		ID         string          `json:"id"`
		Workflow   string          `json:"workflow"`
		Status     string          `json:"status"`
		Run        int             `json:"run"`
		Input      json.RawMessage `json:"input"`
		Output     json.RawMessage `json:"output"`
		Error      *wfeError       `json:"error"`
		HistoryLen int             `json:"history_len"`
	} `json:"execution"`
	Events []wfeEvent `json:"events"`
}

// wfeError is an execution's or a step's error (wire.FlowError).
type wfeError struct {
	Type     string `json:"type"`
	Message  string `json:"message"`
	Step     int    `json:"step"`
	Name     string `json:"name"`
	Attempts int    `json:"attempts"`
}

type wfeEvent struct {
	Seq  int    `json:"seq"`
	Type string `json:"type"`
	Step int    `json:"step"`
	Name string `json:"name"`
	Data struct {
		Input   json.RawMessage `json:"input"`
		Output  json.RawMessage `json:"output"`
		Error   *wfeError       `json:"error"`
		Attempt int             `json:"attempt"`
		Details json.RawMessage `json:"details"`
	} `json:"data"`
}

// events returns the events of a type (any step).
func (v wfeView) events(typ string) []wfeEvent {
	var out []wfeEvent
	for _, e := range v.Events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func (v wfeView) timeline() string {
	var b strings.Builder
	for _, e := range v.Events {
		fmt.Fprintf(&b, "  %d %s step %d %s\n", e.Seq, e.Type, e.Step, e.Name)
	}
	return b.String()
}

// caught is what the wferrors workflows that catch a step's error output.
type caught struct {
	IsTimeout bool   `json:"is_timeout"`
	Type      string `json:"type"`
	Message   string `json:"message"`
	Step      int    `json:"step"`
	Name      string `json:"name"`
	Attempts  int    `json:"attempts"`
	Results   []int  `json:"results"`
}

// wfe drives the shared dev server.
type wfe struct{ d *dev }

func (w wfe) show(t *testing.T, id string, args ...string) wfeView {
	t.Helper()
	var v wfeView
	out := mustRun(t, w.d.dir, append([]string{"workflow", "show", id, "--json"}, args...)...)
	require.NoError(t, json.Unmarshal([]byte(out), &v), "workflow show %s --json:\n%s", id, out)
	return v
}

// closed waits until the execution is no longer running and requires the
// status want. An execution another function starts (a queue consumer, a
// schedule) may not exist yet at first: not found is waited out too.
func (w wfe) closed(t *testing.T, id, want string) wfeView {
	t.Helper()
	var v wfeView
	waitFor(t, eventsWait, "execution "+id+" to close", func() error {
		if _, errOut, code := run(t, w.d.dir, nil, "workflow", "show", id); code == 1 && strings.Contains(errOut, "not found (404)") {
			return fmt.Errorf("not started yet: %s", errOut)
		}
		v = w.show(t, id)
		if v.Execution.Status == "running" {
			return fmt.Errorf("still running after %d events:\n%s", len(v.Events), v.timeline())
		}
		return nil
	})
	require.Equal(t, want, v.Execution.Status, "execution %s: error %+v\n%s", id, v.Execution.Error, v.timeline())
	return v
}

// start runs `strata workflow start` and requires the id it prints.
func (w wfe) start(t *testing.T, workflow, id, data string) {
	t.Helper()
	args := []string{"workflow", "start", workflow, "--id", id}
	if data != "" {
		args = append(args, "--data", data)
	}
	require.Equal(t, id, strings.TrimSpace(mustRun(t, w.d.dir, args...)))
}

// fails runs the CLI, requires the exit code and returns stderr.
func (w wfe) fails(t *testing.T, code int, args ...string) string {
	t.Helper()
	out, errOut, got := run(t, w.d.dir, nil, args...)
	require.Equal(t, code, got, "strata %v: stdout %q stderr %q", args, out, errOut)
	return errOut
}

// api calls the admin API (path under /_strata/api/v1).
func (w wfe) api(t *testing.T, method, path string, body []byte) response {
	t.Helper()
	return do(t, method, w.d.url+"/_strata/api/v1"+path, body,
		map[string]string{"Authorization": "Bearer " + w.d.token, "Content-Type": "application/json"})
}

// wfeAPIError requires an error answer of the status and returns its message.
func wfeAPIError(t *testing.T, r response, status int) string {
	t.Helper()
	require.Equal(t, status, r.status, "answer: %s", r.body)
	var e struct {
		Error  string `json:"error"`
		Status int    `json:"status"`
	}
	require.NoError(t, json.Unmarshal(r.body, &e), "error body %s", r.body)
	require.Equal(t, status, e.Status, "error body %s", r.body)
	return e.Error
}

// logsWith waits until the function's logs match every pattern.
func (w wfe) logsWith(t *testing.T, function string, patterns ...string) string {
	t.Helper()
	var logs string
	waitFor(t, eventsWait, function+" logs", func() error {
		logs = mustRun(t, w.d.dir, "logs", function)
		for _, p := range patterns {
			if !regexp.MustCompile(p).MatchString(logs) {
				return fmt.Errorf("no line matches %q in:\n%s", p, logs)
			}
		}
		return nil
	})
	return logs
}

func TestWorkflowErrors(t *testing.T) {
	t.Parallel()
	d := startDevIn(t, copyTree(t, filepath.Join(repoRoot(), "e2e", "testdata", "wferrors")))
	requireDeployed(t, d)
	w := wfe{d: d}

	t.Run("started from a queue and a schedule", func(t *testing.T) {
		t.Parallel()
		// A queue consumer starts one execution per message, with the
		// message id as the execution id (flow.Start from any function).
		msg := strings.TrimSpace(mustRun(t, d.dir, "queue", "send", "jobs", "--data", "41"))
		require.NotEmpty(t, msg)
		v := w.closed(t, "job-"+msg, "completed")
		require.JSONEq(t, "42", string(v.Execution.Output))
		// The schedule (every 2 s) starts them too.
		waitFor(t, eventsWait, "a scheduled execution", func() error {
			out := mustRun(t, d.dir, "workflow", "list", "--workflow", "quick", "--status", "completed")
			if !strings.Contains(out, "tick-") {
				return fmt.Errorf("no tick-* execution completed yet:\n%s", out)
			}
			return nil
		})
	})

	t.Run("unknown workflow", func(t *testing.T) {
		t.Parallel()
		errOut := w.fails(t, 1, "workflow", "start", "no-such-flow", "--id", "wfe-unknown")
		require.Contains(t, errOut, "404")
		require.Contains(t, errOut, `unknown workflow: "no-such-flow"`)
		require.Contains(t, errOut, "strata.yaml", "the error says where workflows are declared")

		msg := wfeAPIError(t, w.api(t, "POST", "/executions", jsonBody(map[string]any{"workflow": "no-such-flow", "id": "wfe-unknown"})), http.StatusNotFound)
		require.Contains(t, msg, `"no-such-flow"`)

		// Nothing was created under the id.
		require.Contains(t, w.fails(t, 1, "workflow", "show", "wfe-unknown"), "not found")
		wfeAPIError(t, w.api(t, "GET", "/executions/wfe-unknown", nil), http.StatusNotFound)
	})

	t.Run("payload that is not JSON", func(t *testing.T) {
		t.Parallel()
		// The CLI refuses before sending anything.
		errOut := w.fails(t, 2, "workflow", "start", "typed", "--id", "wfe-notjson", "--data", "{bad")
		require.Contains(t, errOut, "--data is not valid JSON")
		errOut = w.fails(t, 2, "workflow", "start", "typed", "--id", "wfe-notjson", "--data", "plain text")
		require.Contains(t, errOut, `a string needs its quotes`)

		// The admin API: the body (with the input in it) is not JSON.
		msg := wfeAPIError(t, w.api(t, "POST", "/executions", []byte(`{"workflow":"typed","id":"wfe-notjson","input":{bad}`)), http.StatusBadRequest)
		require.Contains(t, msg, "start wants")

		// The workflow route: the body is the input.
		r := do(t, "POST", d.url+"/orders", []byte("{bad"), map[string]string{"Idempotency-Key": "wfe-notjson", "Content-Type": "application/json"})
		msg = wfeAPIError(t, r, http.StatusBadRequest)
		require.Contains(t, msg, `workflow "typed"`)
		require.Contains(t, msg, "must be JSON")

		// None of them started anything.
		wfeAPIError(t, w.api(t, "GET", "/executions/wfe-notjson", nil), http.StatusNotFound)
	})

	t.Run("input of the wrong type", func(t *testing.T) {
		t.Parallel()
		// The control: an Order is accepted.
		w.start(t, "typed", "wfe-type-ok", `{"id":"a1","qty":2}`)
		v := w.closed(t, "wfe-type-ok", "completed")
		require.JSONEq(t, `"order a1 x2"`, string(v.Execution.Output))

		// A string where the workflow takes a struct: the platform cannot
		// know the Go type, so the start succeeds and the SDK fails the
		// execution when it decodes the input.
		w.start(t, "typed", "wfe-type-cli", `"just a string"`)
		r := do(t, "POST", d.url+"/orders", []byte(`[1,2]`), map[string]string{"Idempotency-Key": "wfe-type-route"})
		require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
		r = w.api(t, "POST", "/executions", jsonBody(map[string]any{"workflow": "typed", "id": "wfe-type-api", "input": 42}))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		for id, got := range map[string]string{"wfe-type-cli": "string", "wfe-type-route": "array", "wfe-type-api": "number"} {
			v := w.closed(t, id, "failed")
			e := v.Execution.Error
			require.NotNil(t, e)
			require.Equal(t, "BadInput", e.Type, "%s: %+v", id, e)
			require.Contains(t, e.Message, "workflow typed")
			require.Contains(t, e.Message, "cannot unmarshal "+got)
			require.Contains(t, e.Message, "main.Order", "%s: the error names the declared type", id)
			// It failed before any step, and said so in the history.
			require.Len(t, v.Events, 2, v.timeline())
			require.Equal(t, "failed", v.Events[1].Type)
		}
		require.Contains(t, mustRun(t, d.dir, "workflow", "show", "wfe-type-cli"), "BadInput: workflow typed: decode input")
	})

	t.Run("signals to unknown and finished executions", func(t *testing.T) {
		t.Parallel()
		errOut := w.fails(t, 1, "workflow", "signal", "wfe-sig-nobody", "go", "--data", `"x"`)
		require.Equal(t, "error: signal go: execution \"wfe-sig-nobody\" not found (404)\n", errOut)
		msg := wfeAPIError(t, w.api(t, "POST", "/executions/wfe-sig-nobody/signals/go", []byte(`"x"`)), http.StatusNotFound)
		require.Contains(t, msg, "wfe-sig-nobody")

		w.start(t, "waiter", "wfe-sig", "")
		// A value that is not JSON is refused by both, and not delivered.
		require.Contains(t, w.fails(t, 2, "workflow", "signal", "wfe-sig", "go", "--data", "hello"), "--data is not valid JSON")
		msg = wfeAPIError(t, w.api(t, "POST", "/executions/wfe-sig/signals/go", []byte("hello")), http.StatusBadRequest)
		require.Contains(t, msg, "JSON")

		require.Equal(t, "sent signal go to wfe-sig\n", mustRun(t, d.dir, "workflow", "signal", "wfe-sig", "go", "--data", `"hello"`))
		v := w.closed(t, "wfe-sig", "completed")
		require.JSONEq(t, `"hello"`, string(v.Execution.Output))

		errOut = w.fails(t, 1, "workflow", "signal", "wfe-sig", "go", "--data", `"again"`)
		require.Equal(t, "error: signal go: execution \"wfe-sig\" is completed (409)\n", errOut)
		msg = wfeAPIError(t, w.api(t, "POST", "/executions/wfe-sig/signals/go", []byte(`"again"`)), http.StatusConflict)
		require.Equal(t, `signal go: execution "wfe-sig" is completed`, msg)
		// The late signal changed nothing.
		after := w.show(t, "wfe-sig")
		require.Equal(t, v.Events, after.Events)
	})

	t.Run("cancel and terminate of a finished execution", func(t *testing.T) {
		t.Parallel()
		w.start(t, "quick", "wfe-cancel-done", "1")
		v := w.closed(t, "wfe-cancel-done", "completed")
		require.JSONEq(t, "2", string(v.Execution.Output))

		errOut := w.fails(t, 1, "workflow", "cancel", "wfe-cancel-done")
		require.Equal(t, "error: cancel: execution \"wfe-cancel-done\" is completed (409)\n", errOut)
		wfeAPIError(t, w.api(t, "POST", "/executions/wfe-cancel-done/cancel", nil), http.StatusConflict)
		msg := wfeAPIError(t, w.api(t, "POST", "/executions/wfe-cancel-done/terminate", []byte(`{"reason":"late"}`)), http.StatusConflict)
		require.Equal(t, `terminate: execution "wfe-cancel-done" is completed`, msg)
		wfeAPIError(t, w.api(t, "POST", "/executions/wfe-cancel-nobody/cancel", nil), http.StatusNotFound)

		after := w.show(t, "wfe-cancel-done")
		require.Equal(t, "completed", after.Execution.Status)
		require.Equal(t, v.Events, after.Events, "a refused cancel leaves the history alone")
	})

	t.Run("activity that never answers", func(t *testing.T) {
		t.Parallel()
		// slow-call: StartToClose 1s, 2 attempts, against a 5s activity.
		w.start(t, "slow-call", "wfe-slow", "")
		v := w.closed(t, "wfe-slow", "completed")
		var c caught
		require.NoError(t, json.Unmarshal(v.Execution.Output, &c))
		require.True(t, c.IsTimeout, "errors.Is(err, flow.ErrTimeout) in the workflow: %+v", c)
		require.Equal(t, caught{IsTimeout: true, Type: "Timeout", Message: c.Message, Step: 1, Name: "worker", Attempts: 2}, c)

		retries := v.events("call_retrying")
		require.Len(t, retries, 1, v.timeline())
		require.Equal(t, 1, retries[0].Step)
		require.Equal(t, 1, retries[0].Data.Attempt)
		require.Equal(t, "Timeout", retries[0].Data.Error.Type)
		failed := v.events("call_failed")
		require.Len(t, failed, 1, v.timeline())
		require.Equal(t, wfeError{Type: "Timeout", Message: c.Message, Step: 1, Name: "worker", Attempts: 2}, *failed[0].Data.Error)
		logs := w.logsWith(t, "worker", `sleep wfe-slow attempt 1\n`, `sleep wfe-slow attempt 2\n`)

		t.Run("the error names the step's timeout", func(t *testing.T) {
			// The step's limit was its 1s start-to-close, not the
			// function's 30s timeout.
			require.NotContains(t, c.Message, "30s", "message %q", c.Message)
			require.Contains(t, c.Message, "1s", "message %q", c.Message)
		})
		t.Run("the timed-out attempt is stopped", func(t *testing.T) {
			// Attempt 2 started after attempt 1 ended, so attempt 1's
			// lines are in: it must not have slept to its end.
			require.NotContains(t, logs, "sleep done wfe-slow attempt 1")
		})
	})

	t.Run("activity that stops heartbeating", func(t *testing.T) {
		t.Parallel()
		// no-heartbeat: Heartbeat 500ms, 2 attempts; the activity beats
		// three times 100ms apart, then sleeps 5s.
		w.start(t, "no-heartbeat", "wfe-quiet", "")
		v := w.closed(t, "wfe-quiet", "completed")
		var c caught
		require.NoError(t, json.Unmarshal(v.Execution.Output, &c))
		require.Equal(t, caught{IsTimeout: true, Type: "HeartbeatTimeout", Message: c.Message, Step: 1, Name: "worker", Attempts: 2}, c)
		require.Contains(t, c.Message, "stopped heartbeating")
		retries := v.events("call_retrying")
		require.Len(t, retries, 1, v.timeline())
		require.Equal(t, "HeartbeatTimeout", retries[0].Data.Error.Type)
		require.Len(t, v.events("call_failed"), 1, v.timeline())
		logs := w.logsWith(t, "worker", `quiet wfe-quiet attempt 1\n`, `quiet wfe-quiet attempt 2\n`)

		t.Run("the silent attempt is stopped", func(t *testing.T) {
			require.NotContains(t, logs, "quiet done wfe-quiet attempt 1")
		})
		t.Run("the last heartbeat's details are in the history", func(t *testing.T) {
			// sdk/go/flow.Heartbeat: details are "kept with the attempt
			// and shown in the history"; the last beat sent 2.
			require.JSONEq(t, "2", string(wfeOrNull(retries[0].Data.Details)), "call_retrying: %+v", retries[0])
		})
	})

	t.Run("history limit and continue-as-new", func(t *testing.T) {
		t.Parallel()
		// loop: 200 steps (400 events) in one run, history_limit 100.
		w.start(t, "loop", "wfe-limit", "200")
		v := w.closed(t, "wfe-limit", "failed")
		e := v.Execution.Error
		require.NotNil(t, e)
		require.Equal(t, "HistoryLimitExceeded", e.Type)
		require.Contains(t, e.Message, "100")
		require.Contains(t, e.Message, "workflow loop")
		require.Contains(t, e.Message, "ContinueAsNew")
		require.Equal(t, "failed", v.Events[len(v.Events)-1].Type)
		// The run stopped at the limit (plus the event that crossed it and
		// the closing one), far short of its 200 steps.
		require.LessOrEqual(t, len(v.Events), 102, v.timeline())
		require.LessOrEqual(t, len(v.events("call_completed")), 50)
		require.Regexp(t, `(?m)^Error\s+HistoryLimitExceeded: `, mustRun(t, d.dir, "workflow", "show", "wfe-limit"))

		// loop-can: 150 steps, 20 a run, ContinueAsNew between runs.
		w.start(t, "loop-can", "wfe-can", `{"Total":150}`)
		v = w.closed(t, "wfe-can", "completed")
		var out struct{ Done, Run int }
		require.NoError(t, json.Unmarshal(v.Execution.Output, &out))
		require.Equal(t, 150, out.Done)
		require.Greater(t, out.Run, 1)
		require.Equal(t, out.Run, v.Execution.Run, "the run the code saw is the execution's")
		// Every run stayed under the limit, and together they made each
		// step once.
		steps := 0
		for run := 1; run <= out.Run; run++ {
			rv := w.show(t, "wfe-can", "--run", fmt.Sprint(run))
			require.LessOrEqual(t, len(rv.Events), 100, "run %d:\n%s", run, rv.timeline())
			last := rv.Events[len(rv.Events)-1].Type
			if run < out.Run {
				require.Equal(t, "continued", last, "run %d", run)
			} else {
				require.Equal(t, "completed", last)
			}
			steps += len(rv.events("call_completed"))
		}
		require.Equal(t, 150, steps)
	})

	t.Run("workflow that panics", func(t *testing.T) {
		t.Parallel()
		w.start(t, "panics", "wfe-panic", "")
		v := w.closed(t, "wfe-panic", "failed")
		e := v.Execution.Error
		require.NotNil(t, e)
		require.Equal(t, "Panic", e.Type)
		require.Equal(t, "assignment to entry in nil map", e.Message)
		require.Len(t, v.events("call_completed"), 1, "the step before the panic is recorded:\n%s", v.timeline())
		// The stack is in the orchestrator function's logs, down to the
		// line of the workflow that panicked.
		w.logsWith(t, "orch",
			`workflow panics \(execution wfe-panic\) panicked: assignment to entry in nil map`,
			`goroutine \d+ \[running\]`,
			`orch/main\.go:\d+`)
	})

	t.Run("workflow declared but not in the code", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct{ workflow, fn string }{{"ghost", "orch"}, {"stepless", "worker"}} {
			id := "wfe-" + c.workflow
			w.start(t, c.workflow, id, "")
			v := w.closed(t, id, "failed")
			require.NotNil(t, v.Execution.Error)
			require.Equal(t, "UnknownWorkflow", v.Execution.Error.Type, "%s: %+v", c.workflow, v.Execution.Error)
			require.Contains(t, v.Execution.Error.Message, c.workflow)
		}
	})

	t.Run("idempotent start", func(t *testing.T) {
		t.Parallel()
		w.start(t, "quick", "wfe-idem", "1")
		out := strings.TrimSpace(mustRun(t, d.dir, "workflow", "start", "quick", "--id", "wfe-idem", "--data", "5"))
		require.Regexp(t, `^wfe-idem \(existing, (running|completed)\)$`, out)
		r := w.api(t, "POST", "/executions", jsonBody(map[string]any{"workflow": "quick", "id": "wfe-idem", "input": 9}))
		require.Equal(t, http.StatusOK, r.status, "an existing id is 200, not 201: %s", r.body)
		r = do(t, "POST", d.url+"/orders", []byte(`{"id":"r1","qty":1}`), map[string]string{"Idempotency-Key": "wfe-idem-route"})
		require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
		r = do(t, "POST", d.url+"/orders", []byte(`{"id":"r2","qty":2}`), map[string]string{"Idempotency-Key": "wfe-idem-route"})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		require.JSONEq(t, `{"id":"wfe-idem-route","workflow":"typed","status":"`+wfeStatusIn(t, r.body)+`","created":false}`, string(r.body))

		v := w.closed(t, "wfe-idem", "completed")
		require.JSONEq(t, "2", string(v.Execution.Output), "the first start's input")
		require.Equal(t, 1, v.Execution.Run)
		v = w.closed(t, "wfe-idem-route", "completed")
		require.JSONEq(t, `"order r1 x1"`, string(v.Execution.Output))
		for wf, id := range map[string]string{"quick": "wfe-idem", "typed": "wfe-idem-route"} {
			list := mustRun(t, d.dir, "workflow", "list", "--workflow", wf, "--limit", "1000")
			rows := regexp.MustCompile(`(?m)^`+id+`\s`).FindAllString(list, -1)
			require.Len(t, rows, 1, "executions of %s with id %s:\n%s", wf, id, list)
		}
	})

	t.Run("terminate and restart", func(t *testing.T) {
		t.Parallel()
		w.start(t, "waiter", "wfe-term", "")
		waitFor(t, eventsWait, "wfe-term to wait for its signal", func() error {
			if v := w.show(t, "wfe-term"); len(v.events("signal_waiting")) == 0 {
				return fmt.Errorf("not waiting yet:\n%s", v.timeline())
			}
			return nil
		})
		require.Contains(t, w.fails(t, 2, "workflow", "terminate", "wfe-term"), "needs --reason")
		require.Contains(t, w.fails(t, 1, "workflow", "restart", "wfe-term"), "409", "a running execution cannot restart")
		require.Equal(t, "terminated wfe-term\n", mustRun(t, d.dir, "workflow", "terminate", "wfe-term", "--reason", "operator: order stuck"))

		v := w.show(t, "wfe-term")
		require.Equal(t, "terminated", v.Execution.Status)
		require.NotNil(t, v.Execution.Error)
		require.Contains(t, v.Execution.Error.Message, "operator: order stuck")
		require.Equal(t, "terminated", v.Events[len(v.Events)-1].Type)
		require.Regexp(t, `(?m)^Status\s+terminated$`, mustRun(t, d.dir, "workflow", "show", "wfe-term"))
		require.Regexp(t, `(?m)^Error\s+.*operator: order stuck`, mustRun(t, d.dir, "workflow", "show", "wfe-term"))
		require.Contains(t, w.fails(t, 1, "workflow", "signal", "wfe-term", "go", "--data", `"late"`), "409")

		require.Equal(t, "restarted wfe-term: run 2, running\n", mustRun(t, d.dir, "workflow", "restart", "wfe-term"))
		waitFor(t, eventsWait, "run 2 to wait for its signal", func() error {
			if v := w.show(t, "wfe-term"); len(v.events("signal_waiting")) == 0 {
				return fmt.Errorf("not waiting yet:\n%s", v.timeline())
			}
			return nil
		})
		mustRun(t, d.dir, "workflow", "signal", "wfe-term", "go", "--data", `"second run"`)
		v = w.closed(t, "wfe-term", "completed")
		require.Equal(t, 2, v.Execution.Run)
		require.JSONEq(t, `"second run"`, string(v.Execution.Output))
		run1 := w.show(t, "wfe-term", "--run", "1")
		require.Equal(t, "terminated", run1.Events[len(run1.Events)-1].Type, "run 1 keeps its history:\n%s", run1.timeline())
	})

	t.Run("map with one failing item", func(t *testing.T) {
		t.Parallel()
		w.start(t, "fanout", "wfe-map", `{"N":50,"Bad":17}`)
		v := w.closed(t, "wfe-map", "completed")
		var c caught
		require.NoError(t, json.Unmarshal(v.Execution.Output, &c))

		// The failing item's step is the one scheduled with its input.
		badStep := 0
		for _, e := range v.events("call_scheduled") {
			if wfeCompact(e.Data.Input) == `{"op":"fail","n":17}` {
				badStep = e.Step
			}
		}
		require.NotZero(t, badStep, v.timeline())
		require.Equal(t, caught{Type: "ItemRejected", Message: "item 17 is rejected", Step: badStep, Name: "worker", Attempts: 1, Results: c.Results}, c)

		require.Len(t, c.Results, 50)
		for i, r := range c.Results {
			want := i
			if i == 17 {
				want = 0
			}
			require.Equal(t, want, r, "result of item %d", i)
		}
		require.Len(t, v.events("call_scheduled"), 50)
		require.Len(t, v.events("call_completed"), 49)
		require.Empty(t, v.events("call_retrying"), "a non-retryable error is not retried")
		failed := v.events("call_failed")
		require.Len(t, failed, 1)
		require.Equal(t, badStep, failed[0].Step)
		require.Equal(t, "ItemRejected", failed[0].Data.Error.Type)
	})

	t.Run("CLI and API misuse", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, "error: execution \"wfe-nobody\" not found (404)\n", w.fails(t, 1, "workflow", "show", "wfe-nobody"))
		require.Contains(t, w.fails(t, 1, "workflow", "restart", "wfe-nobody"), "404")
		require.Contains(t, w.fails(t, 1, "workflow", "cancel", "wfe-nobody"), "404")
		require.Contains(t, w.fails(t, 1, "workflow", "list", "--status", "bogus"), "want running, completed, failed, canceled or terminated")
		require.Contains(t, w.fails(t, 1, "workflow", "start", "quick", "--id", "has space"), "400")
		require.Contains(t, w.fails(t, 1, "workflow", "start", "quick", "--id", strings.Repeat("x", 201)), "at most 200")
		msg := wfeAPIError(t, w.api(t, "POST", "/executions", []byte(`{"id":"wfe-noname"}`)), http.StatusBadRequest)
		require.Contains(t, msg, "workflow is missing")
		wfeAPIError(t, w.api(t, "GET", "/executions/wfe-nobody/history", nil), http.StatusNotFound)
	})
}

// wfeStatusIn returns the "status" of a JSON object (a running or completed
// execution, depending on how far it got).
func wfeStatusIn(t *testing.T, b []byte) string {
	t.Helper()
	var v struct{ Status string }
	require.NoError(t, json.Unmarshal(b, &v))
	return v.Status
}

func wfeOrNull(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

// wfeCompact is JSON on one line, for comparing values show --json indents.
func wfeCompact(b []byte) string {
	var c bytes.Buffer
	if err := json.Compact(&c, b); err != nil {
		return string(b)
	}
	return c.String()
}
