package meter

import (
	"slices"
	"sort"
	"time"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// DefaultPrices are AWS Lambda's x86 on-demand list prices (us-east-1):
// $0.20 per million requests and $0.0000166667 per GB-second.
var DefaultPrices = apitype.Prices{PerMillionRequests: 0.20, PerGBSecond: 0.0000166667}

// Summary is usage aggregated per function and in total.
type Summary struct {
	Functions []apitype.UsageLine // sorted by function
	Total     apitype.UsageLine
}

// Summarize aggregates usage records per function and in total. Throttled
// invocations (rejected before running) are counted but neither billed nor
// part of the latency percentiles.
func Summarize(records []record.Usage, prices apitype.Prices) Summary {
	type acc struct {
		line apitype.UsageLine
		durs []time.Duration
	}
	by := map[string]*acc{}
	total := &acc{}
	for _, u := range records {
		a := by[u.Function]
		if a == nil {
			a = &acc{line: apitype.UsageLine{Function: u.Function}}
			by[u.Function] = a
		}
		for _, x := range []*acc{a, total} {
			if !countOutcome(&x.line, u.Outcome, 1) {
				continue
			}
			if u.Cold {
				x.line.ColdStarts++
			}
			x.line.BilledMS += u.BilledMS
			x.line.GBSeconds += float64(u.MemoryMB) / 1024 * float64(u.BilledMS) / 1000
			x.durs = append(x.durs, u.Duration)
		}
	}
	return summary(by, total, func(a *acc) apitype.UsageLine {
		l := a.line
		l.P50MS = percentileMS(a.durs, 0.50)
		l.P99MS = percentileMS(a.durs, 0.99)
		l.CostUSD = cost(l, prices)
		return l
	})
}

// countOutcome adds n invocations of outcome to l and reports whether
// they ran: throttled ones did not, so they are neither billed nor timed.
func countOutcome(l *apitype.UsageLine, outcome string, n int64) bool {
	l.Invocations += n
	switch outcome {
	case record.OutcomeError, record.OutcomeCPULimit:
		l.Errors += n
	case record.OutcomeTimeout:
		l.Timeouts += n
	case record.OutcomeCanceled:
		l.Canceled += n
	case record.OutcomeLimited:
		l.Throttles += n
		return false
	}
	return true
}

// summary finishes each function's accumulator and the total into a
// Summary, functions sorted by name.
func summary[A any](by map[string]A, total A, finish func(A) apitype.UsageLine) Summary {
	sum := Summary{Functions: make([]apitype.UsageLine, 0, len(by))}
	for _, a := range by {
		sum.Functions = append(sum.Functions, finish(a))
	}
	sort.Slice(sum.Functions, func(i, j int) bool { return sum.Functions[i].Function < sum.Functions[j].Function })
	sum.Total = finish(total)
	return sum
}

// cost is what a usage line costs: requests (throttled ones are free)
// and GB-seconds.
func cost(l apitype.UsageLine, prices apitype.Prices) float64 {
	return float64(l.Invocations-l.Throttles)/1e6*prices.PerMillionRequests + l.GBSeconds*prices.PerGBSecond
}

// SummarizeSeries is Summarize over aggregates the store grouped
// (store.UsageSeries) instead of records: the same counts and cost; the
// percentiles are the upper bound of the duration class they fall in
// (store.UsageDurationBounds; the open last class reports twice the last
// bound).
func SummarizeSeries(points []store.UsagePoint, prices apitype.Prices) Summary {
	type acc struct {
		line    apitype.UsageLine
		classes []int64
	}
	nc := len(store.UsageDurationBounds) + 1
	by := map[string]*acc{}
	total := &acc{classes: make([]int64, nc)}
	for _, p := range points {
		a := by[p.Function]
		if a == nil {
			a = &acc{line: apitype.UsageLine{Function: p.Function}, classes: make([]int64, nc)}
			by[p.Function] = a
		}
		for _, x := range []*acc{a, total} {
			if !countOutcome(&x.line, p.Outcome, p.Count) {
				continue
			}
			x.line.ColdStarts += p.Cold
			x.line.BilledMS += p.BilledMS
			x.line.GBSeconds += float64(p.MBMS) / 1024 / 1000
			x.classes[min(max(p.Class, 0), nc-1)] += p.Count
		}
	}
	return summary(by, total, func(a *acc) apitype.UsageLine {
		l := a.line
		l.P50MS = ClassPercentileMS(a.classes, 0.50)
		l.P99MS = ClassPercentileMS(a.classes, 0.99)
		l.CostUSD = cost(l, prices)
		return l
	})
}

// ClassPercentileMS is the nearest-rank percentile of counts per
// duration class (store.UsageDurationBounds), as its class's upper bound
// in milliseconds; 0 for no invocations.
func ClassPercentileMS(classes []int64, p float64) float64 {
	var n int64
	for _, c := range classes {
		n += c
	}
	if n == 0 {
		return 0
	}
	rank := max(int64(float64(n)*p+0.5), 1)
	bounds := store.UsageDurationBounds
	for i, c := range classes {
		rank -= c
		if rank <= 0 {
			if i < len(bounds) {
				return float64(bounds[i]) / float64(time.Millisecond)
			}
			break
		}
	}
	return 2 * float64(bounds[len(bounds)-1]) / float64(time.Millisecond)
}

// BilledMS is the billed time of an invocation that ran d: rounded up to
// whole milliseconds, at least 1, as Lambda bills.
func BilledMS(d time.Duration) int64 {
	ms := int64((d + time.Millisecond - 1) / time.Millisecond)
	return max(ms, 1)
}

// percentileMS is the nearest-rank percentile in milliseconds.
func percentileMS(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(float64(len(d))*p+0.5) - 1
	i = min(max(i, 0), len(d)-1)
	return float64(d[i]) / float64(time.Millisecond)
}
