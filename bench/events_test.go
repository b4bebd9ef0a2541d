package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEventScenarios runs the queue, async and burst scenarios with tiny
// sizes through the real pipeline: the store (SQLite, and PostgreSQL and
// River when STRATA_TEST_POSTGRES is set), the invoker and engine with a
// real Go guest, and `strata dev`. It asserts that every message was
// delivered and acknowledged, every sample taken and every request
// answered, never how fast.
func TestEventScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the strata binary and a Go guest and starts servers; run without -short")
	}
	pg := os.Getenv("STRATA_TEST_POSTGRES")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	jsonPath := filepath.Join(t.TempDir(), "out.json")
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{
		"-only", "queue,async,burst",
		"-queue-messages", "45", "-queue-senders", "3", "-async-samples", "3", "-burst-requests", "5", "-burst-rounds", "1",
		"-postgres", pg, "-json", jsonPath,
	}, &stdout, &stderr)
	require.NoError(t, err, "stderr:\n%s\nstdout:\n%s", stderr.String(), stdout.String())

	b, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	var rep report
	require.NoError(t, json.Unmarshal(b, &rep))
	assert.Empty(t, rep.Failures)
	assert.Contains(t, stdout.String(), "queue throughput", "the table is printed")

	t.Run("queue", func(t *testing.T) {
		got := map[string]queueResult{}
		for _, q := range rep.Queue {
			got[q.System+" "+q.Store+" "+q.Mode] = q
		}
		require.Len(t, got, 8, "strata on two stores and two River setups on PostgreSQL, two modes each")
		for name, q := range got {
			if q.Store == storePostgres && pg == "" {
				assert.NotEmpty(t, q.Skipped, name)
				continue
			}
			assert.Empty(t, q.Skipped, name)
			assert.Empty(t, q.Error, name)
			assert.Equal(t, 45, q.Messages, name)
			assert.Positive(t, q.PerSecond, name)
			if q.Mode == modeSteady {
				assert.Positive(t, q.SendPerSecond, name)
			}
			if q.System == systemStrata {
				assert.NotNil(t, q.Met, "%s is checked against its target", name)
			}
		}
		if pg != "" {
			require.Len(t, rep.QueueRatios, 4)
			for _, c := range rep.QueueRatios {
				assert.Positive(t, c.Value, c.Name)
			}
		}
	})

	t.Run("async", func(t *testing.T) {
		n := 0
		for _, l := range rep.Latency {
			require.Equal(t, scenarioAsync, l.Scenario)
			if l.Skipped != "" {
				assert.Empty(t, pg, "%s skipped with PostgreSQL configured: %s", l.Name, l.Skipped)
				continue
			}
			n++
			assert.Empty(t, l.Error, l.Name)
			assert.Equal(t, 3, l.Samples, l.Name)
			assert.GreaterOrEqual(t, l.P99us, l.P50us, l.Name)
			assert.Positive(t, l.MaxUS, l.Name)
		}
		want := 2
		if pg != "" {
			want = 4
		}
		assert.Equal(t, want, n, "accept and accept→start per store")
	})

	t.Run("burst", func(t *testing.T) {
		require.Len(t, rep.Burst, 2, "provisioned 8 and 0, one round")
		for _, b := range rep.Burst {
			assert.Empty(t, b.Error, "provisioned %d", b.Provisioned)
			// Five requests are far below max_concurrency: all succeed,
			// and every one is metered.
			assert.Equal(t, int64(5), b.OK, "provisioned %d", b.Provisioned)
			assert.Zero(t, b.Throttled, "provisioned %d", b.Provisioned)
			assert.Equal(t, int64(5), b.Invocations, "provisioned %d", b.Provisioned)
			assert.Positive(t, b.P50us, "provisioned %d", b.Provisioned)
			if b.Provisioned == 0 {
				// Nothing ran before the burst on a fresh server: at least
				// the first request had to start an instance.
				assert.Positive(t, b.ColdStarts, "provisioned 0 starts cold")
			}
		}
	})
}
