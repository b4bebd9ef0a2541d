package invoke

import (
	"slices"
	"sort"
	"time"

	"github.com/stratahq/strata/internal/record"
)

// Prices turn usage into a cost estimate. The defaults are AWS Lambda's
// public x86 list prices, so users can compare like for like.
type Prices struct {
	PerMillionRequests float64 `json:"per_million_requests"`
	PerGBSecond        float64 `json:"per_gb_second"`
}

// DefaultPrices are AWS Lambda's x86 on-demand list prices (us-east-1):
// $0.20 per million requests and $0.0000166667 per GB-second.
var DefaultPrices = Prices{PerMillionRequests: 0.20, PerGBSecond: 0.0000166667}

// UsageLine is the usage of one function (or the total, Function "").
type UsageLine struct {
	Function    string  `json:"function"`
	Invocations int64   `json:"invocations"`
	Errors      int64   `json:"errors"`   // traps, panics, bad responses
	Timeouts    int64   `json:"timeouts"` // interrupted at the deadline
	Throttles   int64   `json:"throttles"`
	Canceled    int64   `json:"canceled"` // the caller went away mid-invocation
	ColdStarts  int64   `json:"cold_starts"`
	P50MS       float64 `json:"p50_ms"`
	P99MS       float64 `json:"p99_ms"`
	BilledMS    int64   `json:"billed_ms"`
	GBSeconds   float64 `json:"gb_seconds"`
	CostUSD     float64 `json:"cost_usd"`
}

// UsageReport is what `strata usage` shows.
type UsageReport struct {
	Since     time.Time   `json:"since"`
	Prices    Prices      `json:"prices"`
	Functions []UsageLine `json:"functions"`
	Total     UsageLine   `json:"total"`
}

// Summarize aggregates usage records per function and in total. Throttled
// invocations (rejected before running) are counted but neither billed nor
// part of the latency percentiles.
func Summarize(records []record.Usage, since time.Time, prices Prices) UsageReport {
	type acc struct {
		line UsageLine
		durs []time.Duration
	}
	by := map[string]*acc{}
	total := &acc{}
	for _, u := range records {
		a := by[u.Function]
		if a == nil {
			a = &acc{line: UsageLine{Function: u.Function}}
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
	finish := func(a *acc) UsageLine {
		l := a.line
		l.P50MS = percentileMS(a.durs, 0.50)
		l.P99MS = percentileMS(a.durs, 0.99)
		l.CostUSD = float64(l.Invocations-l.Throttles)/1e6*prices.PerMillionRequests + l.GBSeconds*prices.PerGBSecond
		return l
	}
	rep := UsageReport{Since: since, Prices: prices, Functions: []UsageLine{}}
	for _, a := range by {
		rep.Functions = append(rep.Functions, finish(a))
	}
	sort.Slice(rep.Functions, func(i, j int) bool { return rep.Functions[i].Function < rep.Functions[j].Function })
	rep.Total = finish(total)
	return rep
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
