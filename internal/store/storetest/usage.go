package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// testUsageSeries checks the grouping the console's charts read: bucket,
// outcome and duration class per function, the project filter by function
// list, and the time range.
func testUsageSeries(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	recs := []record.Usage{
		{InvocationID: "1", Function: "a", Version: 1, Trigger: "http", Start: base.Add(5 * time.Second), Duration: 3 * time.Millisecond, BilledMS: 3, MemoryMB: 128, Cold: true, Outcome: record.OutcomeOK},
		{InvocationID: "2", Function: "a", Version: 1, Trigger: "http", Start: base.Add(20 * time.Second), Duration: 4 * time.Millisecond, BilledMS: 4, MemoryMB: 128, Outcome: record.OutcomeOK},
		{InvocationID: "3", Function: "a", Version: 1, Trigger: "http", Start: base.Add(70 * time.Second), Duration: 700 * time.Millisecond, BilledMS: 700, MemoryMB: 64, Outcome: record.OutcomeError},
		{InvocationID: "4", Function: "b", Version: 1, Trigger: "http", Start: base.Add(10 * time.Second), Duration: 2 * time.Minute, BilledMS: 120000, MemoryMB: 64, Outcome: record.OutcomeTimeout},
		{InvocationID: "5", Function: "a", Version: 1, Trigger: "http", Start: base.Add(-time.Second), Duration: time.Millisecond, BilledMS: 1, MemoryMB: 64, Outcome: record.OutcomeOK},
	}
	require.NoError(t, s.UsageInsert(ctx, recs))

	pts, err := s.UsageSeries(ctx, store.UsageSeriesParams{Since: base, Until: base.Add(time.Hour), Bucket: time.Minute})
	require.NoError(t, err)
	nb := len(store.UsageDurationBounds)
	want := []store.UsagePoint{
		{Function: "a", Bucket: base, Outcome: record.OutcomeOK, Class: 2, Count: 2, Cold: 1, BilledMS: 7, MBMS: 7 * 128},
		{Function: "a", Bucket: base.Add(time.Minute), Outcome: record.OutcomeError, Class: 9, Count: 1, BilledMS: 700, MBMS: 700 * 64},
		{Function: "b", Bucket: base, Outcome: record.OutcomeTimeout, Class: nb, Count: 1, BilledMS: 120000, MBMS: 120000 * 64},
	}
	require.Equal(t, want, pts, "the record before Since is left out; 3 ms and 4 ms share the 5 ms class")

	only, err := s.UsageSeries(ctx, store.UsageSeriesParams{Functions: []string{"b"}, Since: base, Bucket: time.Hour})
	require.NoError(t, err)
	require.Len(t, only, 1)
	require.Equal(t, "b", only[0].Function)

	none, err := s.UsageSeries(ctx, store.UsageSeriesParams{Functions: []string{}, Since: base, Bucket: time.Hour})
	require.NoError(t, err)
	require.Empty(t, none, "an empty function list keeps nothing")

	early, err := s.UsageSeries(ctx, store.UsageSeriesParams{Since: base.Add(-time.Hour), Until: base, Bucket: time.Hour})
	require.NoError(t, err)
	require.Len(t, early, 1)
	require.Equal(t, int64(1), early[0].Count, "Until is exclusive")
}
