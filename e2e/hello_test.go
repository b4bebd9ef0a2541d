package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestHelloLifecycle walks through what a new user does: strata new,
// strata dev, curl, invoke, logs, usage, edit and save, versions,
// idempotent deploy, rollback.
func TestHelloLifecycle(t *testing.T) {
	parent := t.TempDir()
	mustRun(t, parent, "new", "hello")
	d := startDevIn(t, filepath.Join(parent, "hello"))

	r := do(t, "GET", d.url+"/hello/world", nil, nil)
	if r.status != 200 || string(r.body) != "hello, world!\n" {
		t.Fatalf("GET /hello/world = %d %q", r.status, r.body)
	}
	if r.header.Get("X-Strata-Invocation-Id") == "" || !strings.HasPrefix(r.header.Get("Traceparent"), "00-") {
		t.Fatalf("missing invocation id or traceparent: %v", r.header)
	}
	// An incoming trace is continued.
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	r = do(t, "GET", d.url+"/hello/trace", nil, map[string]string{"Traceparent": tp})
	if !strings.HasPrefix(r.header.Get("Traceparent"), "00-4bf92f3577b34da6a3ce929d0e0e4736-") {
		t.Fatalf("trace not continued: %q", r.header.Get("Traceparent"))
	}

	// Unknown route and wrong method are the platform's clear errors.
	if r := do(t, "GET", d.url+"/nope", nil, nil); r.status != 404 || !bytes.Contains(r.body, []byte("no route for GET /nope")) {
		t.Fatalf("unknown route = %d %s", r.status, r.body)
	}
	if r := do(t, "POST", d.url+"/hello/x", nil, nil); r.status != 405 || r.header.Get("Allow") == "" {
		t.Fatalf("wrong method = %d %v %s", r.status, r.header, r.body)
	}

	// `logs -f` follows: it prints lines of invocations made after it started.
	follow := startProc(t, d.dir, "logs", "hello", "-f")

	// The CLI reaches the dev server with no flags.
	out := mustRun(t, d.dir, "invoke", "hello", "--method", "GET", "--path", "/hello/cli")
	if out != "hello, cli!\n" {
		t.Fatalf("invoke = %q", out)
	}
	eventually(t, 10*time.Second, "logs to show the invocation", func() bool {
		out, _, _ := run(t, d.dir, nil, "logs", "hello")
		return strings.Contains(out, `greeting "cli"`) && strings.Contains(out, "hello@1")
	})
	eventually(t, 10*time.Second, "logs -f to print the new line", func() bool {
		return strings.Contains(follow.out.String(), `greeting "cli"`)
	})
	follow.stop()
	// Logs also streamed to the dev terminal.
	eventually(t, 10*time.Second, "dev terminal to show guest logs", func() bool {
		return strings.Contains(d.out.String(), `[hello@1 `) && strings.Contains(d.out.String(), `greeting "cli"`)
	})
	eventually(t, 10*time.Second, "usage to count 3 invocations", func() bool {
		out, _, _ := run(t, d.dir, nil, "usage", "--json")
		return strings.Contains(out, `"invocations": 3`)
	})
	out = mustRun(t, d.dir, "usage")
	for _, want := range []string{"FUNCTION", "hello", "TOTAL", "COST USD", "per GB-second"} {
		if !strings.Contains(out, want) {
			t.Fatalf("usage output lacks %q:\n%s", want, out)
		}
	}

	// Deploying the same project again changes nothing.
	out = mustRun(t, d.dir, "deploy")
	if !strings.Contains(out, "up to date") {
		t.Fatalf("second deploy was not a no-op:\n%s", out)
	}
	if out := mustRun(t, d.dir, "versions", "hello"); strings.Count(out, "MB") != 1 {
		t.Fatalf("versions after idempotent deploy:\n%s", out)
	}

	// Edit and save: dev rebuilds and swaps in version 2.
	src := filepath.Join(d.dir, "hello", "main.go")
	b, _ := os.ReadFile(src)
	if !bytes.Contains(b, []byte(`"%s, %s!\n"`)) {
		t.Fatalf("the scaffolded handler changed; update this test:\n%s", b)
	}
	if err := os.WriteFile(src, bytes.Replace(b, []byte(`"%s, %s!\n"`), []byte(`"%s, %s!!\n"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "version 2 to serve", func() bool {
		r := do(t, "GET", d.url+"/hello/world", nil, nil)
		return r.status == 200 && string(r.body) == "hello, world!!\n" && r.header.Get("X-Strata-Version") == "2"
	})
	out = mustRun(t, d.dir, "versions", "hello")
	if !hasActive(out, "2") {
		t.Fatalf("version 2 not active:\n%s", out)
	}

	mustRun(t, d.dir, "rollback", "hello", "1")
	r = do(t, "GET", d.url+"/hello/world", nil, nil)
	if string(r.body) != "hello, world!\n" || r.header.Get("X-Strata-Version") != "1" {
		t.Fatalf("after rollback: %q version %s", r.body, r.header.Get("X-Strata-Version"))
	}
	if out := mustRun(t, d.dir, "versions", "hello"); !hasActive(out, "1") {
		t.Fatalf("version 1 not active after rollback:\n%s", out)
	}
	// The plan shows the change back to the edited code without applying it.
	out = mustRun(t, d.dir, "deploy", "--plan")
	if !strings.Contains(out, "hello") || !strings.Contains(out, "module") || !strings.Contains(out, "nothing was changed") {
		t.Fatalf("plan output:\n%s", out)
	}
	if r := do(t, "GET", d.url+"/hello/world", nil, nil); r.header.Get("X-Strata-Version") != "1" {
		t.Fatalf("--plan changed the served version")
	}

	// Unknown function and version are clear errors with exit code 1.
	if _, errOut, code := run(t, d.dir, nil, "rollback", "hello", "99"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Fatalf("rollback to 99: exit %d, %s", code, errOut)
	}
	if _, errOut, code := run(t, d.dir, nil, "invoke", "nosuch"); code != 1 || !strings.Contains(errOut, "nosuch") {
		t.Fatalf("invoke nosuch: exit %d, %s", code, errOut)
	}
	if _, _, code := run(t, d.dir, nil, "rollback", "hello"); code != 2 {
		t.Fatalf("rollback with one arg: exit %d, want 2", code)
	}
}

// TestSwapUnderLoad saves new code while clients hammer the function and
// checks that not one request fails during the swap.
func TestSwapUnderLoad(t *testing.T) {
	d := startDev(t, "hello")
	var stop atomic.Bool
	var ok, bad atomic.Int64
	var v2 atomic.Int64
	var mu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200000 && !stop.Load(); i++ {
				status, body, err := get(d.url + "/hello/load")
				switch {
				case err == nil && status == 200 && body == "hello, load!\n":
					ok.Add(1)
				case err == nil && status == 200 && body == "hi, load!\n":
					ok.Add(1)
					v2.Add(1)
				default:
					bad.Add(1)
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%d %q %v", status, body, err))
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	// Change config (env) and code-free: a new version all the same.
	man := filepath.Join(d.dir, "strata.yaml")
	b, _ := os.ReadFile(man)
	if err := os.WriteFile(man, bytes.Replace(b, []byte("GREETING: hello"), []byte("GREETING: hi"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "the new version to serve under load", func() bool { return v2.Load() > 100 })
	stop.Store(true)
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d of %d requests failed during the swap, e.g. %q", bad.Load(), bad.Load()+ok.Load(), failures[0])
	}
	t.Logf("%d requests, none failed, %d on the new version", ok.Load(), v2.Load())
}

// hasActive reports whether `strata versions` output marks version v active.
func hasActive(out, v string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "*" && f[1] == v {
			return true
		}
	}
	return false
}

// get is a GET that reports errors instead of failing the test, for use
// from load goroutines.
func get(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// hasVersion reports whether `strata versions` output lists version v.
func hasVersion(out, v string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 1 && f[0] == v || len(f) >= 2 && f[0] == "*" && f[1] == v {
			return true
		}
	}
	return false
}
