package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/apitype"
)

// newProject scaffolds a project with `strata new` (its function logs a
// line per request) and returns its directory.
func newProject(t *testing.T, name string) string {
	t.Helper()
	parent := t.TempDir()
	mustRun(t, parent, "new", name)
	return filepath.Join(parent, name)
}

func readDevJSON(t *testing.T, dir string) (server string, pid int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, ".strata", "dev.json"))
	if err != nil {
		t.Fatalf("read dev.json: %v", err)
	}
	var st struct {
		Server string
		PID    int
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st.Server, st.PID
}

// TestDevOnePerProject: a second strata dev in a project is refused with a
// message naming the first (pid and address) and exit code 1, and leaves
// the first's dev.json alone; after the first is killed with SIGKILL (no
// clean-up at all), a new strata dev starts.
func TestDevOnePerProject(t *testing.T) {
	dir := newProject(t, "hello")
	first := startDevIn(t, dir)
	url, pid := readDevJSON(t, dir)
	if pid != first.cmd.Process.Pid || url != first.url {
		t.Fatalf("dev.json names %s pid %d, want %s pid %d", url, pid, first.url, first.cmd.Process.Pid)
	}

	out, errOut, code := run(t, dir, nil, "dev", "--addr", "127.0.0.1:0")
	want := fmt.Sprintf("error: strata dev is already running for this project (pid %d, serving %s); stop it first, or use it: commands run in this project reach it without flags\n", pid, url)
	if code != 1 || errOut != want || out != "" {
		t.Fatalf("second strata dev: exit %d\nstdout: %q\nstderr: %q\nwant stderr: %q", code, out, errOut, want)
	}
	// The refused dev left the first one's state: the CLI still finds it.
	if u, p := readDevJSON(t, dir); u != url || p != pid {
		t.Fatalf("dev.json after the refused second dev: %s pid %d", u, p)
	}
	if out := mustRun(t, dir, "invoke", "hello", "--method", "GET", "--path", "/hello/again"); out != "hello, again!\n" {
		t.Fatalf("invoke through dev.json = %q", out)
	}

	// Readable output: function lines prefixed by function@version and the
	// short invocation id; platform records as compact human lines, no
	// slog text records, no colour (stdout is not a terminal).
	r := do(t, "GET", first.url+"/hello/world", nil, nil)
	inv := r.header.Get("X-Strata-Invocation-Id")
	prefix := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d \[hello@1 ` + regexp.QuoteMeta(inv[len(inv)-12:]) + `\] \d{4}/\d\d/\d\d \d\d:\d\d:\d\d greeting "world"$`)
	eventually(t, 10*time.Second, "the dev terminal to show the function's line", func() bool {
		return prefix.MatchString(first.out.String())
	})
	for _, bad := range []string{"time=", "level=INFO", "\x1b["} {
		if strings.Contains(first.out.String()+first.err.String(), bad) {
			t.Fatalf("dev output contains %q:\nstdout:\n%s\nstderr:\n%s", bad, first.out, first.err)
		}
	}
	for _, chatter := range []string{"module compiled", "snapshot taken", "function version active"} {
		if strings.Contains(first.err.String(), chatter) {
			t.Fatalf("dev output at info level shows per-module chatter %q:\n%s", chatter, first.err)
		}
	}

	// SIGKILL: no deferred clean-up runs, dev.json stays behind; the lock
	// goes with the process.
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-first.done
	second := startDevIn(t, dir)
	if _, p := readDevJSON(t, dir); p != second.cmd.Process.Pid {
		t.Fatalf("dev.json names pid %d, want the new dev's %d", p, second.cmd.Process.Pid)
	}
	if r := do(t, "GET", second.url+"/hello/back", nil, nil); r.status != 200 || string(r.body) != "hello, back!\n" {
		t.Fatalf("after restart: %d %q", r.status, r.body)
	}
	// A clean stop removes its own dev.json.
	second.stop()
	if _, err := os.Stat(filepath.Join(dir, ".strata", "dev.json")); !os.IsNotExist(err) {
		t.Fatalf("dev.json after a clean stop: %v", err)
	}
}

// TestDevLogFormatJSON: with --log-format json every line strata dev
// writes to stderr is a JSON record, function log lines included (with
// function, version and invocation).
func TestDevLogFormatJSON(t *testing.T) {
	dir := newProject(t, "hello")
	d := startDevIn(t, dir, "--log-format", "json", "--log-level", "debug")
	r := do(t, "GET", d.url+"/hello/json", nil, nil)
	inv := r.header.Get("X-Strata-Invocation-Id")
	var fnRecord map[string]any
	eventually(t, 10*time.Second, "the function's line as a JSON record", func() bool {
		for _, l := range strings.Split(strings.TrimSpace(d.err.String()), "\n") {
			var rec map[string]any
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Fatalf("stderr line is not JSON: %q (%v)", l, err)
			}
			if rec["invocation"] == inv {
				fnRecord = rec
				return true
			}
		}
		return false
	})
	if fnRecord["function"] != "hello" || fnRecord["version"] != float64(1) || fnRecord["level"] != "INFO" ||
		!strings.HasSuffix(fnRecord["msg"].(string), `greeting "json"`) || fnRecord["stream"] != "stderr" {
		t.Fatalf("function record: %v", fnRecord)
	}
	// Debug shows the demoted chatter.
	if !strings.Contains(d.err.String(), `"level":"DEBUG"`) {
		t.Fatalf("no debug records with --log-level debug:\n%s", d.err)
	}

	// A bad format is refused before anything starts.
	_, errOut, code := run(t, t.TempDir(), nil, "server", "--log-format", "xml")
	if code != 2 || errOut != "error: --log-format \"xml\": want human, text or json\n" {
		t.Fatalf("bad --log-format: exit %d %q", code, errOut)
	}
}

// TestLogsVisibleWhenAnswered: a line a function logged is in `strata logs`
// as soon as its response has arrived, every time; and the filters.
func TestLogsVisibleWhenAnswered(t *testing.T) {
	dir := newProject(t, "hello")
	d := startDevIn(t, dir)
	var ids []string
	var traceparent string
	for i := range 15 {
		r := do(t, "GET", fmt.Sprintf("%s/hello/n%d", d.url, i), nil, nil)
		inv := r.header.Get("X-Strata-Invocation-Id")
		ids = append(ids, inv)
		if i == 7 {
			traceparent = r.header.Get("Traceparent")
		}
		out := mustRun(t, dir, "logs", "hello", "--invocation", inv)
		if !strings.Contains(out, fmt.Sprintf(`greeting "n%d"`, i)) {
			t.Fatalf("request %d: logs right after the response lack its line:\n%s", i, out)
		}
		if n := strings.Count(out, "\n"); n != 1 {
			t.Fatalf("--invocation printed %d lines:\n%s", n, out)
		}
	}

	// --tail and --json.
	out := mustRun(t, dir, "logs", "hello", "--tail", "2", "--json")
	var got []apitype.LogEntry
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var e apitype.LogEntry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("--json line %q: %v", l, err)
		}
		got = append(got, e)
	}
	if len(got) != 2 || got[0].InvocationID != ids[13] || got[1].InvocationID != ids[14] || got[1].Level != "info" || got[1].Function != "hello" {
		t.Fatalf("--tail 2 --json: %+v", got)
	}
	// --since: everything is recent; an RFC 3339 time in the future
	// selects nothing.
	if out := mustRun(t, dir, "logs", "hello", "--since", "10m"); strings.Count(out, "\n") != 15 {
		t.Fatalf("--since 10m:\n%s", out)
	}
	if out := mustRun(t, dir, "logs", "hello", "--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)); out != "" {
		t.Fatalf("--since a future time:\n%s", out)
	}
	// --until: a time before the first request selects nothing; a time
	// after the last everything.
	if out := mustRun(t, dir, "logs", "hello", "--until", "1h"); out != "" {
		t.Fatalf("--until 1h:\n%s", out)
	}
	if out := mustRun(t, dir, "logs", "hello", "--until", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)); strings.Count(out, "\n") != 15 {
		t.Fatalf("--until a future time:\n%s", out)
	}
	// --trace: the request's traceparent (returned by the gateway) names
	// the trace; its line alone, with the span id of the invocation.
	parts := strings.Split(traceparent, "-")
	if len(parts) != 4 {
		t.Fatalf("traceparent of request 7: %q", traceparent)
	}
	out = mustRun(t, dir, "logs", "hello", "--trace", parts[1], "--json")
	var e apitype.LogEntry
	if err := json.Unmarshal([]byte(out), &e); err != nil || e.InvocationID != ids[7] || e.TraceID != parts[1] || len(e.SpanID) != 16 {
		t.Fatalf("--trace %s: %v %s", parts[1], err, out)
	}
	// --level: the scaffold logs info lines only.
	if out := mustRun(t, dir, "logs", "hello", "--level", "warn"); out != "" {
		t.Fatalf("--level warn:\n%s", out)
	}
	if out := mustRun(t, dir, "logs", "hello", "--level", "info", "--tail", "1"); !strings.Contains(out, `greeting "n14"`) {
		t.Fatalf("--level info --tail 1:\n%s", out)
	}

	// Bad input: exact messages, exit code 2, before any request.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--since", "yesterday"}, `error: --since "yesterday": want a duration like 10m or an RFC 3339 time like 2026-01-02T15:04:05Z`},
		{[]string{"--level", "loud"}, `error: --level "loud": want debug, info, warn or error`},
		{[]string{"--until", "later"}, `error: --until "later": want a duration like 10m or an RFC 3339 time like 2026-01-02T15:04:05Z`},
		{[]string{"--until", "5m", "-f"}, `error: --until with -f: following prints lines as they are written, so none is ever before --until; drop one of them`},
		{[]string{"--trace", "xyz"}, `error: --trace "xyz": want a trace id of 32 lowercase hex digits (the trace_id of strata logs --json, or of a traceparent header)`},
		{[]string{"--tail", "-1"}, `error: --tail -1: want a number of lines, 1..10000`},
		{[]string{"--tail", "20000"}, `error: --tail 20000: at most 10000 lines`},
	} {
		_, errOut, code := run(t, dir, nil, append([]string{"logs", "hello"}, tc.args...)...)
		if code != 2 || errOut != tc.want+"\n" {
			t.Fatalf("logs %v: exit %d %q, want 2 %q", tc.args, code, errOut, tc.want)
		}
	}
}

// freeAddr returns a loopback address no one listens on now, for a server
// that must come back on the same address.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestLogsFollowReconnects: `strata logs -f` says when the server goes
// away, reconnects when it is back, and resumes after the last line it
// printed: no line twice, none lost.
func TestLogsFollowReconnects(t *testing.T) {
	dir := newProject(t, "hello")
	addr := freeAddr(t)
	d := startDevIn(t, dir, "--addr", addr)
	follow := startProc(t, dir, "logs", "hello", "-f")
	do(t, "GET", d.url+"/hello/before", nil, nil)
	eventually(t, 10*time.Second, "logs -f to print the first line", func() bool {
		return strings.Contains(follow.out.String(), `greeting "before"`)
	})

	d.stop()
	eventually(t, 10*time.Second, "logs -f to say the connection is lost", func() bool {
		return strings.Contains(follow.err.String(), "connection lost; reconnecting…\n")
	})
	if follow.exited() {
		t.Fatalf("logs -f exited when the server went away:\n%s", follow.err)
	}
	d = startDevIn(t, dir, "--addr", addr)
	eventually(t, 20*time.Second, "logs -f to reconnect", func() bool {
		return strings.Contains(follow.err.String(), "reconnected\n")
	})
	do(t, "GET", d.url+"/hello/after", nil, nil)
	eventually(t, 10*time.Second, "logs -f to print the line after the restart", func() bool {
		return strings.Contains(follow.out.String(), `greeting "after"`)
	})
	out := follow.out.String()
	if strings.Count(out, `greeting "before"`) != 1 || strings.Count(out, "\n") != 2 {
		t.Fatalf("logs -f output across the restart (want each line once):\n%s", out)
	}
	if got := follow.err.String(); got != "connection lost; reconnecting…\nreconnected\n" {
		t.Fatalf("logs -f stderr: %q", got)
	}
}
