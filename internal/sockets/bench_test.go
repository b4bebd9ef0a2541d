package sockets

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// BenchmarkBroadcast1000 sends one message to 1,000 loopback clients per
// iteration and waits until every client read it; it reports the delivery
// latency's p50 and p99 (broadcast start to a client's read) and how long
// the 1,000 Sends took.
func BenchmarkBroadcast1000(b *testing.B) {
	const n = 1000
	h := newHarness(b, Config{})
	conns := make([]*Conn, 0, n)
	got := make(chan time.Time, n)
	for range n {
		ws, _, err := websocket.Dial(context.Background(), "ws"+h.srv.URL[len("http"):]+"/ws?project=p", nil)
		if err != nil {
			b.Fatal(err)
		}
		defer ws.CloseNow()
		conns = append(conns, <-h.conns)
		go func() {
			for {
				if _, _, err := ws.Read(context.Background()); err != nil {
					return
				}
				got <- time.Now()
			}
		}()
	}
	msg := Message{Data: []byte(`{"type":"tick","n":1}`), Text: true}
	lat := make([]time.Duration, 0, n*b.N)
	var sendTotal time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		for _, c := range conns {
			if err := c.Send(msg); err != nil {
				b.Fatal(err)
			}
		}
		sendTotal += time.Since(start)
		for range n {
			lat = append(lat, (<-got).Sub(start))
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(sendTotal.Microseconds())/float64(b.N), "sends-µs/op")
}
