package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The workflow examples (examples/order-fulfilment, examples/approval,
// examples/document-pipeline), each run with `strata dev` and driven the
// way their READMEs say: over HTTP and with `strata workflow`.

// wfxView is what `strata workflow show --json` prints.
type wfxView struct {
	Execution struct {
		ID       string          `json:"id"`
		Workflow string          `json:"workflow"`
		Status   string          `json:"status"`
		Output   json.RawMessage `json:"output"`
		Error    json.RawMessage `json:"error"`
	} `json:"execution"`
	Events []wfxEvent `json:"events"`
}

type wfxEvent struct {
	Seq  int             `json:"seq"`
	Type string          `json:"type"`
	Step int             `json:"step"`
	Name string          `json:"name"`
	Data json.RawMessage `json:"data"`
}

// wfxError is an execution's or a step's error (wire.FlowError).
type wfxError struct {
	Type     string `json:"type"`
	Message  string `json:"message"`
	Step     int    `json:"step"`
	Name     string `json:"name"`
	Attempts int    `json:"attempts"`
}

// wfxEventData is the part of an event's data the tests read.
type wfxEventData struct {
	Attempt int             `json:"attempt"`
	Output  json.RawMessage `json:"output"`
	Error   *wfxError       `json:"error"`
}

func (e wfxEvent) data(t *testing.T) wfxEventData {
	t.Helper()
	var d wfxEventData
	if len(e.Data) > 0 {
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatalf("event %d %s: data %s: %v", e.Seq, e.Type, e.Data, err)
		}
	}
	return d
}

// wfxShow runs `strata workflow show ID --json`.
func wfxShow(t *testing.T, dir, id string) wfxView {
	t.Helper()
	out := mustRun(t, dir, "workflow", "show", id, "--json")
	var v wfxView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("workflow show %s --json: %v\n%s", id, err, out)
	}
	return v
}

// wfxWait waits until the execution is closed and returns it with its
// history; it fails the test unless the status is want.
func wfxWait(t *testing.T, dir, id, want string) wfxView {
	t.Helper()
	var v wfxView
	waitFor(t, time.Minute, "execution "+id+" to close", func() error {
		v = wfxShow(t, dir, id)
		if v.Execution.Status == "running" {
			return fmt.Errorf("still running after %d events", len(v.Events))
		}
		return nil
	})
	if v.Execution.Status != want {
		t.Fatalf("execution %s is %s, want %s; error %s\n%s", id, v.Execution.Status, want, v.Execution.Error, wfxTimeline(v))
	}
	return v
}

// wfxTimeline is a history, one event a line, for failure messages.
func wfxTimeline(v wfxView) string {
	var b strings.Builder
	for _, e := range v.Events {
		fmt.Fprintf(&b, "  %d %s step=%d %s %s\n", e.Seq, e.Type, e.Step, e.Name, e.Data)
	}
	return b.String()
}

// wfxFind returns the events of type typ for name ("" for any name), in
// history order.
func wfxFind(v wfxView, typ, name string) []wfxEvent {
	var out []wfxEvent
	for _, e := range v.Events {
		if e.Type == typ && (name == "" || e.Name == name) {
			out = append(out, e)
		}
	}
	return out
}

// wfxDecode decodes an execution's output or error.
func wfxDecode[T any](t *testing.T, what string, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, raw)
	}
	return v
}

func TestWorkflowExampleOrderFulfilment(t *testing.T) {
	t.Parallel()
	start := time.Now()
	d := startDev(t, "order-fulfilment")
	requireDeployed(t, d)
	t.Logf("order-fulfilment: strata dev deployed after %s", time.Since(start).Round(time.Millisecond))
	mustRun(t, d.dir, "db", "migrate", "shop", "./migrations")

	stock := func(sku string) int {
		t.Helper()
		r := do(t, "GET", d.url+"/stock/"+sku, nil, nil)
		s := decodeJSON[struct{ Qty int }](t, "GET /stock/"+sku, r)
		if r.status != 200 {
			t.Fatalf("GET /stock/%s: %d %s", sku, r.status, r.body)
		}
		return s.Qty
	}
	order := func(id, sku string, qty int, card string, parcels ...string) []byte {
		ps := make([]map[string]any, len(parcels))
		for i, ref := range parcels {
			ps[i] = map[string]any{"ref": ref, "weight_kg": 1.5}
		}
		return jsonBody(map[string]any{"id": id, "sku": sku, "qty": qty, "card": card, "parcels": ps})
	}
	place := func(id string, body []byte) {
		t.Helper()
		r := do(t, "POST", d.url+"/orders", body, map[string]string{"Idempotency-Key": id})
		a := decodeJSON[struct {
			ID, Workflow string
			Created      bool
		}](t, "POST /orders", r)
		if r.status != 202 || a.ID != id || a.Workflow != "fulfil" || !a.Created {
			t.Fatalf("POST /orders %s: %d %s", id, r.status, r.body)
		}
		// The Location is a public status path: no token, this
		// execution only.
		loc := r.header.Get("Location")
		if !strings.HasPrefix(loc, "/_strata/executions/") {
			t.Fatalf("POST /orders %s: Location %q", id, loc)
		}
		st := do(t, "GET", d.url+loc, nil, nil)
		s := decodeJSON[struct{ ID, Workflow, Status string }](t, "GET "+loc, st)
		if st.status != 200 || s.ID != id || s.Workflow != "fulfil" || s.Status == "" {
			t.Fatalf("GET %s: %d %s", loc, st.status, st.body)
		}
	}
	type receipt struct {
		Order    string `json:"order"`
		ChargeID string `json:"charge_id"`
		Labels   []struct{ Parcel, Tracking string }
	}
	checkReceipt := func(v wfxView, order string, parcels ...string) receipt {
		t.Helper()
		rc := wfxDecode[receipt](t, "receipt of "+order, v.Execution.Output)
		if rc.Order != order || !strings.HasPrefix(rc.ChargeID, "ch_") || len(rc.Labels) != len(parcels) {
			t.Fatalf("receipt of %s: %s", order, v.Execution.Output)
		}
		seen := map[string]bool{}
		for i, l := range rc.Labels {
			if l.Parcel != parcels[i] || !strings.HasPrefix(l.Tracking, "STR") || seen[l.Tracking] {
				t.Fatalf("receipt of %s: label %d is %+v: %s", order, i, l, v.Execution.Output)
			}
			seen[l.Tracking] = true
		}
		return rc
	}

	if n := stock("widget"); n != 100 {
		t.Fatalf("widget stock before any order: %d, want the migration's 100", n)
	}

	// A good order over HTTP: reserved, charged once, a label per parcel.
	place("order-1", order("order-1", "widget", 2, "4242 4242 4242 4242", "box-a", "box-b", "box-c"))
	v := wfxWait(t, d.dir, "order-1", "completed")
	checkReceipt(v, "order-1", "box-a", "box-b", "box-c")
	if got := stock("widget"); got != 98 {
		t.Fatalf("widget stock after order-1 (2 units): %d, want 98", got)
	}
	if n := len(wfxFind(v, "call_completed", "charge-card")); n != 1 {
		t.Fatalf("order-1 charged %d times\n%s", n, wfxTimeline(v))
	}
	if n := len(wfxFind(v, "call_completed", "print-label")); n != 3 {
		t.Fatalf("order-1 printed %d labels, want 3\n%s", n, wfxTimeline(v))
	}
	// The same order again (a client retrying its POST) starts nothing.
	r := do(t, "POST", d.url+"/orders", order("order-1", "widget", 2, "4242424242424242", "box-a"), map[string]string{"Idempotency-Key": "order-1"})
	if a := decodeJSON[struct{ Created bool }](t, "POST /orders again", r); r.status != 200 || a.Created {
		t.Fatalf("POST /orders with a used Idempotency-Key: %d %s", r.status, r.body)
	}
	if got := stock("widget"); got != 98 {
		t.Fatalf("widget stock after order-1 was posted twice: %d, want 98", got)
	}

	// A declined card: the charge is not retried, the stock is released
	// (the compensation ran after the failure), the execution fails with
	// the payment's error and names the step.
	place("order-2", order("order-2", "widget", 3, "4000000000000002", "box"))
	v = wfxWait(t, d.dir, "order-2", "failed")
	fe := wfxDecode[wfxError](t, "error of order-2", v.Execution.Error)
	charge := wfxFind(v, "call_scheduled", "charge-card")
	if len(charge) != 1 {
		t.Fatalf("order-2: %d charge-card steps\n%s", len(charge), wfxTimeline(v))
	}
	if fe.Type != "CardDeclined" || fe.Name != "charge-card" || fe.Step != charge[0].Step || fe.Attempts != 1 || !strings.Contains(fe.Message, "0002") {
		t.Fatalf("order-2 failed with %s, want CardDeclined at step %d (charge-card) after 1 attempt", v.Execution.Error, charge[0].Step)
	}
	if n := len(wfxFind(v, "call_retrying", "charge-card")); n != 0 {
		t.Fatalf("a declined card was retried %d times\n%s", n, wfxTimeline(v))
	}
	failedAt := wfxFind(v, "call_failed", "charge-card")
	released := wfxFind(v, "call_completed", "release-stock")
	if len(failedAt) != 1 || len(released) != 1 || released[0].Seq < failedAt[0].Seq {
		t.Fatalf("order-2: want charge-card failed, then release-stock completed\n%s", wfxTimeline(v))
	}
	if n := len(wfxFind(v, "call_scheduled", "print-label")); n != 0 {
		t.Fatalf("order-2 printed labels after a failed charge\n%s", wfxTimeline(v))
	}
	if last := v.Events[len(v.Events)-1]; last.Type != "failed" || last.data(t).Error == nil || last.data(t).Error.Type != "CardDeclined" {
		t.Fatalf("order-2: the last event is not the failure\n%s", wfxTimeline(v))
	}
	if got := stock("widget"); got != 98 {
		t.Fatalf("widget stock after the declined order-2: %d, want 98 (released again)", got)
	}

	// A flaky processor: two transient failures, retried, then charged on
	// the third attempt. Started from the CLI this time.
	mustRun(t, d.dir, "workflow", "start", "fulfil", "--id", "order-3",
		"--data", string(order("order-3", "gadget", 1, "4000000000000119", "small")))
	v = wfxWait(t, d.dir, "order-3", "completed")
	checkReceipt(v, "order-3", "small")
	retries := wfxFind(v, "call_retrying", "charge-card")
	if len(retries) != 2 {
		t.Fatalf("order-3: %d call_retrying events for charge-card, want 2\n%s", len(retries), wfxTimeline(v))
	}
	for i, e := range retries {
		if ed := e.data(t); ed.Attempt != i+1 || ed.Error == nil || ed.Error.Type != "ProcessingError" {
			t.Fatalf("order-3: retry %d is %s", i+1, e.Data)
		}
	}
	if c := wfxFind(v, "call_completed", "charge-card"); len(c) != 1 || c[0].data(t).Attempt != 3 {
		t.Fatalf("order-3: charge-card did not complete on attempt 3\n%s", wfxTimeline(v))
	}
	if got := stock("gadget"); got != 9 {
		t.Fatalf("gadget stock after order-3: %d, want 9", got)
	}

	// Out of stock: reserve-stock says so once, nothing is charged.
	place("order-4", order("order-4", "gizmo", 1, "4242424242424242", "box"))
	v = wfxWait(t, d.dir, "order-4", "failed")
	if fe := wfxDecode[wfxError](t, "error of order-4", v.Execution.Error); fe.Type != "OutOfStock" || fe.Name != "reserve-stock" {
		t.Fatalf("order-4 failed with %s, want OutOfStock from reserve-stock", v.Execution.Error)
	}
	if n := len(wfxFind(v, "call_scheduled", "charge-card")); n != 0 {
		t.Fatalf("order-4 was charged without stock\n%s", wfxTimeline(v))
	}
	t.Logf("order-fulfilment: %s", time.Since(start).Round(time.Millisecond))
}

func TestWorkflowExampleApproval(t *testing.T) {
	t.Parallel()
	start := time.Now()
	d := startDev(t, "approval")
	requireDeployed(t, d)
	t.Logf("approval: strata dev deployed after %s", time.Since(start).Round(time.Millisecond))
	type result struct {
		Approved    bool   `json:"approved"`
		By          string `json:"by"`
		Escalated   bool   `json:"escalated"`
		EscalatedTo string `json:"escalated_to"`
	}

	// Approved within the (default, 72-hour) wait.
	mustRun(t, d.dir, "workflow", "start", "approval", "--id", "req-1",
		"--data", `{"request":"buy a laptop","approver":"ann"}`)
	waitFor(t, time.Minute, "req-1 to wait for its signal", func() error {
		v := wfxShow(t, d.dir, "req-1")
		if len(wfxFind(v, "signal_waiting", "approval")) != 1 {
			return fmt.Errorf("history:\n%s", wfxTimeline(v))
		}
		return nil
	})
	mustRun(t, d.dir, "workflow", "signal", "req-1", "approval", "--data", `{"approved":true,"by":"ann"}`)
	v := wfxWait(t, d.dir, "req-1", "completed")
	if got := wfxDecode[result](t, "req-1", v.Execution.Output); got != (result{Approved: true, By: "ann"}) {
		t.Fatalf("req-1: %s", v.Execution.Output)
	}

	// Nobody answers (started over HTTP): escalated after a second, then
	// rejected when the timeout passes.
	r := do(t, "POST", d.url+"/approvals", []byte(`{"request":"a new chair","approver":"bob","timeout_seconds":2,"escalate_after_seconds":1}`),
		map[string]string{"Idempotency-Key": "req-2"})
	if r.status != 202 {
		t.Fatalf("POST /approvals: %d %s", r.status, r.body)
	}
	v = wfxWait(t, d.dir, "req-2", "completed")
	want := result{Approved: false, By: "timeout", Escalated: true, EscalatedTo: "head-of-operations"}
	if got := wfxDecode[result](t, "req-2", v.Execution.Output); got != want {
		t.Fatalf("req-2: %s, want %+v", v.Execution.Output, want)
	}
	var kinds []string
	for _, e := range v.Events {
		kinds = append(kinds, e.Type+" "+e.Name)
	}
	if wantKinds := []string{"started approval", "signal_waiting approval", "signal_timed_out approval", "call_scheduled escalate",
		"call_completed escalate", "signal_waiting approval", "signal_timed_out approval", "completed "}; !slices.Equal(kinds, wantKinds) {
		t.Fatalf("req-2 history:\n%s", wfxTimeline(v))
	}
	r = do(t, "GET", d.url+"/escalations", nil, nil)
	escalations := decodeJSON[[]struct{ Execution, Request, Approver, To string }](t, "GET /escalations", r)
	if len(escalations) != 1 || escalations[0].Execution != "req-2" || escalations[0].Approver != "bob" || escalations[0].To != "head-of-operations" {
		t.Fatalf("GET /escalations: %s", r.body)
	}

	// Escalated, then decided by the person it was escalated to.
	mustRun(t, d.dir, "workflow", "start", "approval", "--id", "req-3",
		"--data", `{"request":"a trip","approver":"cy","timeout_seconds":3600,"escalate_after_seconds":1}`)
	waitFor(t, time.Minute, "req-3 to escalate", func() error {
		v := wfxShow(t, d.dir, "req-3")
		if len(wfxFind(v, "signal_waiting", "approval")) != 2 {
			return fmt.Errorf("history:\n%s", wfxTimeline(v))
		}
		return nil
	})
	mustRun(t, d.dir, "workflow", "signal", "req-3", "approval", "--data", `{"approved":false,"by":"head-of-operations"}`)
	v = wfxWait(t, d.dir, "req-3", "completed")
	want = result{Approved: false, By: "head-of-operations", Escalated: true, EscalatedTo: "head-of-operations"}
	if got := wfxDecode[result](t, "req-3", v.Execution.Output); got != want {
		t.Fatalf("req-3: %s, want %+v", v.Execution.Output, want)
	}

	// A signal to a finished execution is an error that says so.
	out, errOut, code := run(t, d.dir, nil, "workflow", "signal", "req-1", "approval", "--data", `{"approved":false,"by":"ann"}`)
	if code != 1 || !strings.Contains(errOut, `execution "req-1" is completed (409)`) {
		t.Fatalf("signal to the completed req-1: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	// Bad input fails the execution at once, with the reason.
	mustRun(t, d.dir, "workflow", "start", "approval", "--id", "req-4",
		"--data", `{"request":"x","approver":"dee","timeout_seconds":5,"escalate_after_seconds":9}`)
	v = wfxWait(t, d.dir, "req-4", "failed")
	if fe := wfxDecode[wfxError](t, "error of req-4", v.Execution.Error); fe.Type != "BadInput" || !strings.Contains(fe.Message, "escalate_after_seconds") {
		t.Fatalf("req-4 failed with %s", v.Execution.Error)
	}
	t.Logf("approval: %s", time.Since(start).Round(time.Millisecond))
}

func TestWorkflowExampleDocumentPipeline(t *testing.T) {
	t.Parallel()
	start := time.Now()
	d := startDev(t, "document-pipeline")
	requireDeployed(t, d)
	t.Logf("document-pipeline: strata dev deployed after %s", time.Since(start).Round(time.Millisecond))

	// 25 pages of different lengths, some not ASCII.
	words := []string{"stone", "river", "café", "Ärger", "north", "light", "δέντρο", "ink", "salt", "wind"}
	pages := make([]string, 25)
	for i := range pages {
		var b strings.Builder
		fmt.Fprintf(&b, "Chapter %d\n", i+1)
		for j := range 3 + i*7%23 {
			if j > 0 {
				b.WriteString(" ")
			}
			if j%9 == 8 {
				b.WriteString("\n")
			}
			b.WriteString(words[(i*3+j)%len(words)])
		}
		pages[i] = b.String()
	}
	input := filepath.Join(d.dir, "book.json")
	if err := os.WriteFile(input, jsonBody(map[string]any{"document": "book.txt", "pages": pages}), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, d.dir, "workflow", "start", "pipeline", "--id", "book", "--data", "@book.json")
	v := wfxWait(t, d.dir, "book", "completed")

	// The expected summary, computed here.
	type summary struct {
		Document    string   `json:"document"`
		Pages       int      `json:"pages"`
		Words       int      `json:"words"`
		Characters  int      `json:"characters"`
		LongestPage int      `json:"longest_page"`
		Digest      string   `json:"digest"`
		Headings    []string `json:"headings"`
	}
	want := summary{Document: "book.txt", Pages: len(pages)}
	digest := sha256.New()
	most := -1
	for i, p := range pages {
		n := len(strings.Fields(p))
		want.Words += n
		want.Characters += utf8.RuneCountInString(p)
		if n > most {
			most, want.LongestPage = n, i+1
		}
		sum := sha256.Sum256([]byte(p))
		digest.Write([]byte(hex.EncodeToString(sum[:])))
		want.Headings = append(want.Headings, fmt.Sprintf("CHAPTER %d", i+1))
	}
	want.Digest = hex.EncodeToString(digest.Sum(nil))
	got := wfxDecode[summary](t, "output of book", v.Execution.Output)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("summary:\n got %+v\nwant %+v", got, want)
	}

	// Fan-out: the 25 process-page steps ran concurrently. The engine
	// starts an activity as soon as it is scheduled, so a fast page may
	// complete before the last page is scheduled (on a warm server that
	// happens in about one run in seven); what sequential calls can never
	// show, and a fan-out always does, is a second page scheduled while
	// the first still runs. Fan-in: combine comes after the last page.
	scheduled := wfxFind(v, "call_scheduled", "process-page")
	completed := wfxFind(v, "call_completed", "process-page")
	if len(scheduled) != 25 || len(completed) != 25 {
		t.Fatalf("%d process-page steps scheduled, %d completed; want 25 each\n%s", len(scheduled), len(completed), wfxTimeline(v))
	}
	inFlight, most := map[int]bool{}, 0
	for _, e := range v.Events {
		switch {
		case e.Type == "call_scheduled" && e.Name == "process-page":
			inFlight[e.Step] = true
			most = max(most, len(inFlight))
		case e.Type == "call_completed" && e.Name == "process-page":
			if !inFlight[e.Step] {
				t.Fatalf("process-page step %d completed but was not scheduled\n%s", e.Step, wfxTimeline(v))
			}
			delete(inFlight, e.Step)
		}
	}
	if most < 2 {
		t.Fatalf("process-page steps ran one at a time, not as a fan-out\n%s", wfxTimeline(v))
	}
	t.Logf("fan-out: up to %d of 25 pages in flight at once", most)
	combine := wfxFind(v, "call_scheduled", "combine")
	if len(combine) != 1 || combine[0].Seq < slices.MaxFunc(completed, func(a, b wfxEvent) int { return a.Seq - b.Seq }).Seq {
		t.Fatalf("combine was not scheduled once, after every page\n%s", wfxTimeline(v))
	}

	// The sample from the README, over HTTP.
	sample, err := os.ReadFile(filepath.Join(d.dir, "sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	r := do(t, "POST", d.url+"/documents", sample, map[string]string{"Idempotency-Key": "guide"})
	if r.status != 202 {
		t.Fatalf("POST /documents: %d %s", r.status, r.body)
	}
	v = wfxWait(t, d.dir, "guide", "completed")
	if g := wfxDecode[summary](t, "output of guide", v.Execution.Output); g.Pages != 5 || g.Words != 62 || g.Headings[3] != "PUFFINS" {
		t.Fatalf("guide: %s", v.Execution.Output)
	}
	t.Logf("document-pipeline: %s", time.Since(start).Round(time.Millisecond))
}
