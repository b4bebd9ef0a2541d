package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestObjectsCollector(t *testing.T) {
	s := ObjectStats{Live: 3, Events: 10, Evictions: 2, Commits: 4, Writes: 9, Sockets: 5}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewObjects(func() ObjectStats { return s }))
	want := `
# HELP strata_object_commit_writes_total Event writes carried by object group commits (writes per commit is the grouping).
# TYPE strata_object_commit_writes_total counter
strata_object_commit_writes_total 9
# HELP strata_object_commits_total Group commits of durable object storage.
# TYPE strata_object_commits_total counter
strata_object_commits_total 4
# HELP strata_objects_live Durable objects live in memory on this node.
# TYPE strata_objects_live gauge
strata_objects_live 3
# HELP strata_websockets_open WebSocket connections open on this node (object sockets and WebSocket routes).
# TYPE strata_websockets_open gauge
strata_websockets_open 5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "strata_objects_live", "strata_object_commits_total",
		"strata_object_commit_writes_total", "strata_websockets_open"); err != nil {
		t.Fatal(err)
	}
}
