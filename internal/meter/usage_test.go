package meter

import (
	"math"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/record"
)

func TestBilledMSRoundsUp(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int64
	}{
		{0, 1}, {time.Microsecond, 1}, {time.Millisecond, 1},
		{time.Millisecond + 1, 2}, {1500 * time.Microsecond, 2}, {2 * time.Second, 2000},
	} {
		if got := BilledMS(tc.d); got != tc.want {
			t.Errorf("BilledMS(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	var recs []record.Usage
	// 100 ok invocations of "a" at 1..100 ms, 128 MB, the first cold.
	for i := 1; i <= 100; i++ {
		d := time.Duration(i) * time.Millisecond
		recs = append(recs, record.Usage{Function: "a", Duration: d, BilledMS: BilledMS(d), MemoryMB: 128, Cold: i == 1, Outcome: record.OutcomeOK})
	}
	recs = append(recs,
		record.Usage{Function: "b", Duration: 3 * time.Second, BilledMS: 3000, MemoryMB: 1024, Outcome: record.OutcomeTimeout},
		record.Usage{Function: "b", Duration: time.Millisecond, BilledMS: 1, MemoryMB: 1024, Outcome: record.OutcomeError, Cold: true},
		record.Usage{Function: "b", Outcome: record.OutcomeLimited},
		record.Usage{Function: "b", Duration: 50 * time.Millisecond, BilledMS: 50, MemoryMB: 1024, Outcome: record.OutcomeCPULimit},
	)
	rep := Summarize(recs, DefaultPrices)
	if len(rep.Functions) != 2 || rep.Functions[0].Function != "a" || rep.Functions[1].Function != "b" {
		t.Fatalf("functions = %+v", rep.Functions)
	}
	a, b := rep.Functions[0], rep.Functions[1]
	if a.Invocations != 100 || a.ColdStarts != 1 || a.Errors != 0 || a.P50MS != 50 || a.P99MS != 99 {
		t.Fatalf("a = %+v", a)
	}
	if a.BilledMS != 5050 {
		t.Fatalf("a billed = %d", a.BilledMS)
	}
	wantGBs := 0.125 * 5.050
	if math.Abs(a.GBSeconds-wantGBs) > 1e-9 {
		t.Fatalf("a GB-s = %v, want %v", a.GBSeconds, wantGBs)
	}
	wantCost := 100/1e6*0.20 + wantGBs*0.0000166667
	if math.Abs(a.CostUSD-wantCost) > 1e-12 {
		t.Fatalf("a cost = %v, want %v", a.CostUSD, wantCost)
	}
	// Over the CPU limit counts as an error (and is billed: it ran).
	if b.Invocations != 4 || b.Timeouts != 1 || b.Errors != 2 || b.Throttles != 1 || b.ColdStarts != 1 || b.BilledMS != 3051 {
		t.Fatalf("b = %+v", b)
	}
	if rep.Total.Invocations != 104 || rep.Total.BilledMS != 8101 || rep.Total.ColdStarts != 2 {
		t.Fatalf("total = %+v", rep.Total)
	}
}
