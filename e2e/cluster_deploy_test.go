package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// TestClusterDeployReportsEveryNode: `strata deploy` through one node of
// two on one PostgreSQL reports when the other node serves the new
// version too (it hears of the deploy at once and compiles it itself),
// and the other node then answers with it.
func TestClusterDeployReportsEveryNode(t *testing.T) {
	t.Parallel()
	store := pgStoreArgs(t, "strata_e2e_clusterdeploy")
	_, urlA, tok := startServer(t, append([]string{"--node-id", "dep-a"}, store...)...)
	_, urlB := startNode(t, append([]string{"--node-id", "dep-b"}, store...)...)
	dir := copyProject(t, "hello")
	out, errOut, code := run(t, dir, nil, "deploy", "--server", urlA, "--token", tok)
	if code != 0 {
		t.Fatalf("deploy: exit %d\n%s%s", code, out, errOut)
	}
	line := regexp.MustCompile(`serving on all 2 nodes after \S+`).FindString(out + errOut)
	if line == "" {
		t.Fatalf("deploy did not report both nodes serving:\n%s%s", out, errOut)
	}
	t.Log(line)
	if r := do(t, "GET", urlB+"/hello/b", nil, nil); r.status != 200 || !strings.Contains(string(r.body), "b") {
		t.Fatalf("node B after the deploy: %d %s", r.status, r.body)
	}
}
