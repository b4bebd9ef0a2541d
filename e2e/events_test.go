package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The event-driven examples (queues, schedules, topics, async routes) and
// the durability of queues and schedules across a SIGKILL.

// eventsWait bounds every wait for asynchronous work. Generous: these tests
// run in parallel with the whole e2e suite on two cores.
const eventsWait = 2 * time.Minute

// requireDeployed fails unless the dev server deployed the project (it
// serves even when the deploy failed, so "serving" alone proves nothing).
func requireDeployed(t *testing.T, d *dev) {
	t.Helper()
	out := d.out.String()
	if strings.Contains(out, "deploy failed") || !strings.Contains(out, "deployed ") {
		t.Fatalf("project did not deploy:\n%s\n%s", out, d.err)
	}
}

// waitFor polls check until it returns nil, failing with its last error
// when the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = check(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// runEnv is run with extra environment variables (e.g. TZ).
func runEnv(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(strataBin, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "STRATA_SERVER=", "STRATA_TOKEN="), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("strata %v: %v\nstdout: %s\nstderr: %s", args, err, out.String(), errb.String())
	}
	return out.String()
}

type queueCounts struct{ visible, inFlight, delayed int }

func (c queueCounts) drained() bool { return c == queueCounts{} }

func (c queueCounts) String() string {
	return fmt.Sprintf("%d visible, %d in flight, %d delayed", c.visible, c.inFlight, c.delayed)
}

// queueStats reads one queue's row of `strata queue stats QUEUE`.
func queueStats(t *testing.T, dir, queue string) queueCounts {
	t.Helper()
	out := mustRun(t, dir, "queue", "stats", queue)
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 7 || f[0] != queue {
			continue
		}
		var c queueCounts
		var err error
		for i, p := range []*int{&c.visible, &c.inFlight, &c.delayed} {
			if *p, err = strconv.Atoi(f[4+i]); err != nil {
				t.Fatalf("queue stats %s: column %d of %q: %v", queue, 5+i, line, err)
			}
		}
		return c
	}
	t.Fatalf("queue stats %s: no row for the queue:\n%s", queue, out)
	return queueCounts{}
}

// dlqEntry is one message as `strata dlq list` prints it.
type dlqEntry struct {
	id, from, attempts, err, data string
}

var dlqHeadRe = regexp.MustCompile(`^(\S+)  from (\S+)  attempts (\S+)  sent `)

func dlqList(t *testing.T, dir, queue string) []dlqEntry {
	t.Helper()
	out := mustRun(t, dir, "dlq", "list", queue)
	if strings.TrimSpace(out) == queue+" is empty" {
		return nil
	}
	var es []dlqEntry
	for _, line := range strings.Split(out, "\n") {
		switch {
		case dlqHeadRe.MatchString(line):
			m := dlqHeadRe.FindStringSubmatch(line)
			es = append(es, dlqEntry{id: m[1], from: m[2], attempts: m[3]})
		case strings.HasPrefix(line, "  error: ") && len(es) > 0:
			es[len(es)-1].err = strings.TrimPrefix(line, "  error: ")
		case strings.HasPrefix(line, "  data: ") && len(es) > 0:
			es[len(es)-1].data = strings.TrimPrefix(line, "  data: ")
		case strings.TrimSpace(line) != "":
			t.Fatalf("dlq list %s: unexpected line %q in:\n%s", queue, line, out)
		}
	}
	return es
}

func TestEventsOrderQueue(t *testing.T) {
	t.Parallel()
	d := startDev(t, "order-queue")
	requireDeployed(t, d)

	// 30 orders; 7, 14, 21 and 28 always fail.
	order := map[string]int{} // event id → order id
	for i := 1; i <= 30; i++ {
		id := strings.TrimSpace(mustRun(t, d.dir, "queue", "send", "orders", "--data", fmt.Sprintf(`{"id":%d}`, i)))
		if id == "" || strings.ContainsAny(id, " \n") {
			t.Fatalf("queue send printed %q, want the event id", id)
		}
		order[id] = i
	}
	failing := map[int]bool{7: true, 14: true, 21: true, 28: true}

	// checkDLQ waits until orders has drained and the four failing orders
	// are in orders-dlq after their third attempt, each with its error.
	checkDLQ := func() {
		t.Helper()
		waitFor(t, eventsWait, "orders to drain into orders-dlq", func() error {
			if c := queueStats(t, d.dir, "orders"); !c.drained() {
				return fmt.Errorf("orders: %v", c)
			}
			es := dlqList(t, d.dir, "orders-dlq")
			if len(es) != len(failing) {
				return fmt.Errorf("orders-dlq holds %d messages, want %d: %+v", len(es), len(failing), es)
			}
			for _, e := range es {
				n, ok := order[e.id]
				if !ok || !failing[n] {
					t.Fatalf("orders-dlq holds event %s (order %d), which should not fail: %+v", e.id, n, e)
				}
				if e.from != "orders" || e.attempts != "3" || e.err == "" || e.err == "-" || e.data != fmt.Sprintf(`{"id":%d}`, n) {
					t.Fatalf("dead letter of order %d: %+v; want from orders, attempts 3, an error and the data", n, e)
				}
			}
			return nil
		})
	}
	checkDLQ()
	if c := queueStats(t, d.dir, "orders-dlq"); c.visible != 4 {
		t.Fatalf("orders-dlq stats: %v, want 4 visible", c)
	}

	// Every good order was processed; every failing one was tried 3 times.
	// Log lines are stored in batches, so the last attempt's line may land
	// a moment after its message reached the DLQ: poll.
	waitFor(t, eventsWait, "every order's log lines", func() error {
		logs := mustRun(t, d.dir, "logs", "process-order")
		for id, n := range order {
			if failing[n] {
				re := regexp.MustCompile(fmt.Sprintf(`order %d failed \(event %s, attempt (\d+)\): order id %d is divisible by 7`, n, regexp.QuoteMeta(id), n))
				var attempts []string
				for _, m := range re.FindAllStringSubmatch(logs, -1) {
					attempts = append(attempts, m[1])
				}
				for _, a := range []string{"1", "2", "3"} {
					if !slices.Contains(attempts, a) {
						return fmt.Errorf("order %d: attempts logged %v, want 1, 2 and 3", n, attempts)
					}
				}
				continue
			}
			if !regexp.MustCompile(fmt.Sprintf(`processed order %d \(event %s, attempt \d+\)`, n, regexp.QuoteMeta(id))).MatchString(logs) {
				return fmt.Errorf("order %d (event %s) was not processed", n, id)
			}
		}
		return nil
	})

	// Redrive moves them back; they fail three more times and return.
	if out := mustRun(t, d.dir, "dlq", "redrive", "orders-dlq"); strings.TrimSpace(out) != "redrove 4 message(s)" {
		t.Fatalf("redrive: %q", out)
	}
	waitFor(t, eventsWait, "redriven orders to be tried again", func() error {
		logs := mustRun(t, d.dir, "logs", "process-order")
		for n := range failing {
			if c := strings.Count(logs, fmt.Sprintf("order %d failed", n)); c < 6 {
				return fmt.Errorf("order %d failed %d times, want 6 (3 before and 3 after the redrive)", n, c)
			}
		}
		return nil
	})
	checkDLQ()

	// A queue with nothing in it: a clear message, exit 0.
	if out := mustRun(t, d.dir, "dlq", "redrive", "orders"); strings.TrimSpace(out) != "nothing to redrive: orders is empty" {
		t.Fatalf("redrive of an empty queue: %q", out)
	}
	// An unknown queue is an error naming it.
	if _, errOut, code := run(t, d.dir, nil, "dlq", "redrive", "no-such-queue"); code == 0 || !strings.Contains(errOut, "no-such-queue") {
		t.Fatalf("redrive of an unknown queue: exit %d, %s", code, errOut)
	}
}

// scheduleRow is a row of `strata schedules`.
type scheduleRow struct {
	function, spec, tz string
	next               []string
}

func schedulesTable(t *testing.T, dir, tz string) map[string]scheduleRow {
	t.Helper()
	out := runEnv(t, dir, []string{"TZ=" + tz}, "schedules")
	rows := map[string]scheduleRow{}
	for i, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if i == 0 {
			continue // header
		}
		f := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
		if len(f) != 5 {
			t.Fatalf("schedules: cannot read row %q:\n%s", line, out)
		}
		rows[f[0]] = scheduleRow{function: f[1], spec: f[2], tz: f[3], next: strings.Split(f[4], ", ")}
	}
	return rows
}

// fire is one logged scheduled fire.
type fire struct {
	at      time.Time
	skipped int
	event   string
}

// checkFireChain checks fires (one per scheduled time, sorted) against the
// schedule's interval: each fire follows the one before by exactly
// interval × (1 + the earlier fire's skipped count), so no fire was lost
// without being reported as skipped.
func checkFireChain(fires []fire, interval time.Duration) error {
	for i := 1; i < len(fires); i++ {
		prev, cur := fires[i-1], fires[i]
		want := prev.at.Add(interval * time.Duration(prev.skipped+1))
		if !cur.at.Equal(want) {
			return fmt.Errorf("fire at %s (skipped %d) is followed by %s, want %s", prev.at.Format(time.RFC3339), prev.skipped, cur.at.Format(time.RFC3339), want.Format(time.RFC3339))
		}
	}
	return nil
}

func TestEventsNightlyCron(t *testing.T) {
	t.Parallel()
	d := startDev(t, "nightly-cron")
	requireDeployed(t, d)

	// The nightly job fires at 03:00 Berlin time, and `strata schedules`
	// shows fire times in the schedule's own zone whatever the zone of the
	// machine running the command.
	for _, tc := range []struct {
		tz   string
		want *regexp.Regexp
	}{
		{"Europe/Berlin", regexp.MustCompile(`^(\d{4}-\d\d-\d\d) 03:00:00 CES?T$`)},
		{"UTC", regexp.MustCompile(`^(\d{4}-\d\d-\d\d) 03:00:00 CES?T$`)},
	} {
		rows := schedulesTable(t, d.dir, tc.tz)
		n, ok := rows["nightly-cleanup"]
		if !ok || n.function != "nightly-cleanup" || n.spec != "0 3 * * *" || n.tz != "Europe/Berlin" || len(n.next) < 3 {
			t.Fatalf("TZ=%s: nightly-cleanup row %+v", tc.tz, n)
		}
		var prevDay time.Time
		for _, s := range n.next {
			m := tc.want.FindStringSubmatch(s)
			if m == nil {
				t.Fatalf("TZ=%s: nightly-cleanup next fire %q, want 03:00 in Berlin", tc.tz, s)
			}
			day, _ := time.Parse(time.DateOnly, m[1])
			if !prevDay.IsZero() && !day.Equal(prevDay.AddDate(0, 0, 1)) {
				t.Fatalf("TZ=%s: next fires %v are not on consecutive days", tc.tz, n.next)
			}
			prevDay = day
		}
		h, ok := rows["heartbeat"]
		if !ok || h.spec != "@every 2s" || len(h.next) < 3 {
			t.Fatalf("TZ=%s: heartbeat row %+v", tc.tz, h)
		}
		if tc.tz == "UTC" {
			var prev time.Time
			for _, s := range h.next {
				at, err := time.Parse("2006-01-02 15:04:05 MST", s)
				if err != nil || at.Unix()%2 != 0 || (!prev.IsZero() && at.Sub(prev) != 2*time.Second) {
					t.Fatalf("heartbeat next fires %v: want every 2s on even seconds (%v)", h.next, err)
				}
				prev = at
			}
		}
	}

	// The heartbeat fires, each fire once, every two seconds.
	fireRe := regexp.MustCompile(`heartbeat fire scheduled_time=(\S+) skipped=(\d+) attempt=\d+`)
	waitFor(t, eventsWait, "four heartbeat fires in the logs", func() error {
		logs := mustRun(t, d.dir, "logs", "heartbeat")
		seen := map[time.Time]bool{}
		var fires []fire
		for _, m := range fireRe.FindAllStringSubmatch(logs, -1) {
			at, err := time.Parse(time.RFC3339, m[1])
			if err != nil {
				t.Fatalf("scheduled_time %q: %v", m[1], err)
			}
			if seen[at] {
				t.Fatalf("fire for %s logged twice:\n%s", m[1], logs)
			}
			seen[at] = true
			skipped, _ := strconv.Atoi(m[2])
			fires = append(fires, fire{at: at, skipped: skipped})
		}
		if len(fires) < 4 {
			return fmt.Errorf("%d fires so far", len(fires))
		}
		sort.Slice(fires, func(i, j int) bool { return fires[i].at.Before(fires[j].at) })
		if fires[0].at.Unix()%2 != 0 {
			return fmt.Errorf("fire at %s: not on an even second", fires[0].at)
		}
		return checkFireChain(fires, 2*time.Second)
	})
}

func TestEventsFanoutTopic(t *testing.T) {
	t.Parallel()
	d := startDev(t, "fanout-topic")
	requireDeployed(t, d)

	publish := func(data string) string {
		t.Helper()
		out := mustRun(t, d.dir, "topic", "publish", "user-signed-up", "--data", data)
		m := regexp.MustCompile(`^(\S+) → 3 subscriber\(s\)\n$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("publish printed %q, want <id> → 3 subscriber(s)", out)
		}
		return m[1]
	}
	publish(`{"user_id":"u1","email":"ada@example.com"}`)
	bad := publish(`{"user_id":"u2","email":"bob@bounce.example"}`)

	// The failing event is tried twice (retries: 1) and then dead-lettered,
	// with the publish's event id.
	waitFor(t, eventsWait, "the bounced sign-up in welcome-failures", func() error {
		es := dlqList(t, d.dir, "welcome-failures")
		if len(es) != 1 {
			return fmt.Errorf("welcome-failures holds %d messages", len(es))
		}
		e := es[0]
		if e.id != bad || e.from != "_topic.user-signed-up.welcome-email" || e.attempts != "2" || e.err == "-" || !strings.Contains(e.data, "bob@bounce.example") {
			t.Fatalf("dead letter %+v; want event %s from the welcome-email subscription after 2 attempts", e, bad)
		}
		return nil
	})
	waitFor(t, eventsWait, "both subscribers to see both sign-ups", func() error {
		logs := mustRun(t, d.dir, "logs")
		// Log lines are stored in batches: wait until every line the
		// checks below count has landed.
		for _, want := range []string{
			"welcome-email@1", "welcome mail sent to ada@example.com (user u1)",
			`audit: strata.message from /topics/user-signed-up at`,
			`"user_id":"u1"`, `"user_id":"u2"`,
			`welcome mail to "bob@bounce.example" failed (attempt 1)`,
			`welcome mail to "bob@bounce.example" failed (attempt 2)`,
		} {
			if !strings.Contains(logs, want) {
				return fmt.Errorf("logs lack %q", want)
			}
		}
		return nil
	})
	// The other subscriber is unaffected: each event reached audit-log
	// exactly once, while welcome-email failed the bad one exactly twice.
	audit := mustRun(t, d.dir, "logs", "audit-log")
	for _, u := range []string{`"user_id":"u1"`, `"user_id":"u2"`} {
		if c := strings.Count(audit, u); c != 1 {
			t.Fatalf("audit-log saw %s %d times, want once:\n%s", u, c, audit)
		}
	}
	welcome := mustRun(t, d.dir, "logs", "welcome-email")
	for _, a := range []string{"1", "2"} {
		if c := strings.Count(welcome, `welcome mail to "bob@bounce.example" failed (attempt `+a+`)`); c != 1 {
			t.Fatalf("welcome-email attempt %s for the bounce logged %d times:\n%s", a, c, welcome)
		}
	}
	if strings.Contains(welcome, "attempt 3") {
		t.Fatalf("welcome-email tried a third time despite retries: 1:\n%s", welcome)
	}
	// Every subscription queue has drained, the archive queue kept both.
	out := mustRun(t, d.dir, "queue", "stats", "--all")
	for _, q := range []string{"_topic.user-signed-up.welcome-email", "_topic.user-signed-up.audit-log"} {
		if c := queueStats(t, d.dir, q); !c.drained() {
			t.Fatalf("%s: %v\n%s", q, c, out)
		}
	}
	if c := queueStats(t, d.dir, "signups-archive"); c.visible != 2 {
		t.Fatalf("signups-archive: %v, want 2 visible", c)
	}

	// Redriving sends the event back to welcome-email only.
	if out := mustRun(t, d.dir, "dlq", "redrive", "welcome-failures"); strings.TrimSpace(out) != "redrove 1 message(s)" {
		t.Fatalf("redrive: %q", out)
	}
	waitFor(t, eventsWait, "the redriven event to fail again and return", func() error {
		welcome := mustRun(t, d.dir, "logs", "welcome-email")
		if c := strings.Count(welcome, `welcome mail to "bob@bounce.example" failed`); c != 4 {
			return fmt.Errorf("%d failures logged, want 4", c)
		}
		if es := dlqList(t, d.dir, "welcome-failures"); len(es) != 1 || es[0].id != bad {
			return fmt.Errorf("welcome-failures: %+v", es)
		}
		return nil
	})
	if c := strings.Count(mustRun(t, d.dir, "logs", "audit-log"), `"user_id":"u2"`); c != 1 {
		t.Fatalf("the redrive reached audit-log too (%d lines for u2)", c)
	}
}

func TestEventsAsyncWebhook(t *testing.T) {
	t.Parallel()
	d := startDev(t, "async-webhook")
	requireDeployed(t, d)

	accepted := func(r response) string {
		t.Helper()
		var a struct{ ID, Status string }
		if r.status != http.StatusAccepted || json.Unmarshal(r.body, &a) != nil || a.ID == "" || a.Status != "accepted" {
			t.Fatalf("async route answered %d %s, want 202 with an id", r.status, r.body)
		}
		return a.ID
	}
	id := accepted(do(t, "POST", d.url+"/webhooks/github", []byte(`{"action":"opened"}`), map[string]string{"Content-Type": "application/json"}))
	if r := do(t, "GET", d.url+"/webhooks/github", nil, nil); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("GET on the POST route: %d", r.status)
	}

	// A burst over the limit: some 429s with Retry-After, the rest accepted.
	// Rounds of 50 at once until one is refused, since a slow machine may
	// spread a round over enough time to refill the bucket.
	var burstIDs []string
	refused := 0
	for round := 0; round < 10 && refused == 0; round++ {
		var mu sync.Mutex
		var wg sync.WaitGroup
		var errs []string
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				resp, err := http.Post(d.url+"/webhooks/burst", "application/json", strings.NewReader(fmt.Sprintf(`{"round":%d,"n":%d}`, round, i)))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err.Error())
					return
				}
				defer resp.Body.Close()
				var a struct{ ID string }
				switch {
				case resp.StatusCode == http.StatusTooManyRequests:
					refused++
					if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
						errs = append(errs, fmt.Sprintf("429 with Retry-After %q", resp.Header.Get("Retry-After")))
					}
				case resp.StatusCode == http.StatusAccepted && json.NewDecoder(resp.Body).Decode(&a) == nil && a.ID != "":
					burstIDs = append(burstIDs, a.ID)
				default:
					errs = append(errs, fmt.Sprintf("status %d", resp.StatusCode))
				}
			}(i)
		}
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("burst: %v", errs)
		}
	}
	if refused == 0 {
		t.Fatalf("10 rounds of 50 concurrent requests against rate_limit 50, burst 10: none refused")
	}
	if len(burstIDs) == 0 {
		t.Fatalf("burst: nothing accepted")
	}
	t.Logf("burst: %d accepted, %d refused with 429", len(burstIDs), refused)

	// An async invoke through the CLI, not through the route.
	out := mustRun(t, d.dir, "invoke", "receiver", "--async", "--data", `{"direct":true}`)
	m := regexp.MustCompile(`^accepted (\S+)\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("invoke --async printed %q", out)
	}
	direct := m[1]

	// Every accepted delivery runs, later, with its id, path parameter and
	// body.
	waitFor(t, eventsWait, "every accepted delivery to run", func() error {
		logs := mustRun(t, d.dir, "logs", "receiver")
		want := []string{
			"delivery " + id + ` from github: 19 bytes, sha256 d592421cfe150dee, body {"action":"opened"}`,
			"delivery " + direct + ` from direct: 15 bytes`,
		}
		for _, b := range burstIDs {
			want = append(want, "delivery "+b+" from burst: ")
		}
		missing := 0
		for _, w := range want {
			if !strings.Contains(logs, w) {
				missing++
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d of %d deliveries not in the logs yet", missing, len(want))
		}
		return nil
	})
	if c := queueStats(t, d.dir, "webhook-failures"); c.visible != 0 {
		t.Fatalf("webhook-failures: %v", c)
	}
}

// TestEventsDurability kills `strata dev` with SIGKILL while a slow consumer
// works through a queue and a schedule fires every second, restarts it on
// the same state and checks that every acknowledged send is processed (at
// least once) and that the schedule neither lost a fire silently nor fired
// one twice.
//
// The record of what ran is the dev server's terminal, where it prints each
// guest log line synchronously as the guest writes it, so before the
// message is acknowledged. The log store would not do: it is written in the
// background every 100 ms, so a SIGKILL may lose the last lines of messages
// that were acknowledged, which would look like lost messages.
func TestEventsDurability(t *testing.T) {
	t.Parallel()
	dir := copyTree(t, filepath.Join(repoRoot(), "e2e", "testdata", "events-durable"))
	d := startDevIn(t, dir)
	requireDeployed(t, d)

	doneRe := regexp.MustCompile(`\[worker@\d+ [0-9a-f]{12}\] done (\S+) attempt=\d+`)
	tickRe := regexp.MustCompile(`\[tick@\d+ [0-9a-f]{12}\] tick scheduled_time=(\S+) skipped=(\d+) event=(\S+) attempt=\d+`)
	processed := func(outs ...*syncBuffer) map[string]int {
		n := map[string]int{}
		for _, o := range outs {
			for _, m := range doneRe.FindAllStringSubmatch(o.String(), -1) {
				n[m[1]]++
			}
		}
		return n
	}

	// Send messages, one CLI call each, from before the kill until the
	// restarted server is up (and at least 50): a send that printed its id
	// was acknowledged and must not be lost; one that failed may or may not
	// have been stored.
	const atLeast, atMost = 50, 120
	firstURL := d.url
	var mu sync.Mutex
	var acked []string
	failedSends := 0
	sent := make(chan struct{})
	restarted := make(chan struct{})
	go func() {
		defer close(sent)
		for i := 0; i < atMost; i++ {
			if i >= atLeast {
				select {
				case <-restarted:
					return
				default:
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			cmd := exec.CommandContext(ctx, strataBin, "queue", "send", "jobs", "--data", fmt.Sprintf(`{"n":%d}`, i))
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "STRATA_SERVER=", "STRATA_TOKEN=")
			out, err := cmd.Output()
			cancel()
			id := strings.TrimSpace(string(out))
			mu.Lock()
			if err == nil && id != "" {
				acked = append(acked, id)
			} else {
				failedSends++
			}
			mu.Unlock()
			if err != nil {
				// The server is down: go on once its successor is up.
				waitRestarted(dir, firstURL)
			}
		}
	}()

	eventually(t, eventsWait, "15 messages processed and 2 fires before the kill", func() bool {
		return len(processed(d.out)) >= 15 && len(tickRe.FindAllString(d.out.String(), -1)) >= 2
	})
	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-d.done
	killedAt := time.Now()
	// The killed server's dev.json would point the next commands (and
	// startDevIn) at a dead address.
	_ = os.Remove(filepath.Join(dir, ".strata", "dev.json"))
	beforeKill := len(processed(d.out))
	// Stay down for several intervals of the schedule, so that the restart
	// has fires to catch up on (this sleep makes the outage; it asserts
	// nothing).
	time.Sleep(3 * time.Second)

	d2 := startDevIn(t, dir)
	close(restarted)
	if strings.Contains(d2.out.String(), "deploy failed") {
		t.Fatalf("redeploy after restart failed:\n%s", d2.out)
	}
	<-sent
	mu.Lock()
	t.Logf("%d sends acknowledged, %d failed (server down); %d messages processed before the kill", len(acked), failedSends, beforeKill)
	ackedIDs := slices.Clone(acked)
	mu.Unlock()
	if len(ackedIDs) == 0 {
		t.Fatal("no send was acknowledged")
	}

	waitFor(t, eventsWait, "every acknowledged message to be processed and the queue to drain", func() error {
		done := processed(d.out, d2.out)
		missing := 0
		for _, id := range ackedIDs {
			if done[id] == 0 {
				missing++
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d of %d acknowledged messages not processed yet", missing, len(ackedIDs))
		}
		if c := queueStats(t, dir, "jobs"); !c.drained() {
			return fmt.Errorf("jobs: %v", c)
		}
		return nil
	})
	dups := 0
	for _, n := range processed(d.out, d2.out) {
		dups += n - 1
	}
	t.Logf("all %d acknowledged messages processed, %d duplicate deliveries", len(ackedIDs), dups)

	// The schedule: one event per scheduled time (a redelivery keeps its
	// event id; a second fire for the same time would not), and a gapless
	// chain where the only jumps are those a fire reports as skipped.
	waitFor(t, eventsWait, "the schedule's fires to form a complete chain past the restart", func() error {
		byTime := map[time.Time]fire{}
		for _, o := range []*syncBuffer{d.out, d2.out} {
			for _, m := range tickRe.FindAllStringSubmatch(o.String(), -1) {
				at, err := time.Parse(time.RFC3339, m[1])
				if err != nil {
					t.Fatalf("scheduled_time %q: %v", m[1], err)
				}
				skipped, _ := strconv.Atoi(m[2])
				f := fire{at: at, skipped: skipped, event: m[3]}
				if prev, ok := byTime[at]; ok && prev.event != f.event {
					t.Fatalf("two fires for %s: events %s and %s", m[1], prev.event, f.event)
				}
				byTime[at] = f
			}
		}
		var fires []fire
		after := 0
		for _, f := range byTime {
			fires = append(fires, f)
			if f.at.After(killedAt) {
				after++
			}
		}
		sort.Slice(fires, func(i, j int) bool { return fires[i].at.Before(fires[j].at) })
		if after < 3 {
			return fmt.Errorf("%d fires after the restart so far", after)
		}
		if err := checkFireChain(fires, time.Second); err != nil {
			return err
		}
		skipped := 0
		for _, f := range fires {
			skipped += f.skipped
		}
		// The outage spanned at least two fire times: the first is fired
		// late, once, and reports the others as skipped.
		if skipped == 0 {
			return fmt.Errorf("no fire reports skipped fires after a 3s outage of a 1s schedule: %+v", fires)
		}
		t.Logf("schedule: %d fires from %s to %s, %d reported skipped", len(fires),
			fires[0].at.Format(time.TimeOnly), fires[len(fires)-1].at.Format(time.TimeOnly), skipped)
		return nil
	})
}

// waitRestarted waits (up to a minute) until the project's dev.json names a
// server other than url.
func waitRestarted(dir, url string) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var st struct{ Server string }
		if b, err := os.ReadFile(filepath.Join(dir, ".strata", "dev.json")); err == nil && json.Unmarshal(b, &st) == nil && st.Server != "" && st.Server != url {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
