package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
)

// chromiumPath is Debian's chromium, which `make deps` installs.
const chromiumPath = "/usr/bin/chromium"

// consoleProject is the approval example (a route that starts a workflow
// waiting for a signal) with the order-queue example's queue, its
// dead-letter queue and consumer added, and a durable object class
// (counterGuest): real traffic of every kind the console shows.
func consoleProject(t *testing.T) string {
	t.Helper()
	dir := copyProject(t, "approval")
	src := filepath.Join(repoRoot(), "examples", "order-queue", "process-order", "main.go")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "process-order"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "process-order", "main.go"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "counters"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "counters", "main.go"), []byte(counterGuest), 0o644); err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(filepath.Join(dir, "strata.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	y = []byte(strings.Replace(string(y), "functions:\n", `queues:
  orders: { visibility_timeout: 2s, max_receives: 3, dead_letter: orders-dlq }
  orders-dlq: {}
objects:
  Counter: { function: counters }
functions:
  counters:
    source: ./counters
    memory: 64
    timeout: 10s
    routes:
      - route: POST /counters/{name}
        object: Counter
      - route: GET /counters/{name}
        object: Counter
  process-order:
    source: ./process-order
    memory: 128
    timeout: 10s
    queue: { name: orders, batch_size: 10 }
`, 1))
	if err := os.WriteFile(filepath.Join(dir, "strata.yaml"), y, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// counterGuest defines the durable object class Counter: a POST counts
// in storage "n" and keeps the request's body as "note" (the test sends
// markup, which the console must show as text); a WebSocket request is
// accepted, tagged "console".
const counterGuest = `package main

import (
	"io"
	"net/http"
	"strconv"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/objects"
)

type counter struct{ st *objects.State }

func (c *counter) Fetch(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if objects.IsWebSocketUpgrade(r) {
		if _, err := c.st.AcceptWebSocket(w, r, "console"); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
		return
	}
	v, _, err := c.st.Storage.Get(ctx, "n")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	n, _ := strconv.Atoi(string(v))
	n++
	note, _ := io.ReadAll(r.Body)
	err = c.st.Storage.PutMany(ctx, map[string][]byte{"n": []byte(strconv.Itoa(n)), "note": note})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	io.WriteString(w, "n="+strconv.Itoa(n))
}

func init() {
	objects.Register("Counter", func(st *objects.State) objects.Object { return &counter{st: st} })
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
}

func main() {}
`

// xssNote is what the test stores in an object: markup the console must
// escape.
const xssNote = `<script>document.title="pwned"</script>`

// TestConsoleBrowser drives the console in a real browser against a real
// node: log in, open every page (a screenshot of each in the test's
// artifact directory), follow a trace from the overview to its waterfall,
// close a WebSocket, delete a durable object, redrive a dead letter and signal a workflow, and check each action's
// effect through the CLI.
func TestConsoleBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing, and CI is set: run make deps", chromiumPath)
		}
		t.Skipf("%s is missing (install it with make deps); the console's browser test needs it", chromiumPath)
	}
	t.Parallel()
	d := startDevIn(t, consoleProject(t))
	requireDeployed(t, d)
	shots := t.ArtifactDir()
	t.Logf("screenshots in %s", shots)

	// Real traffic: a workflow started over HTTP, and orders of which one
	// fails into the dead-letter queue.
	mustRun(t, d.dir, "workflow", "start", "approval", "--id", "req-ui",
		"--data", `{"request":"a console","approver":"ann"}`)
	for _, id := range []int{1, 2, 7} {
		mustRun(t, d.dir, "queue", "send", "orders", "--data", fmt.Sprintf(`{"id":%d}`, id))
	}
	waitFor(t, eventsWait, "order 7 in orders-dlq", func() error {
		if n := len(dlqList(t, d.dir, "orders-dlq")); n != 1 {
			return fmt.Errorf("orders-dlq holds %d", n)
		}
		return nil
	})
	waitFor(t, time.Minute, "req-ui to wait for its signal", func() error {
		if len(wfxFind(wfxShow(t, d.dir, "req-ui"), "signal_waiting", "approval")) != 1 {
			return fmt.Errorf("not waiting yet")
		}
		return nil
	})

	// Spans come from the instrumented components; until every
	// component records them, the test stores a trace for a real
	// invocation (its trace id and invocation id from the usage record)
	// in the node's own store, as the span writer would.
	traceID := storeTrace(t, d)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath), chromedp.NoSandbox,
		chromedp.Headless, chromedp.WindowSize(1400, 1000), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	// No timeout on the browser's context (it would stop the browser);
	// each wait below is bounded by the test's own timeout.
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	base := d.url + "/_strata/console"
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.FullScreenshot(100)(ctx, tg) // 100: PNG
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644)
		})
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	// Log in.
	do("log in", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("token")), shot("login"),
		chromedp.SendKeys(chromedp.ID("token"), d.token), chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.CSS("div.charts")), shot("overview"))
	if got := text("main"); !strings.Contains(got, "approvals") || !strings.Contains(got, "Recent traces") {
		t.Fatalf("overview:\n%s", got)
	}
	// Follow the trace from the overview to its waterfall.
	do("follow a trace", chromedp.Click(chromedp.CSS(`a.trace[href$="`+traceID+`"]`)), chromedp.WaitVisible(chromedp.ID("waterfall")),
		chromedp.Click(chromedp.CSS("#waterfall details:nth-of-type(2) summary")), shot("trace"))
	got := text("#waterfall")
	for _, want := range []string{"POST /approvals", "invoke approvals", "strata.invocation_id"} {
		if !strings.Contains(got, want) {
			t.Fatalf("waterfall lacks %q:\n%s", want, got)
		}
	}
	// Every page.
	for _, p := range []struct{ name, path, sel string }{
		{"functions", "/functions", "table"}, {"function", "/functions/approvals", "table"}, {"logs", "/logs?function=process-order", "#logs"},
		{"traces", "/traces", "table.traces"}, {"executions", "/executions", "table"}, {"execution", "/executions/req-ui", ".timeline"},
		{"queues", "/queues", "table"}, {"queue", "/queues/orders-dlq", "table"}, {"schedules", "/schedules", "table"},
		{"usage", "/usage?window=24h", "table"}, {"connections", "/connections", "table.connections"},
	} {
		do(p.name, chromedp.Navigate(base+p.path), chromedp.WaitVisible(chromedp.CSS(p.sel)), shot(p.name))
	}
	// Live logs: a line logged after the page opened arrives over SSE.
	do("live log", chromedp.Navigate(base+"/logs?function=process-order"), chromedp.WaitVisible(chromedp.ID("logs")))
	mustRun(t, d.dir, "queue", "send", "orders", "--data", `{"id":40}`)
	do("live log line", chromedp.WaitVisible(chromedp.CSS("tr.live")), shot("logs-live"))
	if got := text("#logs"); !strings.Contains(got, "processed order 40") {
		t.Fatalf("live log:\n%s", got)
	}

	// A durable object made through its route shows on the objects page,
	// its stored markup as text; Delete (confirmed) removes it.
	res, err := http.Post(d.url+"/counters/lobby", "text/plain", strings.NewReader(xssNote))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || string(body) != "n=1" {
		t.Fatalf("POST /counters/lobby: %d %s", res.StatusCode, body)
	}
	// A WebSocket of the object shows on the connections page; Close
	// closes it, and the client hears 1000.
	ws, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(d.url, "http")+"/counters/lobby", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	closed := make(chan error, 1)
	go func() {
		_, _, err := ws.Read(context.Background())
		closed <- err
	}()
	do("connections", chromedp.Navigate(base+"/connections"), chromedp.WaitVisible(chromedp.CSS("table.connections button.close")), shot("connections-open"))
	if got := text("table.connections"); !strings.Contains(got, "object Counter/") || !strings.Contains(got, "console") {
		t.Fatalf("connections page:\n%s", got)
	}
	do("close connection", chromedp.Click(chromedp.CSS("table.connections button.close")), chromedp.WaitVisible(chromedp.ID("flash")))
	if code := websocket.CloseStatus(<-closed); code != websocket.StatusNormalClosure {
		t.Fatalf("the client heard close code %d", code)
	}

	do("objects", chromedp.Navigate(base+"/objects"), chromedp.WaitVisible(chromedp.CSS("table.objects a.object")), shot("objects"))
	if got := text("table.objects"); !strings.Contains(got, "Counter") || !strings.Contains(got, "lobby") {
		t.Fatalf("objects page:\n%s", got)
	}
	do("object", chromedp.Click(chromedp.CSS("table.objects a.object")), chromedp.WaitVisible(chromedp.ID("delete")), shot("object"))
	if got := text("table.storage"); !strings.Contains(got, xssNote) {
		t.Fatalf("the stored note is not shown as text:\n%s", got)
	}
	scripts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("script").length`))
	if err != nil || scripts != 0 {
		t.Fatalf("the object page has %d script elements (%v)", scripts, err)
	}
	do("delete object", chromedp.Click(chromedp.ID("confirm")), chromedp.Click(chromedp.ID("delete")),
		chromedp.WaitVisible(chromedp.ID("flash")), shot("object-deleted"))
	if got := text("main"); strings.Contains(got, "lobby") {
		t.Fatalf("the objects page still lists the deleted object:\n%s", got)
	}
	if out, errOut, code := run(t, d.dir, nil, "objects", "show", "Counter", "name:lobby"); code == 0 {
		t.Fatalf("strata objects show found the deleted object:\n%s%s", out, errOut)
	}

	// Redrive the dead letter through the UI.
	do("redrive", chromedp.Navigate(base+"/queues/orders-dlq"), chromedp.WaitVisible(chromedp.ID("redrive")),
		chromedp.Click(chromedp.ID("redrive")), chromedp.WaitVisible(chromedp.ID("flash")), shot("redriven"))
	if got := text("#flash"); got != "1 messages redriven" {
		t.Fatalf("redrive said %q", got)
	}
	// Order 7 went back to orders and is tried again (and fails again).
	waitFor(t, eventsWait, "order 7 to be tried again", func() error {
		logs := mustRun(t, d.dir, "logs", "process-order")
		if n := strings.Count(logs, "order 7 failed"); n < 2 {
			return fmt.Errorf("order 7 failed %d times:\n%s", n, logs)
		}
		return nil
	})

	// Signal the workflow through the UI.
	do("signal", chromedp.Navigate(base+"/executions/req-ui"), chromedp.WaitVisible(chromedp.ID("signal")),
		chromedp.SendKeys(chromedp.ID("signal-name"), "approval"),
		chromedp.SendKeys(chromedp.ID("signal-value"), `{"approved":true,"by":"console"}`),
		chromedp.Click(chromedp.ID("signal")), chromedp.WaitVisible(chromedp.ID("flash")), shot("signalled"))
	v := wfxWait(t, d.dir, "req-ui", "completed")
	var out struct {
		Approved bool   `json:"approved"`
		By       string `json:"by"`
	}
	if err := json.Unmarshal(v.Execution.Output, &out); err != nil || !out.Approved || out.By != "console" {
		t.Fatalf("req-ui output %s", v.Execution.Output)
	}
	do("execution completed", chromedp.Navigate(base+"/executions/req-ui"), chromedp.WaitVisible(chromedp.ID("status")), shot("execution-completed"))
	if got := text("#status"); got != record.FlowCompleted {
		t.Fatalf("the execution page says %q", got)
	}
}

// storeTrace stores a trace of the request that started req-ui: its root
// span, the invocation's span with the invocation id (so the waterfall
// shows its logs), and returns the trace id.
func storeTrace(t *testing.T, d *dev) string {
	t.Helper()
	var dbPath string
	_ = filepath.WalkDir(filepath.Join(d.dir, ".strata"), func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && strings.HasSuffix(p, ".db") && dbPath == "" {
			dbPath = p
		}
		return nil
	})
	if dbPath == "" {
		out, _ := exec.Command("find", filepath.Join(d.dir, ".strata")).Output()
		t.Fatalf("no SQLite store under .strata:\n%s", out)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var u record.Usage
	waitFor(t, time.Minute, "a usage record of approvals", func() error {
		us, err := st.UsageList(ctx, store.UsageListParams{Function: "approvals"})
		if err != nil || len(us) == 0 {
			return fmt.Errorf("%d records, %v", len(us), err)
		}
		u = us[0]
		return nil
	})
	trace := u.TraceID
	if len(trace) != 32 {
		trace = strings.Repeat("c", 32)
	}
	root, inv := "00f067aa0ba902b7", "00f067aa0ba902b8"
	if err := st.SpanInsert(ctx, []store.Span{
		{TraceID: trace, SpanID: root, Project: "approval", Function: "approvals", Name: "POST /approvals", Kind: "server",
			Start: u.Start.Add(-time.Millisecond), Duration: u.Duration + 2*time.Millisecond, Status: "ok",
			Attributes: map[string]string{"http.route": "/approvals", "http.response.status_code": "202"}},
		{TraceID: trace, SpanID: inv, ParentID: root, Project: "approval", Function: "approvals", Name: "invoke approvals", Kind: "internal",
			Start: u.Start, Duration: u.Duration,
			Attributes: map[string]string{"strata.invocation_id": u.InvocationID, "faas.coldstart": fmt.Sprint(u.Cold)}},
	}); err != nil {
		t.Fatal(err)
	}
	return trace
}
