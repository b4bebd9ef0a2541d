package server

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// storeOps reads the node's store operation counts by operation
// (strata_store_operation_duration_seconds).
func storeOps(t *testing.T, n *node) map[string]uint64 {
	t.Helper()
	mfs, err := n.srv.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, mf := range mfs {
		if mf.GetName() != "strata_store_operation_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "operation" {
					out[l.GetValue()] = m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return out
}

// TestWarmRequestsMakeNoStoreOperations (issue 16's sizing figure): a
// warm HTTP invocation of a function that touches no binding makes no
// store operation of its own; its usage and log records are written in
// batches. 1,000 warm requests cost a handful of batched writes.
func TestWarmRequestsMakeNoStoreOperations(t *testing.T) {
	n := startNode(t, "")
	if err := n.deploy(t, "p", fn{"hello", wasmtest.Guest(t, wasmtest.Hello), cfgOf(record.KindReactor), routes("GET /hello/{name}")}); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if code, _, body := get(t, n.url+"/hello/warm", nil); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
	before := storeOps(t, n)
	const requests = 1000
	for range requests {
		if code, _, body := get(t, n.url+"/hello/x", nil); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
	after := storeOps(t, n)
	var total uint64
	var parts []string
	for op, c := range after {
		if d := c - before[op]; d > 0 {
			total += d
			parts = append(parts, fmt.Sprintf("%s %d", op, d))
		}
	}
	sort.Strings(parts)
	t.Logf("%d warm requests: %d store operations (%.4f each): %s", requests, total, float64(total)/requests, strings.Join(parts, ", "))
	if total > requests/20 {
		t.Fatalf("%d store operations for %d warm requests: something runs on the request path (%s)", total, requests, strings.Join(parts, ", "))
	}
}
