package objects

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stratahq/strata/sdk/go/wire"
)

// BenchmarkCounter is one durable increment per op (a get and a put of
// the counter, committed before the answer), 64 callers at once, on one
// object or spread over 1,000: the engine without HTTP in front.
func BenchmarkCounter(b *testing.B) {
	for _, objects := range []int{1, 1000} {
		b.Run(fmt.Sprintf("objects=%d", objects), func(b *testing.B) {
			e := newEnv(&testing.T{}, Config{})
			var n atomic.Int64
			b.SetParallelism(32) // 64 callers on 2 CPUs
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					name := fmt.Sprintf("c%d", i%int64(objects))
					res, err := e.eng.Fetch(context.Background(), "p", "Counter", name, "", &wire.Request{Method: "POST", Path: "/incr"})
					if err != nil || res.Response.Status != 200 {
						b.Fatalf("incr: %v", err)
					}
				}
			})
			b.StopTimer()
			st := e.eng.Stats()
			b.ReportMetric(float64(st.Writes)/float64(max(st.Commits, 1)), "writes/commit")
		})
	}
}
