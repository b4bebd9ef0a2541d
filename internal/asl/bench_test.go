package asl

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// passChain builds the benchmark machine: n Pass states, each
// transforming its input through Parameters.
func passChain(n int) []byte {
	states := map[string]any{}
	for i := 0; i < n; i++ {
		st := map[string]any{
			"Type":       "Pass",
			"Parameters": map[string]any{"value.$": "$.value", "count.$": "$.count", "step": i},
		}
		if i == n-1 {
			st["End"] = true
		} else {
			st["Next"] = fmt.Sprintf("S%d", i+1)
		}
		states[fmt.Sprintf("S%d", i)] = st
	}
	b, _ := json.Marshal(map[string]any{"StartAt": "S0", "States": states})
	return b
}

// BenchmarkPassChain reports state transitions per second for a 1,000-state
// Pass chain with a Parameters transform per state (issue 14's target:
// 1,000,000/s; aws-local-stepfunctions does 0.55–0.83 M/s).
func BenchmarkPassChain(b *testing.B) {
	const n = 1000
	def, err := Parse(passChain(n))
	if err != nil {
		b.Fatal(err)
	}
	input := []byte(`{"value":"hello","count":42}`)
	now := time.Now()
	opts := Options{Now: func() time.Time { return now }}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Run(ctx, def, input, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "transitions/s")
}

func TestPassChain(t *testing.T) {
	def, err := Parse(passChain(50))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Run(context.Background(), def, []byte(`{"value":"v","count":1}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"count":1,"step":49,"value":"v"}` {
		t.Fatalf("output %s", out)
	}
}
