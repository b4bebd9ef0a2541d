package console

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/stratahq/strata/internal/store"
)

// seriesStep is the granularity of the usage series cache: windows whose
// buckets are multiples of it (6 hours and longer) are summed from it.
const seriesStep = 5 * time.Minute

// seriesSettle is how long after a step ends its records are taken as
// complete: nodes write usage records in batches within seconds of the
// invocation, so a step this far in the past no longer changes.
const seriesSettle = 2 * time.Minute

// seriesKeep bounds what the cache holds: the longest window.
const seriesKeep = 7*24*time.Hour + seriesStep

// seriesCache keeps the usage series of settled steps (every function),
// so a chart over a day or a week reads the store only for the steps it
// has not seen and the last few minutes, instead of grouping a week of
// records per page view. Steps that have not settled are read every
// time. It is per node; a record another node writes more than
// seriesSettle late is missing from its step until a restart.
type seriesCache struct {
	mu    sync.Mutex
	steps map[int64][]store.UsagePoint // by step start (Unix seconds); an empty slice is a step without records
	// buckets holds settled buckets of the windows' sizes, summed from
	// steps once: a week's chart then sums 28 buckets, not 2,016 steps.
	buckets map[bucketKey][]store.UsagePoint
}

type bucketKey struct {
	size  time.Duration
	start int64
}

// series is stepSeries with each settled bucket of the caller's size
// summed once and kept.
func (c *Console) series(ctx context.Context, fns []string, start, end time.Time, bucket time.Duration) ([]store.UsagePoint, error) {
	sc := &c.cache
	settled := c.cfg.Clock.Now().Add(-seriesSettle).Truncate(seriesStep)
	var out []store.UsagePoint
	keep := func(pts []store.UsagePoint) {
		for _, p := range pts {
			if fns == nil || slices.Contains(fns, p.Function) {
				out = append(out, p)
			}
		}
	}
	for b := start; b.Before(end); b = b.Add(bucket) {
		be := b.Add(bucket)
		if be.After(end) {
			be = end
		}
		if be.After(settled) {
			pts, err := c.stepSeries(ctx, nil, b, be, bucket)
			if err != nil {
				return nil, err
			}
			keep(pts)
			continue
		}
		k := bucketKey{bucket, b.Unix()}
		sc.mu.Lock()
		pts, ok := sc.buckets[k]
		sc.mu.Unlock()
		if !ok {
			var err error
			if pts, err = c.stepSeries(ctx, nil, b, be, bucket); err != nil {
				return nil, err
			}
			sc.mu.Lock()
			if sc.buckets == nil {
				sc.buckets = map[bucketKey][]store.UsagePoint{}
			}
			sc.buckets[k] = pts
			oldest := settled.Add(-seriesKeep - 7*24*time.Hour).Unix()
			for k := range sc.buckets {
				if k.start < oldest {
					delete(sc.buckets, k)
				}
			}
			sc.mu.Unlock()
		}
		keep(pts)
	}
	return merge(out), nil
}

// merge sums points of the same function, bucket, outcome and class
// (a window not aligned to its bucket size reads a bucket in two parts).
func merge(pts []store.UsagePoint) []store.UsagePoint {
	type key struct {
		fn      string
		bucket  int64
		outcome string
		class   int
	}
	at := map[key]int{}
	out := pts[:0:0]
	for _, p := range pts {
		k := key{p.Function, p.Bucket.Unix(), p.Outcome, p.Class}
		i, ok := at[k]
		if !ok {
			at[k] = len(out)
			out = append(out, p)
			continue
		}
		out[i].Count += p.Count
		out[i].Cold += p.Cold
		out[i].BilledMS += p.BilledMS
		out[i].MBMS += p.MBMS
	}
	return out
}

// series returns the usage points of [start, end) in buckets of bucket
// (a multiple of seriesStep; start and end aligned to seriesStep), for
// fns (nil: every function): what the store's UsageSeries answers.
func (c *Console) stepSeries(ctx context.Context, fns []string, start, end time.Time, bucket time.Duration) ([]store.UsagePoint, error) {
	sc := &c.cache
	settled := c.cfg.Clock.Now().Add(-seriesSettle).Truncate(seriesStep)
	if settled.After(end) {
		settled = end
	}
	// Steps missing from the cache, read in one query per run of steps.
	sc.mu.Lock()
	var missing [][2]time.Time
	for t := start; t.Before(settled); t = t.Add(seriesStep) {
		if _, ok := sc.steps[t.Unix()]; ok {
			continue
		}
		if n := len(missing); n > 0 && missing[n-1][1].Equal(t) {
			missing[n-1][1] = t.Add(seriesStep)
		} else {
			missing = append(missing, [2]time.Time{t, t.Add(seriesStep)})
		}
	}
	sc.mu.Unlock()
	for _, r := range missing {
		pts, err := c.cfg.Store.UsageSeries(ctx, store.UsageSeriesParams{Since: r[0], Until: r[1], Bucket: seriesStep})
		if err != nil {
			return nil, err
		}
		fill := map[int64][]store.UsagePoint{}
		for t := r[0]; t.Before(r[1]); t = t.Add(seriesStep) {
			fill[t.Unix()] = []store.UsagePoint{}
		}
		for _, p := range pts {
			fill[p.Bucket.Unix()] = append(fill[p.Bucket.Unix()], p)
		}
		sc.mu.Lock()
		if sc.steps == nil {
			sc.steps = map[int64][]store.UsagePoint{}
		}
		for k, v := range fill {
			sc.steps[k] = v
		}
		oldest := settled.Add(-seriesKeep).Unix()
		for k := range sc.steps {
			if k < oldest {
				delete(sc.steps, k)
			}
		}
		sc.mu.Unlock()
	}
	var all []store.UsagePoint
	sc.mu.Lock()
	for t := start; t.Before(settled); t = t.Add(seriesStep) {
		all = append(all, sc.steps[t.Unix()]...)
	}
	sc.mu.Unlock()
	if settled.Before(end) {
		recent, err := c.cfg.Store.UsageSeries(ctx, store.UsageSeriesParams{Since: settled, Until: end, Bucket: seriesStep})
		if err != nil {
			return nil, err
		}
		all = append(all, recent...)
	}
	// Into the caller's buckets, for the caller's functions.
	type key struct {
		fn      string
		bucket  int64
		outcome string
		class   int
	}
	sum := map[key]*store.UsagePoint{}
	var out []store.UsagePoint
	var keys []key
	for _, p := range all {
		if fns != nil && !slices.Contains(fns, p.Function) {
			continue
		}
		// Buckets start at multiples of bucket since the Unix epoch, as
		// the store's do.
		us := p.Bucket.UnixMicro()
		b := time.UnixMicro(us - us%bucket.Microseconds()).UTC()
		k := key{p.Function, b.Unix(), p.Outcome, p.Class}
		s := sum[k]
		if s == nil {
			s = &store.UsagePoint{Function: p.Function, Bucket: b, Outcome: p.Outcome, Class: p.Class}
			sum[k] = s
			keys = append(keys, k)
		}
		s.Count += p.Count
		s.Cold += p.Cold
		s.BilledMS += p.BilledMS
		s.MBMS += p.MBMS
	}
	for _, k := range keys {
		out = append(out, *sum[k])
	}
	return out, nil
}

// usageSeries is UsageSeries for a page: through the cache when the
// bucket allows, straight from the store for finer buckets (the last
// hour by minute reads few records).
func (c *Console) usageSeries(ctx context.Context, fns []string, start, end time.Time, bucket time.Duration) ([]store.UsagePoint, error) {
	if bucket%seriesStep != 0 || start.Unix()%int64(seriesStep.Seconds()) != 0 || end.Unix()%int64(seriesStep.Seconds()) != 0 {
		return c.cfg.Store.UsageSeries(ctx, store.UsageSeriesParams{Functions: fns, Since: start, Until: end, Bucket: bucket})
	}
	return c.series(ctx, fns, start, end, bucket)
}
