package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// writeWasmProject writes a one-function project whose function is a
// prebuilt module, and returns its directory.
func writeWasmProject(t *testing.T, project, fn string, wasm []byte, fnConfig string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), project)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, fn+".wasm"), wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	man := "project: " + project + "\nfunctions:\n  " + fn + ":\n    wasm: ./" + fn + ".wasm\n" + fnConfig
	if err := os.WriteFile(filepath.Join(dir, "strata.yaml"), []byte(man), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Found 6 of issue 9: 200 slow calls to one project's function (its
// max_concurrency above the node cap) made another project's routes answer
// 429 for their duration. Here the node runs 4 invocations at once and a
// project at most 2: project A floods its slow function with 12 calls
// (max_concurrency 50, clamped to 2), 10 are refused at once with 429, and
// project B's route answers 200 while A's 2 admitted calls still run.
func TestHostileCapacityFloodKeepsOtherProjectServed(t *testing.T) {
	t.Parallel()
	srv, url, tok := startServer(t, "--max-concurrency", "4", "--project-concurrency", "2", "--memory-budget", "1024")
	a := writeWasmProject(t, "tenant-a", "slow", wasmtest.Guest(t, wasmtest.Sleep),
		"    memory: 64\n    timeout: 30s\n    max_concurrency: 50\n    routes:\n      - GET /a/slow\n")
	b := writeWasmProject(t, "tenant-b", "hello", wasmtest.Guest(t, wasmtest.Hello),
		"    memory: 64\n    timeout: 10s\n    routes:\n      - GET /b/{name}\n")
	mustRun(t, a, "deploy", "--server", url, "--token", tok)
	mustRun(t, b, "deploy", "--server", url, "--token", tok)
	if r := do(t, "GET", url+"/b/warm", nil, nil); r.status != 200 {
		t.Fatalf("project B before the flood: %d %s", r.status, r.body)
	}

	// The flood: bounded (12 calls on loopback), each holding an instance
	// for 5 s unless refused.
	const flood = 12
	type result struct {
		status int
		err    error
	}
	results := make(chan result, flood)
	for range flood {
		go func() {
			resp, err := http.Get(url + "/a/slow?ms=5000")
			if err != nil {
				results <- result{err: err}
				return
			}
			resp.Body.Close()
			results <- result{status: resp.StatusCode}
		}()
	}
	refused := 0
	for refused < flood-2 {
		select {
		case r := <-results:
			switch {
			case r.err != nil:
				t.Fatalf("flood call: %v", r.err)
			case r.status == http.StatusTooManyRequests:
				refused++
			default:
				t.Fatalf("a flood call answered %d after %d refusals: project A got more than its share of 2", r.status, refused)
			}
		case <-time.After(time.Minute):
			t.Fatalf("only %d of %d flood calls refused", refused, flood)
		}
	}

	// A holds its 2 slots; B's route is served from the rest of the node.
	for i := range 3 {
		if r := do(t, "GET", url+"/b/world", nil, nil); r.status != 200 || !strings.Contains(string(r.body), "path=/b/world") {
			t.Fatalf("project B call %d during project A's flood: %d %s", i, r.status, r.body)
		}
	}
	select {
	case r := <-results:
		t.Fatalf("a slow call ended (%d, %v) before project B was checked; the check proved nothing (machine too slow for 5 s?)", r.status, r.err)
	default:
	}
	for range 2 {
		if r := <-results; r.err != nil || r.status != 200 {
			t.Fatalf("admitted flood call: %d %v", r.status, r.err)
		}
	}
	if log := srv.err.String() + srv.out.String(); !strings.Contains(log, "function max_concurrency above this node's per-project cap; clamped") {
		t.Fatalf("no clamp warning for max_concurrency 50 > project share 2 in the server log:\n%s", log)
	}
}

// Found 6, memory: a project's instances together hold at most its share
// of the node's instance memory budget. With a 300 MB budget and a project
// share of half the node, project A's 128 MB slow function fits once; its
// other calls get 429 (not another 128 MB each towards the node's memory),
// and project B's 128 MB function still starts and answers 200.
func TestHostileCapacityMemoryShare(t *testing.T) {
	t.Parallel()
	_, url, tok := startServer(t, "--max-concurrency", "10", "--project-concurrency", "5", "--memory-budget", "300")
	a := writeWasmProject(t, "tenant-a", "slow", wasmtest.Guest(t, wasmtest.Sleep),
		"    memory: 128\n    timeout: 30s\n    max_concurrency: 5\n    routes:\n      - GET /a/slow\n")
	b := writeWasmProject(t, "tenant-b", "hello", wasmtest.Guest(t, wasmtest.Hello),
		"    memory: 128\n    timeout: 10s\n    routes:\n      - GET /b/{name}\n")
	mustRun(t, a, "deploy", "--server", url, "--token", tok)
	mustRun(t, b, "deploy", "--server", url, "--token", tok)

	const flood = 5
	statuses := make(chan int, flood)
	for range flood {
		go func() {
			resp, err := http.Get(url + "/a/slow?ms=5000")
			if err != nil {
				statuses <- -1
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	for refused := 0; refused < flood-1; {
		select {
		case s := <-statuses:
			if s != http.StatusTooManyRequests {
				t.Fatalf("a flood call answered %d after %d refusals: project A held more than its 150 MB share", s, refused)
			}
			refused++
		case <-time.After(time.Minute):
			t.Fatalf("only %d of %d flood calls refused", refused, flood)
		}
	}
	if r := do(t, "GET", url+"/b/world", nil, nil); r.status != 200 {
		t.Fatalf("project B during project A's flood: %d %s", r.status, r.body)
	}
	select {
	case s := <-statuses:
		t.Fatalf("the slow call ended (%d) before project B was checked; the check proved nothing", s)
	default:
	}
	if s := <-statuses; s != 200 {
		t.Fatalf("admitted flood call: %d", s)
	}
}
