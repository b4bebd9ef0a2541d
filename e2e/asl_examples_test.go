package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// The state machine examples (examples/document-pipeline-asl,
// examples/order-saga-asl), each run with `strata dev` and driven the way
// its README says: `strata sm start`, `strata sm describe`, `strata sm
// history`, and curl on the example's routes.

// smEvent is one event of `strata sm history --json`: its type, and the
// details object of that type, whatever its key.
type smEvent struct {
	ID      int
	Type    string
	Details map[string]any
}

// smStart runs `strata sm start MACHINE --name NAME --input JSON` and
// checks it printed the execution's ARN.
func smStart(t *testing.T, dir, machine, name, input string) {
	t.Helper()
	out := strings.TrimSpace(mustRun(t, dir, "sm", "start", machine, "--name", name, "--input", input))
	if !strings.HasPrefix(out, "arn:aws:states:strata:") || !strings.HasSuffix(out, ":execution:"+machine+":"+name) {
		t.Fatalf("sm start %s: printed %q, want the execution's ARN", name, out)
	}
}

// smEnded waits for the execution to end (smWait) and fails the test
// unless it ended with status want.
func smEnded(t *testing.T, dir, machine, name, want string) smDescribe {
	t.Helper()
	x := smWait(t, dir, machine, name)
	if x.Status != want {
		t.Fatalf("execution %s is %s, want %s: %s %s\n%s", name, x.Status, want, x.Error, x.Cause, smTimeline(smHistory(t, dir, machine, name)))
	}
	return x
}

// smHistory runs `strata sm history --json`.
func smHistory(t *testing.T, dir, machine, name string) []smEvent {
	t.Helper()
	out := mustRun(t, dir, "sm", "history", machine, name, "--json")
	var h struct {
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatalf("sm history %s --json: %v\n%s", name, err, out)
	}
	events := make([]smEvent, len(h.Events))
	for i, raw := range h.Events {
		e := smEvent{Details: map[string]any{}}
		e.Type, _ = raw["type"].(string)
		if id, ok := raw["id"].(float64); ok {
			e.ID = int(id)
		}
		for k, v := range raw {
			if d, ok := v.(map[string]any); ok && strings.HasSuffix(k, "EventDetails") {
				e.Details = d
			}
		}
		events[i] = e
	}
	return events
}

func (e smEvent) str(key string) string {
	s, _ := e.Details[key].(string)
	return s
}

// smTimeline is a history, one event a line, for failure messages.
func smTimeline(events []smEvent) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "  %d %s %v\n", e.ID, e.Type, e.Details)
	}
	return b.String()
}

func TestASLExampleDocumentPipeline(t *testing.T) {
	t.Parallel()
	start := time.Now()
	d := startDev(t, "document-pipeline-asl")
	requireDeployed(t, d)
	t.Logf("document-pipeline-asl: strata dev deployed after %s", time.Since(start).Round(time.Millisecond))

	// The README's run: sample.json has five pages, page 1 flaky and
	// page 3 corrupt.
	smStart(t, d.dir, "pipeline", "guide", "@sample.json")
	x := smEnded(t, d.dir, "pipeline", "guide", "SUCCEEDED")
	type summary struct {
		Document   string `json:"document"`
		Pages      int    `json:"pages"`
		Done       int    `json:"done"`
		Skipped    int    `json:"skipped"`
		SkippedAt  []int  `json:"skipped_pages"`
		Words      int    `json:"words"`
		Characters int    `json:"characters"`
	}
	var got summary
	if err := json.Unmarshal([]byte(x.Output), &got); err != nil {
		t.Fatalf("output of guide: %v\n%s", err, x.Output)
	}
	// Pages 0, 1, 2 and 4 of sample.json: 9+7+8+8 words, 50+36+42+46
	// characters.
	want := summary{Document: "field-guide.txt", Pages: 5, Done: 4, Skipped: 1, SkippedAt: []int{3}, Words: 32, Characters: 174}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("summary:\n got %+v\nwant %+v", got, want)
	}

	// A document of its own: every page index reaches the function
	// (ItemSelector's $$.Map.Item.Index), two pages fail transiently and
	// two are corrupt.
	var pages []string
	for i := range 8 {
		p := fmt.Sprintf(`{"text": "page %d of the test"`, i)
		switch i {
		case 2, 5:
			p += `, "flaky": true`
		case 3, 6:
			p += `, "corrupt": true`
		}
		pages = append(pages, p+"}")
	}
	smStart(t, d.dir, "pipeline", "test-doc", `{"document": "test.txt", "pages": [`+strings.Join(pages, ",")+`]}`)
	x = smEnded(t, d.dir, "pipeline", "test-doc", "SUCCEEDED")
	got = summary{}
	if err := json.Unmarshal([]byte(x.Output), &got); err != nil {
		t.Fatalf("output of test-doc: %v\n%s", err, x.Output)
	}
	want = summary{Document: "test.txt", Pages: 8, Done: 6, Skipped: 2, SkippedAt: []int{3, 6}, Words: 6 * 5, Characters: 6 * len("page 0 of the test")}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("summary of test-doc:\n got %+v\nwant %+v", got, want)
	}

	// The history shows the retries and the caught failures. Iterations
	// run two at a time, so their events may interleave: each page is
	// known by the index in its Lambda input (with the retry count the
	// Task passed) and output (with the attempts the function counted).
	events := smHistory(t, d.dir, "pipeline", "test-doc")
	scheduled := map[int][]int{} // page → retry_count of each attempt
	succeeded := map[int][]int{} // page → attempts of each success
	failed := map[string]int{}   // error → LambdaFunctionFailed events
	for _, e := range events {
		switch e.Type {
		case "LambdaFunctionScheduled":
			var in struct {
				Index      int `json:"index"`
				RetryCount int `json:"retry_count"`
			}
			if err := json.Unmarshal([]byte(e.str("input")), &in); err != nil {
				t.Fatalf("event %d: input %q: %v", e.ID, e.str("input"), err)
			}
			scheduled[in.Index] = append(scheduled[in.Index], in.RetryCount)
		case "LambdaFunctionSucceeded":
			var out struct {
				Index    int `json:"index"`
				Attempts int `json:"attempts"`
			}
			if err := json.Unmarshal([]byte(e.str("output")), &out); err != nil {
				t.Fatalf("event %d: output %q: %v", e.ID, e.str("output"), err)
			}
			succeeded[out.Index] = append(succeeded[out.Index], out.Attempts)
		case "LambdaFunctionFailed":
			failed[e.str("error")]++
		}
	}
	for i := range 8 {
		wantScheduled, wantSucceeded := "[0]", "[1]"
		switch i {
		case 2, 5: // the Retry's second attempt succeeds
			wantScheduled, wantSucceeded = "[0 1]", "[2]"
		case 3, 6: // not retried: caught
			wantSucceeded = "[]"
		}
		if got := fmt.Sprint(scheduled[i]); got != wantScheduled {
			t.Errorf("page %d: attempts with retry counts %s, want %s", i, got, wantScheduled)
		}
		if got := fmt.Sprint(succeeded[i]); got != wantSucceeded {
			t.Errorf("page %d: successes after attempts %s, want %s", i, got, wantSucceeded)
		}
	}
	if got := fmt.Sprint(failed); got != "map[CorruptPage:2 Transient:2]" {
		t.Errorf("LambdaFunctionFailed events by error: %s", got)
	}
	if t.Failed() {
		t.Fatalf("history of test-doc:\n%s", smTimeline(events))
	}
	// The caught pages went through SkipPage, which recorded them as
	// skipped with the error's name.
	var skipped []string
	for _, e := range events {
		if e.Type == "PassStateExited" && e.str("name") == "SkipPage" {
			skipped = append(skipped, e.str("output"))
		}
	}
	slices.Sort(skipped)
	wantSkipped := []string{`{"index":3,"reason":"CorruptPage","status":"skipped"}`, `{"index":6,"reason":"CorruptPage","status":"skipped"}`}
	if !slices.Equal(skipped, wantSkipped) {
		t.Errorf("SkipPage outputs %q, want %q", skipped, wantSkipped)
	}
	if last := events[len(events)-1]; last.Type != "ExecutionSucceeded" {
		t.Errorf("last event %s, want ExecutionSucceeded", last.Type)
	}

	// The human-readable history of the README shows the same.
	table := mustRun(t, d.dir, "sm", "history", "pipeline", "guide")
	for _, s := range []string{"LambdaFunctionFailed", "error=Transient", "error=CorruptPage", `{"index":3,"reason":"CorruptPage","status":"skipped"}`, "ExecutionSucceeded"} {
		if !strings.Contains(table, s) {
			t.Errorf("sm history pipeline guide lacks %q:\n%s", s, table)
		}
	}
}

func TestASLExampleOrderSaga(t *testing.T) {
	t.Parallel()
	start := time.Now()
	d := startDev(t, "order-saga-asl")
	requireDeployed(t, d)
	t.Logf("order-saga-asl: strata dev deployed after %s", time.Since(start).Round(time.Millisecond))

	type entry struct {
		Step   string `json:"step"`
		Amount int    `json:"amount"`
	}
	ledger := func(order string) []entry {
		t.Helper()
		r := do(t, "GET", d.url+"/orders/"+order, nil, nil)
		l := decodeJSON[struct {
			Order  string  `json:"order"`
			Ledger []entry `json:"ledger"`
		}](t, "GET /orders/"+order, r)
		if r.status != 200 || l.Order != order {
			t.Fatalf("GET /orders/%s: %d %s", order, r.status, r.body)
		}
		return l.Ledger
	}
	steps := func(l []entry) map[string][]int {
		m := map[string][]int{}
		for _, e := range l {
			m[e.Step] = append(m[e.Step], e.Amount)
		}
		return m
	}

	// The README's two orders, as it starts them.
	smStart(t, d.dir, "place-order", "order-1", `{"order": "order-1", "sku": "widget", "qty": 2, "card": "4242424242424242", "amount_cents": 1998}`)
	smStart(t, d.dir, "place-order", "order-2", `{"order": "order-2", "sku": "widget", "qty": 1, "card": "4000000000000000", "amount_cents": 999}`)

	// The good order: confirmed, with what each branch of the Parallel
	// answered; its ledger has the reservation, the charge and the
	// confirmation, once each, and no compensation.
	good := smEnded(t, d.dir, "place-order", "order-1", "SUCCEEDED")
	var conf struct {
		Order       string `json:"order"`
		Status      string `json:"status"`
		Reservation struct {
			SKU      string `json:"sku"`
			Reserved int    `json:"reserved"`
		} `json:"reservation"`
		Payment struct {
			ChargeID    string `json:"charge_id"`
			AmountCents int    `json:"amount_cents"`
		} `json:"payment"`
	}
	if err := json.Unmarshal([]byte(good.Output), &conf); err != nil {
		t.Fatalf("output of order-1: %v\n%s", err, good.Output)
	}
	if conf.Order != "order-1" || conf.Status != "confirmed" || conf.Reservation.SKU != "widget" || conf.Reservation.Reserved != 2 ||
		conf.Payment.ChargeID != "ch_order-1" || conf.Payment.AmountCents != 1998 {
		t.Fatalf("output of order-1: %s", good.Output)
	}
	if got, want := fmt.Sprint(steps(ledger("order-1"))), fmt.Sprint(map[string][]int{"reserve": {2}, "charge": {1998}, "confirm": {0}}); got != want {
		t.Errorf("ledger of order-1: %s, want %s", got, want)
	}

	// The declined order: the Catch ran both compensations once, then
	// failed with OrderFailed and the charge's error as the cause.
	bad := smEnded(t, d.dir, "place-order", "order-2", "FAILED")
	if bad.Error != "OrderFailed" || !strings.Contains(bad.Cause, `"errorType":"CardDeclined"`) || !strings.Contains(bad.Cause, "0000") {
		t.Fatalf("order-2 failed with %q %q, want OrderFailed caused by CardDeclined", bad.Error, bad.Cause)
	}
	s := steps(ledger("order-2"))
	if len(s["release"]) != 1 || len(s["refund"]) != 1 || len(s["charge"]) != 0 || len(s["confirm"]) != 0 {
		t.Fatalf("ledger of order-2: %v, want one release, one refund, no charge, no confirm", s)
	}
	// Nothing was charged, so nothing is refunded. The Parallel cancels
	// the reservation's branch when the charge fails, so it may or may
	// not have run; whatever it reserved is what was released.
	if s["refund"][0] != 0 {
		t.Errorf("order-2 refunded %d cents of a declined card", s["refund"][0])
	}
	reserved := 0
	for _, q := range s["reserve"] {
		reserved += q
	}
	if s["release"][0] != reserved || len(s["reserve"]) > 1 {
		t.Errorf("order-2 reserved %v and released %d", s["reserve"], s["release"][0])
	}

	// The history: the charge failed with CardDeclined; the Parallel
	// failed; after it, one at a time, the compensations ran and the Fail
	// state ended the execution. (The reservation's branch may or may not
	// have finished; if not, it was cut and its events end there.)
	events := smHistory(t, d.dir, "place-order", "order-2")
	declined, parallelFailed := false, false
	var after []string
	for _, e := range events {
		switch {
		case e.Type == "ParallelStateFailed":
			parallelFailed = true
		case !parallelFailed && e.Type == "LambdaFunctionFailed":
			declined = declined || e.str("error") == "CardDeclined"
		case parallelFailed && (strings.HasSuffix(e.Type, "StateEntered") || strings.HasPrefix(e.Type, "LambdaFunction") || e.Type == "ExecutionFailed"):
			after = append(after, strings.TrimSpace(e.Type+" "+e.str("name")))
		}
	}
	last := events[len(events)-1]
	if !declined || last.Type != "ExecutionFailed" || last.str("error") != "OrderFailed" {
		t.Errorf("history of order-2: no CardDeclined failure, or it does not end with ExecutionFailed OrderFailed:\n%s", smTimeline(events))
	}
	want := "TaskStateEntered ReleaseStock, LambdaFunctionScheduled, LambdaFunctionStarted, LambdaFunctionSucceeded, " +
		"TaskStateEntered RefundPayment, LambdaFunctionScheduled, LambdaFunctionStarted, LambdaFunctionSucceeded, " +
		"FailStateEntered OrderFailed, ExecutionFailed"
	if !parallelFailed {
		t.Errorf("history of order-2 has no ParallelStateFailed:\n%s", smTimeline(events))
	} else if got := strings.Join(after, ", "); got != want {
		t.Errorf("history of order-2 after the Parallel failed:\n got %s\nwant %s\n%s", got, want, smTimeline(events))
	}

	// The good order's ledger did not change after the bad one ran its
	// compensations (they are keyed by order).
	if got := steps(ledger("order-1")); len(got["release"])+len(got["refund"]) != 0 {
		t.Errorf("order-1 has compensations: %v", got)
	}
	out := mustRun(t, d.dir, "sm", "executions", "place-order")
	if !strings.Contains(out, "order-1") || !strings.Contains(out, "SUCCEEDED") || !strings.Contains(out, "order-2") || !strings.Contains(out, "FAILED") {
		t.Errorf("sm executions place-order:\n%s", out)
	}
}
