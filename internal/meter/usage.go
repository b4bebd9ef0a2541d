package meter

import (
	"slices"
	"sort"
	"time"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/record"
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
			x.line.Invocations++
			switch u.Outcome {
			case record.OutcomeError:
				x.line.Errors++
			case record.OutcomeTimeout:
				x.line.Timeouts++
			case record.OutcomeCanceled:
				x.line.Canceled++
			case record.OutcomeLimited:
				x.line.Throttles++
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
	finish := func(a *acc) apitype.UsageLine {
		l := a.line
		l.P50MS = percentileMS(a.durs, 0.50)
		l.P99MS = percentileMS(a.durs, 0.99)
		l.CostUSD = float64(l.Invocations-l.Throttles)/1e6*prices.PerMillionRequests + l.GBSeconds*prices.PerGBSecond
		return l
	}
	sum := Summary{Functions: []apitype.UsageLine{}}
	for _, a := range by {
		sum.Functions = append(sum.Functions, finish(a))
	}
	sort.Slice(sum.Functions, func(i, j int) bool { return sum.Functions[i].Function < sum.Functions[j].Function })
	sum.Total = finish(total)
	return sum
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
