package console

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
)

// TestSeriesCache: the cached series equals the store's own grouping, on
// the first read, on a read served from the cache, and after records
// arrive in the steps that have not settled; a function filter applies.
func TestSeriesCache(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	require.NoError(t, err)
	defer st.Close()
	now := time.Date(2026, 3, 1, 12, 2, 30, 0, time.UTC)
	clk := clock.NewFake(now)
	c := &Console{cfg: Config{Store: st, Clock: clk}}
	var recs []record.Usage
	for i := range 600 {
		recs = append(recs, record.Usage{InvocationID: fmt.Sprint(i), Function: fmt.Sprint("f", i%3), Version: 1, Trigger: "http",
			Start: now.Add(-time.Duration(i) * 30 * time.Second), Duration: time.Duration(i%40) * time.Millisecond, BilledMS: int64(i%40 + 1),
			MemoryMB: 64, Cold: i%7 == 0, Outcome: []string{record.OutcomeOK, record.OutcomeError}[i%2]})
	}
	require.NoError(t, st.UsageInsert(ctx, recs))
	end := now.Truncate(seriesStep).Add(seriesStep)
	start := end.Add(-6 * time.Hour)
	check := func(fns []string) {
		t.Helper()
		want, err := st.UsageSeries(ctx, store.UsageSeriesParams{Functions: fns, Since: start, Until: end, Bucket: 30 * time.Minute})
		require.NoError(t, err)
		got, err := c.usageSeries(ctx, fns, start, end, 30*time.Minute)
		require.NoError(t, err)
		require.Equal(t, norm(want), norm(got))
	}
	check(nil)
	require.NotEmpty(t, c.cache.steps, "settled steps are cached")
	check(nil)
	check([]string{"f1"})
	// A late record in a step that has not settled is seen.
	require.NoError(t, st.UsageInsert(ctx, []record.Usage{{InvocationID: "late", Function: "f2", Version: 1, Trigger: "http",
		Start: now.Add(-10 * time.Second), Duration: time.Millisecond, BilledMS: 1, MemoryMB: 64, Outcome: record.OutcomeOK}}))
	check(nil)
}

func norm(pts []store.UsagePoint) []string {
	out := []string{}
	for _, p := range pts {
		out = append(out, fmt.Sprintf("%s %s %s %d %d %d %d %d", p.Function, p.Bucket.UTC().Format(time.RFC3339), p.Outcome, p.Class, p.Count, p.Cold, p.BilledMS, p.MBMS))
	}
	sort.Strings(out)
	return out
}
