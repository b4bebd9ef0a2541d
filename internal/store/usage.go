package store

import (
	"context"
	"time"
)

// UsageDurationBounds are the upper bounds of the duration classes
// UsageSeries counts invocations in (the last class has no bound).
// Percentiles read from a series are the bound of the class they fall in:
// the console's charts need "p99 is under 50 ms", not the exact value, and
// counting classes in SQL keeps a chart of a million records one grouped
// scan instead of a million rows sent to Go.
var UsageDurationBounds = []time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
	20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
	30 * time.Second, time.Minute,
}

// UsageSeriesParams aggregates usage records into time buckets.
type UsageSeriesParams struct {
	// Functions, when not nil, keeps only these functions' records (a
	// project's functions, for a project-scoped reader); an empty non-nil
	// slice keeps none.
	Functions []string
	Since     time.Time     // records started at or after (required)
	Until     time.Time     // records started before; zero: no end
	Bucket    time.Duration // bucket width, ≥ 1s; buckets start at multiples of it since the Unix epoch
}

// UsagePoint is the aggregate of one function's records of one outcome in
// one bucket and one duration class.
type UsagePoint struct {
	Function string
	Bucket   time.Time // the bucket's start, UTC
	Outcome  string
	Class    int   // index into UsageDurationBounds; len(UsageDurationBounds) for longer
	Count    int64 // invocations
	Cold     int64 // of which cold starts
	BilledMS int64 // sum of billed milliseconds
	MBMS     int64 // sum of billed milliseconds × memory in MB (for GB-seconds)
}

// UsageSeries is implemented by both backends: aggregates for charts and
// the usage page, computed by the database.
type UsageSeries interface {
	UsageSeries(ctx context.Context, p UsageSeriesParams) ([]UsagePoint, error)
}
