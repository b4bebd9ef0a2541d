package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestExampleLambdaNode runs an unchanged API Gateway v2 Node.js handler
// as a sandboxed process through routes of the real binary.
func TestExampleLambdaNode(t *testing.T) {
	t.Parallel()
	d := startDev(t, "lambda-node")
	for range 3 { // the first starts a process, the others reuse it
		r := do(t, "GET", d.url+"/hello/ada", nil, nil)
		if r.status != 200 || string(r.body) != "Hello, ada! (api, 128 MB)" || r.header.Get("Content-Type") != "text/plain" {
			t.Fatalf("hello: %d %q %v", r.status, r.body, r.header)
		}
	}
	r := do(t, "POST", d.url+"/echo", []byte(`{"a":[1,2]}`), map[string]string{"Content-Type": "application/json"})
	if r.status != 201 || r.header.Get("Set-Cookie") != "seen=1; Path=/" {
		t.Fatalf("echo: %d %q %v", r.status, r.body, r.header)
	}
	var echo struct {
		Echoed      map[string][]int `json:"echoed"`
		RemainingMs bool             `json:"remainingMs"`
	}
	if err := json.Unmarshal(r.body, &echo); err != nil || len(echo.Echoed["a"]) != 2 || !echo.RemainingMs {
		t.Fatalf("echo body %s: %v", r.body, err)
	}
	id := r.header.Get("X-Strata-Invocation-Id")
	eventually(t, 10*time.Second, "the handler's log line", func() bool {
		out, _, _ := run(t, d.dir, nil, "logs", "api")
		return strings.Contains(out, "POST /echo (request "+id+")")
	})
}

// TestExampleLambdaPython runs an unchanged SQS batch handler in Python
// with partial batch failures: good orders are processed once, a bad one
// is retried alone and then dead-lettered.
func TestExampleLambdaPython(t *testing.T) {
	t.Parallel()
	d := startDev(t, "lambda-python")
	for i := 1; i <= 3; i++ {
		mustRun(t, d.dir, "queue", "send", "orders", "--data", fmt.Sprintf(`{"id":%d,"quantity":%d}`, i, 2-i/3*2))
	}
	var out, dlq string
	defer func() {
		if t.Failed() {
			t.Logf("logs:\n%s\ndead letters:\n%s", out, dlq)
		}
	}()
	eventually(t, 60*time.Second, "orders processed and the bad one dead-lettered", func() bool {
		out, _, _ = run(t, d.dir, nil, "logs", "worker")
		dlq, _, _ = run(t, d.dir, nil, "queue", "peek", "orders-dlq")
		return strings.Contains(out, "processed order 1 x2") && strings.Contains(out, "processed order 2 x2") &&
			strings.Count(out, "order failed: order 3 has no quantity") >= 3 && strings.Contains(dlq, `{"id":3,"quantity":0}`)
	})
	out = mustRun(t, d.dir, "logs", "worker")
	for _, n := range []int{1, 2} {
		if c := len(regexp.MustCompile(fmt.Sprintf(`processed order %d x2`, n)).FindAllString(out, -1)); c != 1 {
			t.Fatalf("order %d processed %d times, want once (only failed messages are redelivered):\n%s", n, c, out)
		}
	}
}

// TestExampleLambdaGo builds an aws-lambda-go program as Lambda's
// provided runtimes take it (a static Linux executable named bootstrap)
// and serves it through a route of the real binary.
func TestExampleLambdaGo(t *testing.T) {
	t.Parallel()
	dir := copyProject(t, "lambda-go")
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "bin", "bootstrap"), ".")
	build.Dir = filepath.Join(dir, "handler")
	build.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOPROXY=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the bootstrap: %v\n%s", err, out)
	}
	d := startDevIn(t, dir)
	for range 2 {
		r := do(t, "GET", d.url+"/hello/ada", nil, nil)
		if r.status != 200 || string(r.body) != "Hello, ada! (hello, deadline in the future: true)" {
			t.Fatalf("hello: %d %q", r.status, r.body)
		}
	}
	r := do(t, "GET", d.url+"/hello/error", nil, nil)
	if r.status != 500 {
		t.Fatalf("a handler error: %d %q, want 500", r.status, r.body)
	}
	eventually(t, 10*time.Second, "the handler's error in the logs", func() bool {
		out, _, _ := run(t, d.dir, nil, "logs", "hello")
		return strings.Contains(out, `the handler failed: errorString: no greeting for "error"`)
	})
}
