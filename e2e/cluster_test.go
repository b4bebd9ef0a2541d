package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startNode starts one more `strata server` on a store others share
// and returns it with its URL once it serves (it prints no token: the
// store has one already).
func startNode(t *testing.T, args ...string) (*proc, string) {
	t.Helper()
	dataDir := t.TempDir()
	p := startProc(t, dataDir, append([]string{"server", "--addr", "127.0.0.1:0", "--data-dir", dataDir}, args...)...)
	return p, p.awaitOutput(t, "a node to start", regexp.MustCompile(`serving on (http://\S+)`))[0]
}

// clusterNode is one row of GET /nodes.
type clusterNode struct {
	ID, Addr, State, Version string
	Load                     int
}

// listNodes reads GET /nodes through url's admin API.
func listNodes(t *testing.T, url, tok string) map[string]clusterNode {
	t.Helper()
	r := do(t, "GET", url+"/_strata/api/v1/nodes", nil, map[string]string{"Authorization": "Bearer " + tok})
	if r.status != http.StatusOK {
		t.Fatalf("GET /nodes: %d %s", r.status, r.body)
	}
	var out struct{ Nodes []clusterNode }
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("GET /nodes: %v: %s", err, r.body)
	}
	m := map[string]clusterNode{}
	for _, n := range out.Nodes {
		m[n.ID] = n
	}
	return m
}

// nodeLine finds the line of `strata nodes` output about node id.
func nodeLine(out, id string) string {
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == id {
			return l
		}
	}
	return ""
}

// TestClusterNodesAndDrain runs two nodes on one PostgreSQL schema:
// `strata nodes` lists both serving; then one is sent SIGTERM while a
// slow request is in flight on it. The request completes, the node's
// health answers 503 draining meanwhile (so a balancer stops sending), it
// exits 0, and the other node lists it gone.
func TestClusterNodesAndDrain(t *testing.T) {
	t.Parallel()
	store := pgStoreArgs(t, "strata_e2e_cluster")
	// A short lease: heartbeats (with the load) every 500ms.
	lease := []string{"--node-lease", "1500ms"}
	_, urlA, tok := startServer(t, append(append([]string{"--node-id", "node-a"}, lease...), store...)...)
	b, urlB := startNode(t, append(append([]string{"--node-id", "node-b"}, lease...), store...)...)

	// Each node records itself serving before it says so.
	out := mustRun(t, t.TempDir(), "nodes", "--server", urlA, "--token", tok)
	if !regexp.MustCompile(`^ID\s+ADDRESS\s+STATE\s+VERSION\s+LOAD\s+LAST HEARTBEAT\n`).MatchString(out) {
		t.Fatalf("strata nodes header:\n%s", out)
	}
	for id, url := range map[string]string{"node-a": urlA, "node-b": urlB} {
		l := nodeLine(out, id)
		if l == "" {
			t.Fatalf("strata nodes has no line for %s:\n%s", id, out)
		}
		if !strings.Contains(l, strings.TrimPrefix(url, "http://")) || !strings.Contains(l, " serving ") {
			t.Fatalf("strata nodes: %s should be serving at %s:\n%s", id, url, out)
		}
	}
	if !strings.Contains(nodeLine(out, "node-a"), "node-a (answering)") {
		t.Fatalf("strata nodes should mark the node answering:\n%s", out)
	}

	// Deploy through A; B picks the deploy up from the store.
	dir := copyTree(t, filepath.Join(repoRoot(), "e2e", "testdata", "drain"))
	mustRun(t, dir, "deploy", "--server", urlA, "--token", tok)
	eventually(t, time.Minute, "node B to serve the deploy", func() bool {
		return do(t, "GET", urlB+"/slow/0", nil, nil).status == http.StatusOK
	})

	// A slow request on B, seen in flight through B's heartbeat.
	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get(urlB + "/slow/6000")
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		done <- result{resp.StatusCode, string(body), err}
	}()
	eventually(t, time.Minute, "node B's heartbeat to show the slow request", func() bool {
		return listNodes(t, urlA, tok)["node-b"].Load > 0
	})

	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Draining: health says so with 503 while the request is in flight,
	// and the node list shows it.
	var health string
	eventually(t, time.Minute, "node B's health to answer draining", func() bool {
		resp, err := http.Get(urlB + "/_strata/health")
		if err != nil {
			t.Fatalf("node B stopped answering before its slow request ended: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		health = fmt.Sprintf("%d %s", resp.StatusCode, body)
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	if !strings.Contains(health, `"status":"draining"`) {
		t.Fatalf("health while draining: %s", health)
	}
	select {
	case r := <-done:
		t.Fatalf("the slow request ended before the drain was seen: %+v", r)
	default:
	}
	if n := listNodes(t, urlA, tok)["node-b"]; n.State != "draining" {
		t.Fatalf("node B while draining: %+v", n)
	}

	r := <-done
	if r.err != nil || r.status != http.StatusOK || r.body != "slept 6000 ms\n" {
		t.Fatalf("the request in flight at SIGTERM: %+v", r)
	}
	select {
	case <-b.done:
	case <-time.After(time.Minute):
		t.Fatalf("node B did not exit after draining:\n%s", b.err)
	}
	if code := b.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("node B exited %d after SIGTERM:\n%s", code, b.err)
	}
	if !strings.Contains(b.err.String(), "draining (up to 30s)…\n") || !strings.HasSuffix(b.err.String(), "stopped\n") {
		t.Fatalf("node B's stderr:\n%s", b.err)
	}

	out = mustRun(t, t.TempDir(), "nodes", "--server", urlA, "--token", tok)
	if !strings.Contains(nodeLine(out, "node-b"), " gone ") || !strings.Contains(nodeLine(out, "node-a"), " serving ") {
		t.Fatalf("strata nodes after node B stopped:\n%s", out)
	}
}

// TestClusterDuplicateNodeID: a node started with the id of a live node
// at another address refuses to start, naming the holder and what to do;
// once the holder stopped, the id is free at once.
func TestClusterDuplicateNodeID(t *testing.T) {
	t.Parallel()
	store := pgStoreArgs(t, "strata_e2e_dupid")
	a, urlA, _ := startServer(t, append([]string{"--node-id", "web-1"}, store...)...)

	_, errOut, code := run(t, t.TempDir(), nil, append([]string{"server", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--node-id", "web-1"}, store...)...)
	want := fmt.Sprintf(`error: node id "web-1" is in use by a live node at %s (serving, last heartbeat `, strings.TrimPrefix(urlA, "http://"))
	if i := strings.Index(errOut, "error: "); i >= 0 {
		errOut = errOut[i:] // after the data dir's log line
	}
	if code != 1 || !strings.HasPrefix(errOut, want) ||
		!strings.HasSuffix(errOut, " ago): give this node another id with --node-id, or stop the other node first (its id frees once it exits or stays silent for 15s)\n") {
		t.Fatalf("a second node with a live node's id: exit %d, stderr:\n%s", code, errOut)
	}

	// A bad id is a usage error.
	_, errOut, code = run(t, t.TempDir(), nil, append([]string{"server", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--node-id", "web 1"}, store...)...)
	if code != 2 || !strings.Contains(errOut, `node id "web 1": want 1 to 128 letters, digits, '-', '_', '.' or ':'`) {
		t.Fatalf("a bad node id: exit %d, stderr:\n%s", code, errOut)
	}

	a.stop()
	if code := a.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("node A exited %d:\n%s", code, a.err)
	}
	startNode(t, append([]string{"--node-id", "web-1"}, store...)...)
}
