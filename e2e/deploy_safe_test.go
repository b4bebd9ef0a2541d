package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 11: a function whose init panicked deployed and became active;
// every request then failed and the panic showed only as `_initialize:
// wasm error: unreachable`. Now the deploy is rejected with the guest's
// panic and stack, exits non-zero, and the previous version keeps
// answering.
func TestDeployRejectsInitPanic(t *testing.T) {
	parent := t.TempDir()
	mustRun(t, parent, "new", "hello")
	dir := filepath.Join(parent, "hello")
	d := startDevIn(t, dir)

	if r := do(t, "GET", d.url+"/hello/world", nil, nil); r.status != 200 || string(r.body) != "hello, world!\n" {
		t.Fatalf("GET /hello/world = %d %q", r.status, r.body)
	}

	src := filepath.Join(dir, "hello", "main.go")
	code, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(code), "func init() {\n", "func init() {\n\tpanic(\"GREETING_SOURCE is not configured\")\n", 1)
	if broken == string(code) {
		t.Fatal("the scaffold's main.go has no init function to break")
	}
	if err := os.WriteFile(src, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}

	out, errOut, exit := run(t, dir, nil, "deploy")
	if exit != 1 {
		t.Fatalf("deploy of a version whose init panics: exit %d, want 1 (a rejected deploy):\nstdout: %s\nstderr: %s", exit, out, errOut)
	}
	for _, want := range []string{
		"error: function hello: init failed: panic: GREETING_SOURCE is not configured (400)\n",
		"guest output during init:\n  panic: GREETING_SOURCE is not configured\n",
		"goroutine 1 [running]:",
		"main.init.0()",
	} {
		if !strings.Contains(errOut, want) {
			t.Fatalf("deploy rejection lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "wasm error: unreachable") {
		t.Fatalf("the rejection shows the trap instead of the panic:\n%s", errOut)
	}

	// The previous version still serves, and is still the active one.
	if r := do(t, "GET", d.url+"/hello/world", nil, nil); r.status != 200 || string(r.body) != "hello, world!\n" {
		t.Fatalf("after the rejected deploy GET /hello/world = %d %q", r.status, r.body)
	}
	// Nothing of the rejected deploy was written: version 1 is the only one.
	vs := mustRun(t, dir, "versions", "hello")
	lines := strings.Split(strings.TrimSpace(vs), "\n")
	if len(lines) != 2 || len(strings.Fields(lines[1])) < 2 || strings.Fields(lines[1])[0] != "*" || strings.Fields(lines[1])[1] != "1" {
		t.Fatalf("versions after the rejected deploy (want only version 1, active):\n%s", vs)
	}
}
