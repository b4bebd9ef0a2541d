package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleStateMachines opens the state machine pages in a real
// browser against examples/approval-asl: the graph of the machine, an
// execution waiting in its callback (marked as the current state), and the
// same execution once approved (its path marked visited, SUCCEEDED, its
// history).
func TestConsoleStateMachines(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing, and CI is set: run make deps", chromiumPath)
		}
		t.Skipf("%s is missing (install it with make deps); the console's browser test needs it", chromiumPath)
	}
	t.Parallel()
	d := startDev(t, "approval-asl")
	requireDeployed(t, d)
	mustRun(t, d.dir, "sm", "start", "approval", "--name", "ui-1", "--input", `{"id":"ui-1","amount":5}`)
	waitFor(t, time.Minute, "ui-1 to wait for a decision", func() error {
		if r := do(t, "GET", d.url+"/requests", nil, nil); !strings.Contains(string(r.body), `"ui-1"`) {
			return fmt.Errorf("not waiting yet")
		}
		return nil
	})

	shots := t.ArtifactDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath), chromedp.NoSandbox,
		chromedp.Headless, chromedp.WindowSize(1400, 1000), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	base := d.url + "/_strata/console"
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644)
		})
	}
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+"`"+sel+"`"+`).length`))
		if err != nil {
			t.Fatalf("count %s: %v", sel, err)
		}
		return n
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	run("log in", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), d.token), chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.CSS("div.charts")))

	run("machines", chromedp.Navigate(base+"/machines"), chromedp.WaitVisible(chromedp.CSS("table.machines a.machine")), shot("machines"))
	run("machine", chromedp.Click(chromedp.CSS("table.machines a.machine")), chromedp.WaitVisible(chromedp.ID("graph")), shot("machine"))
	if n := count(`#graph g.state`); n != 4 {
		t.Fatalf("the graph draws %d states, want 4", n)
	}
	if got := text("table.sm-executions"); !strings.Contains(got, "ui-1") || !strings.Contains(got, "RUNNING") {
		t.Fatalf("executions:\n%s", got)
	}
	run("execution waiting", chromedp.Click(chromedp.CSS("table.sm-executions a.execution")), chromedp.WaitVisible(chromedp.ID("status")), shot("execution-waiting"))
	if got := text("#status"); got != "RUNNING" {
		t.Fatalf("status %q", got)
	}
	if n := count(`#graph g.state.current[data-state="AskForApproval"]`); n != 1 {
		t.Fatalf("AskForApproval is not marked as the current state")
	}

	if r := do(t, "POST", d.url+"/requests/ui-1/approve", []byte(`{"by":"console"}`), nil); r.status != 202 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	smWait(t, d.dir, "approval", "ui-1")
	run("execution done", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("output")), shot("execution-done"))
	if got := text("#status"); got != "SUCCEEDED" {
		t.Fatalf("status %q", got)
	}
	for _, st := range []string{"AskForApproval", "Approved"} {
		if n := count(`#graph g.state.visited[data-state="` + st + `"]`); n != 1 {
			t.Fatalf("%s is not marked visited", st)
		}
	}
	if n := count(`#graph g.state.visited[data-state="Rejected"]`); n != 0 {
		t.Fatalf("Rejected is marked visited")
	}
	hist := text("table.sm-history")
	for _, want := range []string{"ExecutionStarted", "TaskScheduled", "TaskSucceeded", "ExecutionSucceeded"} {
		if !strings.Contains(hist, want) {
			t.Fatalf("history lacks %s:\n%s", want, hist)
		}
	}
	if n := count("script"); n != 0 {
		t.Fatalf("the execution page has %d script elements", n)
	}
}
