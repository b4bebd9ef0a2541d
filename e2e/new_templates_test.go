package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNewTemplates: each template of strata new builds; the http, queue,
// cron and workflow ones also run under strata dev and answer a request
// or an invoke. command-c is built with build.sh (clang-14 and wasi-libc,
// which make deps installs) and served.
func TestNewTemplates(t *testing.T) {
	t.Parallel()
	for _, tmpl := range []string{"http", "queue", "cron", "workflow", "crud", "command-c"} {
		t.Run(tmpl, func(t *testing.T) {
			t.Parallel()
			name := "my-" + tmpl
			parent := t.TempDir()
			out := mustRun(t, parent, "new", name, "--template", tmpl)
			if !strings.HasPrefix(out, "created project "+name+" in "+name+" from the "+tmpl+" template\n") {
				t.Fatalf("strata new printed %q", out)
			}
			dir := filepath.Join(parent, name)
			if tmpl == "command-c" {
				cmd := exec.Command("sh", "build.sh")
				cmd.Dir = dir
				if b, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("build.sh (needs clang-14 and wasi-libc: make deps): %v\n%s", err, b)
				}
			}
			mustRun(t, dir, "build")
			switch tmpl {
			case "crud":
				if _, err := os.Stat(filepath.Join(dir, ".strata", "build", name+".wasm")); err != nil {
					t.Fatalf("no module after strata build: %v", err)
				}
				return
			}
			d := startDevIn(t, dir)
			requireDeployed(t, d)
			// The server leaves a project's sdk/ and build/ as they are
			// (config.SecureDataDir): no warning about them at start.
			if strings.Contains(d.err.String(), ".strata/sdk") {
				t.Fatalf("strata new left .strata/sdk readable by others:\n%s", d.err)
			}
			switch tmpl {
			case "http", "command-c":
				r := do(t, "GET", d.url+"/hello/world", nil, nil)
				if r.status != 200 || !strings.HasSuffix(string(r.body), "hello, world!\n") {
					t.Fatalf("GET /hello/world: %d %q", r.status, r.body)
				}
			case "queue":
				out := mustRun(t, dir, "invoke", name, "--event", "queue", "--data", `{"id":3}`)
				if out != "" && strings.Contains(out, "batchItemFailures\":[{") {
					t.Fatalf("a good job was reported failed: %q", out)
				}
				mustRun(t, dir, "queue", "send", name, "--data", `{"id":4}`)
				waitFor(t, eventsWait, "both jobs processed", func() error {
					logs := mustRun(t, dir, "logs", name)
					if !strings.Contains(logs, "processed job 3 ") || !strings.Contains(logs, "processed job 4 ") {
						return fmt.Errorf("logs so far:\n%s", logs)
					}
					return nil
				})
			case "cron":
				mustRun(t, dir, "invoke", name, "--event", "schedule")
				mustRun(t, dir, "schedules", "fire", name)
				waitFor(t, eventsWait, "two fires logged", func() error {
					if logs := mustRun(t, dir, "logs", name); strings.Count(logs, name+" fired for ") != 2 {
						return fmt.Errorf("logs so far:\n%s", logs)
					}
					return nil
				})
			case "workflow":
				r := do(t, "POST", d.url+"/start", []byte(`{"name":"world"}`), map[string]string{"Idempotency-Key": "greet-1"})
				if r.status != 202 {
					t.Fatalf("POST /start: %d %s", r.status, r.body)
				}
				v := wfxWait(t, dir, "greet-1", "completed")
				if got := wfxDecode[map[string]string](t, "greet-1", v.Execution.Output); got["greeting"] != "hello, world!" || len(got) != 1 {
					t.Fatalf("output %s", v.Execution.Output)
				}
			}
		})
	}
}

// TestNewRefusesBadNames: strata new applies the manifest's name rule (it
// scaffolded my_app, which strata build then refused) and writes nothing.
func TestNewRefusesBadNames(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"new", "my_app"}, `error: project name must be a lowercase letter followed by up to 62 lowercase letters, digits or '-', got "my_app"; try "my-app"` + "\n"},
		{[]string{"new", "ok", "--template", "react"}, `error: template "react": want one of http, queue, cron, workflow, crud, command-c` + "\n"},
	} {
		out, errOut, code := run(t, parent, nil, tc.args...)
		if code != 1 || errOut != tc.want || out != "" {
			t.Errorf("strata %s: exit %d, stdout %q, stderr %q; want exit 1, %q", strings.Join(tc.args, " "), code, out, errOut, tc.want)
		}
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Fatalf("a refused new wrote %d entries", len(entries))
	}
}
