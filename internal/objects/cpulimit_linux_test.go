//go:build linux

package objects

import (
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/record"
)

// A runaway object request hits its class's CPU limit (the function has
// none, and its wall timeout is far away): the request fails, the object
// is reset, and its next request works on its stored state. Waiting (a
// sleep longer than the limit) is not CPU time.
func TestCPULimitResetsAndNextEventWorks(t *testing.T) {
	e := newEnv(t, Config{}, func(c *record.FunctionConfig) {
		c.TimeoutMS = 10 * 60 * 1000
		c.Objects[0].CPUMS = 100
	})
	e.must(t, "c", "POST", "/incr")
	if got := e.must(t, "c", "GET", "/sleep?ms=300"); got != "slept" {
		t.Fatalf("sleep: %q", got)
	}
	_, _, err := e.fetch(t, e.eng, "p", "c", "GET", "/loop")
	if !invoke.IsCPULimit(err) || invoke.IsTimeout(err) {
		t.Fatalf("loop: %v, want over the CPU limit", err)
	}
	if !strings.Contains(err.Error(), "counter@1: exceeded CPU time limit of 100 ms") {
		t.Fatalf("loop: %q", err)
	}
	if got := e.must(t, "c", "POST", "/incr"); !strings.HasPrefix(got, "n=2 ") {
		t.Fatalf("after the CPU limit: %q", got)
	}
}
