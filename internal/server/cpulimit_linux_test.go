//go:build linux

package server

import (
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// A spinning guest with cpu_ms, on the real node: the gateway answers 503
// naming the limit, with no Retry-After, long before the wall timeout; the
// function's next request runs on a fresh instance. The admin API refuses
// a cpu_ms the timeout would always beat.
func TestCPULimitThroughTheGateway(t *testing.T) {
	n := startNode(t, "")
	spin := cfgOf(record.KindReactor)
	spin.TimeoutMS, spin.CPUMS = 120000, 100
	if err := n.deploy(t, "cpu", fn{"spin", wasmtest.Guest(t, wasmtest.Loop), spin, routes("GET /spin")}); err != nil {
		t.Fatal(err)
	}
	code, hdr, body := get(t, n.url+"/spin", nil)
	if code != 503 || !strings.Contains(body, "spin@1: exceeded CPU time limit of 100 ms") || hdr.Get("X-Strata-Invocation-Id") == "" {
		t.Fatalf("spin: %d %s", code, body)
	}
	if ra := hdr.Get("Retry-After"); ra != "" {
		t.Fatalf("spin: Retry-After %q on the function's own limit", ra)
	}
	if code, _, body := get(t, n.url+"/spin?ok=1", nil); code != 200 || body != "fine" {
		t.Fatalf("spin?ok=1 after the limit: %d %s", code, body)
	}

	bad := cfgOf(record.KindReactor)
	bad.CPUMS = bad.TimeoutMS
	err := n.deploy(t, "cpu", fn{"spin", wasmtest.Guest(t, wasmtest.Loop), bad, routes("GET /spin")})
	if err == nil || !strings.Contains(err.Error(), "cpu_ms: must be below the timeout (2000 ms), got 2000") {
		t.Fatalf("deploy with cpu_ms at the timeout: %v", err)
	}
}
