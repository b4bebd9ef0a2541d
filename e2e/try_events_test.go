package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// TestTryScheduleByHand: on examples/nightly-cron, a plain invoke of an
// event function is refused by the SDK and exits 1 with the body printed;
// --event schedule wraps a fire's event and runs it; schedules fire
// enqueues a real fire, which runs and is logged; bad names get exact
// messages.
func TestTryScheduleByHand(t *testing.T) {
	t.Parallel()
	d := startDev(t, "nightly-cron")
	requireDeployed(t, d)

	out, errOut, code := run(t, d.dir, nil, "invoke", "nightly-cleanup")
	if code != 1 || !strings.Contains(out, "request carries no CloudEvent") || !strings.Contains(errOut, "error: function answered 400 (invocation ") {
		t.Fatalf("plain invoke: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	out = mustRun(t, d.dir, "invoke", "nightly-cleanup", "--event", "schedule")
	if out != "{\"batchItemFailures\":[]}\n" {
		t.Fatalf("invoke --event schedule printed %q; the SDK's event handler answers an empty failure report", out)
	}
	cleanup := regexp.MustCompile(`nightly cleanup for (\S+): would delete records older than`)
	waitFor(t, eventsWait, "the tried fire in the logs", func() error {
		if n := len(cleanup.FindAllString(mustRun(t, d.dir, "logs", "nightly-cleanup"), -1)); n != 1 {
			return fmt.Errorf("%d cleanup lines", n)
		}
		return nil
	})

	out = mustRun(t, d.dir, "schedules", "fire", "nightly-cleanup")
	if !regexp.MustCompile(`^fired nightly-cleanup: event [0-9a-f-]{36} queued for nightly-cleanup \(strata logs nightly-cleanup shows the run\)\n$`).MatchString(out) {
		t.Fatalf("schedules fire printed %q", out)
	}
	waitFor(t, eventsWait, "the fired run in the logs", func() error {
		if n := len(cleanup.FindAllString(mustRun(t, d.dir, "logs", "nightly-cleanup"), -1)); n != 2 {
			return fmt.Errorf("%d cleanup lines", n)
		}
		return nil
	})

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"schedules", "fire", "nope"}, 1, "error: schedule \"nope\" not found (strata schedules lists them) (404)\n"},
		{[]string{"invoke", "nightly-cleanup", "--event", "queue"}, 1, "error: function nightly-cleanup is not triggered by any queue (its queue: in strata.yaml) (400)\n"},
		{[]string{"invoke", "nightly-cleanup", "--event", "cron"}, 2, "error: --event \"cron\": want queue, topic or schedule\n"},
		{[]string{"invoke", "nightly-cleanup", "--queue", "orders"}, 2, "error: --queue goes with --event queue only\n"},
		{[]string{"invoke", "nightly-cleanup", "--event", "schedule", "--schedule", "heartbeat"}, 1, "error: function nightly-cleanup is not triggered by schedule \"heartbeat\"; its schedule: nightly-cleanup (400)\n"},
	} {
		out, errOut, code := run(t, d.dir, nil, tc.args...)
		if code != tc.code || errOut != tc.want {
			t.Errorf("strata %s: exit %d, stderr %q; want exit %d, %q (stdout %q)", strings.Join(tc.args, " "), code, errOut, tc.code, tc.want, out)
		}
	}
}

// TestTryQueueByHand: on examples/order-queue, --event queue sends the
// batch a delivery would (the function reports the failing order as a
// batch item failure), a sample when there is no data, and queue peek
// shows messages without receiving them.
func TestTryQueueByHand(t *testing.T) {
	t.Parallel()
	d := startDev(t, "order-queue")
	requireDeployed(t, d)

	out := mustRun(t, d.dir, "invoke", "process-order", "--event", "queue", "--data", `{"id":7}`)
	if !regexp.MustCompile(`^\{"batchItemFailures":\[\{"itemIdentifier":"[0-9a-f-]{36}"\}\]\}\n?$`).MatchString(out) {
		t.Fatalf("invoke --event queue with a failing order printed %q", out)
	}
	mustRun(t, d.dir, "invoke", "process-order", "--event", "queue")
	waitFor(t, eventsWait, "both tries in the logs", func() error {
		logs := mustRun(t, d.dir, "logs", "process-order")
		if !strings.Contains(logs, "order 7 failed (event ") || !strings.Contains(logs, "processed order 1 (event ") {
			return fmt.Errorf("logs so far:\n%s", logs)
		}
		return nil
	})
	if c := queueStats(t, d.dir, "orders"); !c.drained() {
		t.Fatalf("a try sent something to the queue: %v", c)
	}

	// orders-dlq has no consumer: what is sent there stays, and peeking
	// does not receive it.
	id := strings.TrimSpace(mustRun(t, d.dir, "queue", "send", "orders-dlq", "--data", `{"id":5}`))
	for range 2 {
		out = mustRun(t, d.dir, "queue", "peek", "orders-dlq", "-n", "5")
		want := regexp.MustCompile(`^` + regexp.QuoteMeta(id) + `  type strata.message  source /queues/orders-dlq  received 0 time\(s\)  sent [0-9 :-]+\n  data: \{"id":5\}\n$`)
		if !want.MatchString(out) {
			t.Fatalf("queue peek printed %q", out)
		}
	}
	if c := queueStats(t, d.dir, "orders-dlq"); c.visible != 1 || c.inFlight != 0 {
		t.Fatalf("orders-dlq after peeking: %v, want 1 visible", c)
	}
	_, errOut, code := run(t, d.dir, nil, "queue", "peek", "orders-dlq", "-n", "0")
	if code != 2 || errOut != "error: -n 0: want 1 to 1000\n" {
		t.Fatalf("peek -n 0: exit %d, %q", code, errOut)
	}

	// Unknown names are said once (it read "execution nope: get execution
	// nope: execution nope: not found", and "send to queue nope: send 1
	// messages to queue nope: …").
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"workflow", "show", "nope"}, `execution "nope" not found (404)`},
		{[]string{"workflow", "signal", "nope", "go"}, `signal go: execution "nope" not found (404)`},
		{[]string{"versions", "nope"}, `function "nope" not found (404)`},
		{[]string{"rollback", "nope", "1"}, `function "nope" not found (404)`},
		{[]string{"rollback", "process-order", "9"}, `version "process-order@9" not found (404)`},
		{[]string{"logs", "nope"}, `function "nope" not found (404)`},
		{[]string{"secrets", "delete", "NOPE"}, `secret "NOPE" not found in project order-queue (404)`},
		{[]string{"token", "revoke", "nope"}, `token "nope" not found (give an id from strata token list, or a name) (404)`},
		{[]string{"queue", "stats", "nope"}, `queue "nope" not found (404)`},
		{[]string{"queue", "peek", "nope"}, `queue "nope" not found (404)`},
		{[]string{"queue", "send", "nope", "--data", "x"}, `queue "nope" not found (404)`},
		{[]string{"dlq", "redrive", "nope"}, `queue "nope" not found (404)`},
		{[]string{"topic", "publish", "nope", "--data", "x"}, `topic "nope" not found (404)`},
		{[]string{"invoke", "process-order", "--event", "queue", "--queue", "nope"}, `function process-order is not triggered by queue "nope"; its queue: orders (400)`},
		{[]string{"invoke", "process-order", "--event", "topic"}, `function process-order is not triggered by any topic (its topic: in strata.yaml) (400)`},
	} {
		out, errOut, code := run(t, d.dir, nil, tc.args...)
		if code != 1 || errOut != "error: "+tc.want+"\n" {
			t.Errorf("strata %s: exit %d, stderr %q; want exit 1, %q (stdout %q)", strings.Join(tc.args, " "), code, errOut, "error: "+tc.want+"\n", out)
		}
	}
}
