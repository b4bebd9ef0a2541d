package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/store"
)

// BenchUsageInsert measures UsageInsert of batches of size records, the
// metering hot path. It reports records/s.
func BenchUsageInsert(b *testing.B, s store.Store, size int) {
	ctx := context.Background()
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	batch := make([]store.Usage, size)
	for i := range batch {
		batch[i] = store.Usage{InvocationID: fmt.Sprintf("inv-%08d", i), Function: "hello", Version: 3, Trigger: "http",
			TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Start: start.Add(time.Duration(i) * time.Millisecond),
			Duration: 1234567, BilledMS: 2, MemoryMB: 128, Outcome: store.OutcomeOK, Status: 200}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := s.UsageInsert(ctx, batch); err != nil {
			b.Fatal(err)
		}
		// Time moves on, as in production: indexes on start time grow
		// at their end rather than being refilled in the middle.
		for i := range batch {
			batch[i].Start = batch[i].Start.Add(time.Duration(size) * time.Millisecond)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "records/s")
}

// BenchLogInsert measures LogInsert of batches of size lines. It reports
// lines/s.
func BenchLogInsert(b *testing.B, s store.Store, size int) {
	ctx := context.Background()
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	batch := make([]store.LogLine, size)
	for i := range batch {
		batch[i] = store.LogLine{InvocationID: fmt.Sprintf("inv-%04d", i/8), Function: "hello", Version: 3,
			TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Time: at, Stream: "stdout",
			Line: fmt.Sprintf("handled GET /hello/%d in 1.2ms status=200 user-agent=curl/8.0", i)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := s.LogInsert(ctx, batch); err != nil {
			b.Fatal(err)
		}
		for i := range batch {
			batch[i].Time = batch[i].Time.Add(time.Millisecond)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "lines/s")
}
