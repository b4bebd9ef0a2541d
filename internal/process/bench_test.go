package process_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/process"
	"github.com/stratahq/strata/internal/record"
)

// percentiles reports the p50 and p99 of ds, in the unit given.
func percentiles(b *testing.B, ds []time.Duration, unit time.Duration, name string) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2])/float64(unit), "p50-"+name)
	b.ReportMetric(float64(ds[len(ds)*99/100])/float64(unit), "p99-"+name)
}

var benchHandlers = map[string]struct {
	runtime, handler string
	files            map[string]string
}{
	"node":   {record.RuntimeNode, "index.handler", map[string]string{"index.js": `exports.handler = async (event) => ({ statusCode: 200, body: "hello " + event.name });`}},
	"python": {record.RuntimePython, "app.handler", map[string]string{"app.py": "def handler(event, context):\n    return {'statusCode': 200, 'body': 'hello ' + event['name']}\n"}},
}

// BenchmarkWarm is one warm invocation of a hello handler through the
// Runtime API: Handle hands the event to the waiting /next, the bootstrap
// calls the handler and posts /response. The handler does next to
// nothing, so this is the round trip's overhead (plus the runtime's own
// JSON work).
func BenchmarkWarm(b *testing.B) {
	for _, name := range []string{"node", "python"} {
		b.Run(name, func(b *testing.B) {
			h := benchHandlers[name]
			r := setup(b)
			m, err := compile(b, r, h.runtime, h.handler, h.files)
			if err != nil {
				b.Fatal(err)
			}
			inst := start(b, m)
			ds := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				iv := invoke(b, inst, `{"name":"ada"}`, 10*time.Second)
				ds = append(ds, time.Since(t0))
				if iv.err != nil {
					b.Fatal(iv.err)
				}
			}
			b.StopTimer()
			percentiles(b, ds, time.Microsecond, "µs")
		})
	}
}

// BenchmarkColdStart is a new sandboxed process to its first answer:
// bwrap's namespaces and mounts, the interpreter's start, loading the
// handler, the first invocation.
func BenchmarkColdStart(b *testing.B) {
	for _, name := range []string{"node", "python"} {
		b.Run(name, func(b *testing.B) {
			h := benchHandlers[name]
			r := setup(b)
			m, err := compile(b, r, h.runtime, h.handler, h.files)
			if err != nil {
				b.Fatal(err)
			}
			ds := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				inst, err := m.Instantiate(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				iv := invoke(b, inst, `{"name":"ada"}`, 10*time.Second)
				ds = append(ds, time.Since(t0))
				if iv.err != nil {
					b.Fatal(iv.err)
				}
				b.StopTimer()
				_ = inst.Close(context.Background())
				b.StartTimer()
			}
			b.StopTimer()
			percentiles(b, ds, time.Millisecond, "ms")
		})
	}
}

var _ = process.MaxPayload
