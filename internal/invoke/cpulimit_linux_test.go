//go:build linux

package invoke

import (
	"context"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// A function over its cpu_ms fails with the limit in its error, is metered
// with outcome cpu_limit, and its instance is replaced: the next
// invocation answers. The wall timeout is far away.
func TestInvokeCPULimit(t *testing.T) {
	b := setup(t)
	c := helloCfg
	c.TimeoutMS, c.CPUMS = 10*60*1000, 50
	b.deploy(t, "hello", wasmtest.Guest(t, wasmtest.Loop), c)
	res, err := b.inv.Invoke(context.Background(), req("/"))
	if !IsCPULimit(err) || IsTimeout(err) || err.Error() != "hello@1: exceeded CPU time limit of 50 ms" {
		t.Fatalf("loop: %v", err)
	}
	ok := req("/")
	ok.Wire.RawQuery = "ok=1"
	if res2, err := b.inv.Invoke(context.Background(), ok); err != nil || string(res2.Response.Body) != "fine" {
		t.Fatalf("after the CPU limit: %v", err)
	}
	// An object class's limit (Request.CPUMS) overrides the function's.
	over := req("/")
	over.CPUMS = 30
	if _, err := b.inv.Invoke(context.Background(), over); err == nil || err.Error() != "hello@1: exceeded CPU time limit of 30 ms" {
		t.Fatalf("loop with a limit of its own: %v", err)
	}
	if err := b.inv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	us, _ := b.st.UsageList(context.Background(), store.UsageListParams{Function: "hello"})
	outcomes := map[string]int{}
	for _, u := range us {
		outcomes[u.Outcome]++
		if u.InvocationID == res.InvocationID && u.Error != "hello@1: exceeded CPU time limit of 50 ms" {
			t.Fatalf("usage error: %q", u.Error)
		}
	}
	if outcomes[record.OutcomeCPULimit] != 2 || outcomes[record.OutcomeOK] != 1 {
		t.Fatalf("outcomes: %v", outcomes)
	}
	logs, _ := b.st.LogList(context.Background(), store.LogListParams{InvocationID: res.InvocationID})
	var platform bool
	for _, l := range logs {
		platform = platform || (l.Stream == "platform" && strings.Contains(l.Line, "exceeded CPU time limit"))
	}
	if !platform {
		t.Fatalf("no platform log line for the CPU limit: %+v", logs)
	}
}
