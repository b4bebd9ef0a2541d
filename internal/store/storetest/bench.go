package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// BenchUsageInsert measures UsageInsert of batches of size records, the
// metering hot path. It reports records/s.
func BenchUsageInsert(b *testing.B, s store.Store, size int) {
	ctx := context.Background()
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	batch := make([]record.Usage, size)
	for i := range batch {
		batch[i] = record.Usage{InvocationID: fmt.Sprintf("inv-%08d", i), Function: "hello", Version: 3, Trigger: "http",
			TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Start: start.Add(time.Duration(i) * time.Millisecond),
			Duration: 1234567, BilledMS: 2, MemoryMB: 128, Outcome: record.OutcomeOK, Status: 200}
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
	batch := make([]record.LogLine, size)
	for i := range batch {
		batch[i] = record.LogLine{InvocationID: fmt.Sprintf("inv-%04d", i/8), Function: "hello", Version: 3,
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

// benchQueue deploys queue "bench" (with a dead-letter queue and
// MaxReceives, as async queues have, so receives take the dead-letter path
// too) and returns a batch of size messages for it.
func benchQueue(b *testing.B, s store.Store, size int) []store.MessageSendParams {
	q := userQueue("bench")
	q.MaxReceives = 3
	q.DeadLetter = "bench-dlq"
	deployEvents(b, s, "bench", store.EventsApplyParams{Queues: []record.QueueConfig{q, userQueue("bench-dlq")}})
	batch := make([]store.MessageSendParams, size)
	for i := range batch {
		batch[i] = store.MessageSendParams{Queue: "bench", Body: []byte(fmt.Sprintf(`{"order":%d,"items":["a","b"],"total":12.5}`, i)),
			Attributes: map[string]string{"type": "order.created", "source": "/shop"}}
	}
	return batch
}

// BenchMessageSend measures MessageSend of batches of size messages. It
// reports msgs/s.
func BenchMessageSend(b *testing.B, s store.Store, size int) {
	ctx := context.Background()
	batch := benchQueue(b, s, size)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.MessageSend(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchMessageReceiveAck measures one receive of size messages and the ack
// of all of them, from a queue holding a backlog. It reports msgs/s.
func BenchMessageReceiveAck(b *testing.B, s store.Store, size int) {
	ctx := context.Background()
	batch := benchQueue(b, s, 1000)
	refill := func() {
		for range 10 {
			if _, err := s.MessageSend(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	refill()
	ids, receipts := make([]int64, 0, size), make([]string, 0, size)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		got, err := s.MessageReceive(ctx, store.MessageReceiveParams{Queue: "bench", Max: size})
		if err != nil {
			b.Fatal(err)
		}
		if len(got) < size {
			b.StopTimer()
			refill()
			b.StartTimer()
		}
		ids, receipts = ids[:0], receipts[:0]
		for _, m := range got {
			ids, receipts = append(ids, m.ID), append(receipts, m.Receipt)
		}
		if n, err := s.MessageAck(ctx, "bench", ids, receipts); err != nil || n != len(got) {
			b.Fatalf("acked %d of %d: %v", n, len(got), err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchMessagePipeline measures the dispatch path end to end, minus the
// function: send a batch of size, receive it, ack it. With parallel, as
// many pipelines as GOMAXPROCS run at once on one queue. It reports msgs/s.
func BenchMessagePipeline(b *testing.B, s store.Store, size int, parallel bool) {
	ctx := context.Background()
	batch := benchQueue(b, s, size)
	cycle := func() error {
		if _, err := s.MessageSend(ctx, batch); err != nil {
			return err
		}
		got, err := s.MessageReceive(ctx, store.MessageReceiveParams{Queue: "bench", Max: size})
		if err != nil {
			return err
		}
		ids, receipts := make([]int64, len(got)), make([]string, len(got))
		for i, m := range got {
			ids[i], receipts[i] = m.ID, m.Receipt
		}
		_, err = s.MessageAck(ctx, "bench", ids, receipts)
		return err
	}
	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := cycle(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	} else {
		for b.Loop() {
			if err := cycle(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "msgs/s")
}

// benchKV deploys namespace "bench" holding keys entries of a 256-byte
// value and returns their keys.
func benchKV(b *testing.B, s store.Store, keys int) ([]string, []byte) {
	deployBindings(b, s, "bench", store.BindingsApplyParams{KV: kvNamespaces("bench")})
	value := make([]byte, 256)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	ks := make([]string, keys)
	for i := range ks {
		ks[i] = fmt.Sprintf("user/%06d/session", i)
		if err := s.KVPut(context.Background(), "bench", ks[i], value, 0); err != nil {
			b.Fatal(err)
		}
	}
	return ks, value
}

// BenchKVGet measures KVGet of a 256-byte value from a namespace of 1,000
// keys, the read path of a guest's kv.Get; with parallel, from GOMAXPROCS
// goroutines at once. It reports gets/s.
func BenchKVGet(b *testing.B, s store.Store, parallel bool) {
	ctx := context.Background()
	ks, _ := benchKV(b, s, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := s.KVGet(ctx, "bench", ks[i%len(ks)]); err != nil {
					b.Error(err)
					return
				}
				i += 7
			}
		})
	} else {
		i := 0
		for b.Loop() {
			if _, err := s.KVGet(ctx, "bench", ks[i%len(ks)]); err != nil {
				b.Fatal(err)
			}
			i += 7
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "gets/s")
}

// BenchKVPut measures KVPut of a 256-byte value over 1,000 existing keys
// (an overwrite, as counters and sessions are), with a TTL so that the
// expiry index is maintained too; with parallel, from GOMAXPROCS goroutines
// at once. It reports puts/s.
func BenchKVPut(b *testing.B, s store.Store, parallel bool) {
	ctx := context.Background()
	ks, value := benchKV(b, s, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if err := s.KVPut(ctx, "bench", ks[i%len(ks)], value, time.Hour); err != nil {
					b.Error(err)
					return
				}
				i += 7
			}
		})
	} else {
		i := 0
		for b.Loop() {
			if err := s.KVPut(ctx, "bench", ks[i%len(ks)], value, time.Hour); err != nil {
				b.Fatal(err)
			}
			i += 7
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
}

// BenchSpanInsert measures SpanInsert of batches of size spans, five to a
// trace with attributes, as the trace store's exporter writes them. It
// reports spans/s.
func BenchSpanInsert(b *testing.B, s store.Store, size int) {
	ctx := context.Background()
	next := 0
	batch := func() []store.Span {
		out := make([]store.Span, size)
		for i := range out {
			tr, n := next/5, next%5
			sp := span(tr, n, 0, "shop", "api", "invoke api", s0.Add(time.Duration(next)*time.Millisecond), time.Millisecond)
			if n == 0 {
				sp.ParentID = ""
			}
			sp.Attributes = map[string]string{"http.route": "/cart/{id}", "strata.version": "3", "strata.cold": "false"}
			out[i] = sp
			next++
		}
		return out
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		spans := batch()
		b.StartTimer()
		if err := s.SpanInsert(ctx, spans); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "spans/s")
}

// BenchTraceList measures the console's trace searches over a store of
// 100,000 spans (20,000 traces of five spans across ten projects and
// fifty functions; one trace in fifty has an error), a search per
// search (and a read of the first trace found) per filter the console
// offers.
func BenchTraceList(b *testing.B, s store.Store) {
	ctx := context.Background()
	const traces, perTrace = 20000, 5
	var batch []store.Span
	for tr := range traces {
		start := s0.Add(time.Duration(tr) * 100 * time.Millisecond)
		project, fn := fmt.Sprintf("p%d", tr%10), fmt.Sprintf("f%d", tr%50)
		for n := range perTrace {
			sp := span(tr, n, 0, project, fn, "invoke", start.Add(time.Duration(n)*time.Millisecond), time.Duration(tr%200)*time.Millisecond)
			if n == 0 {
				sp.ParentID = ""
			}
			if n == 4 && tr%50 == 0 {
				sp.Status = "error"
			}
			sp.Attributes = map[string]string{"http.route": "/cart/{id}", "strata.version": "3"}
			batch = append(batch, sp)
		}
		if len(batch) >= 1000 {
			if err := s.SpanInsert(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	searches := []struct {
		name string
		p    store.TraceListParams
	}{
		{"All", store.TraceListParams{}},
		{"Project", store.TraceListParams{Project: "p3"}},
		{"Function", store.TraceListParams{Function: "f7"}},
		{"ProjectFunction", store.TraceListParams{Project: "p3", Function: "f13"}},
		{"Errors", store.TraceListParams{ErrorsOnly: true}},
		{"ProjectErrors", store.TraceListParams{Project: "p0", ErrorsOnly: true}},
		{"MinDuration", store.TraceListParams{MinDuration: 190 * time.Millisecond}},
		{"ProjectBefore", store.TraceListParams{Project: "p5", Before: s0.Add(traces / 2 * 100 * time.Millisecond)}},
		{"FunctionSince", store.TraceListParams{Function: "f7", Since: s0.Add(traces / 2 * 100 * time.Millisecond)}},
		// Matches nothing: every row is read.
		{"NoMatch", store.TraceListParams{Function: "f14", ErrorsOnly: true}},
	}
	for _, sc := range searches {
		b.Run(sc.name, func(b *testing.B) {
			for b.Loop() {
				ts, err := s.TraceList(ctx, sc.p)
				if err != nil {
					b.Fatal(err)
				}
				if len(ts) > 0 {
					if _, err := s.TraceGet(ctx, ts[0].TraceID, sc.p.Project); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchObjectCommit measures ObjectCommit of batches of size writes, each
// one put of a small counter value on its own object (size distinct
// objects, leases held): the engine's group commit of object events. It
// reports writes/s.
func BenchObjectCommit(b *testing.B, s store.Store, size int) {
	ctx := context.Background()
	writes := make([]store.ObjectWrite, size)
	for i := range writes {
		k := record.ObjectKey{Project: "bench", Class: "Counter", ID: Digest(fmt.Appendf(nil, "counter %d", i))}
		l, err := s.ObjectLeaseAcquire(ctx, k, "bench-node", time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		writes[i] = store.ObjectWrite{Key: k, Token: l.Token, Bytes: 13, Keys: 1}
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		n++
		for i := range writes {
			writes[i].Puts = []record.ObjectEntry{{Key: "count", Value: fmt.Appendf(nil, "%08d", n)}}
		}
		errs, err := s.ObjectCommit(ctx, writes, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "writes/s")
}
