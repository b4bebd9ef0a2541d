package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/postgres/internal/pgdb"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

// A commit's pipelines (FlowLockWrite) roll back as a whole: when a write
// fails on the server (the second pipeline, COMMIT skipped) and when the
// writes fail before they are sent (after the first pipeline took the
// locks). Either way nothing is written, the locks are released and the
// pool's connections are usable for the next commit.
func TestFlowLockWriteRollsBack(t *testing.T) {
	s := openFresh(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	lease := "node/x"
	res, err := s.FlowStartBatch(ctx, []store.FlowStartParams{{
		Execution: record.FlowExecution{ID: "x", Project: "p", Workflow: "wf", Function: "fn"},
		Events:    []record.FlowEvent{{Type: "started", Time: now}},
		Lease:     lease, LeaseUntil: now.Add(time.Minute),
	}}, now)
	require.NoError(t, err)
	require.True(t, res[0].Created)
	q := queries{Queries: pgdb.New(s.pool), db: s.pool, s: s}

	for _, tc := range []struct {
		name, want string
		write      func(w sqlstore.FlowWriter) error
	}{
		{"a statement fails on the server", "duplicate key", func(w sqlstore.FlowWriter) error {
			w.ExecUpdate("x", 7, now)
			// Seq 1 is taken: the insert breaks the history's key.
			w.Events("x", 1, []record.FlowEvent{{Seq: 1, Type: "dup", Time: now}})
			return nil
		}},
		{"the writes fail before they are sent", "bad commit", func(w sqlstore.FlowWriter) error {
			w.ExecUpdate("x", 7, now)
			return errors.New("bad commit")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen []sqlstore.FlowState
			err := q.FlowLockWrite(ctx, []string{"x"}, func(locked []sqlstore.FlowState, w sqlstore.FlowWriter) error {
				seen = locked
				return tc.write(w)
			})
			require.ErrorContains(t, err, tc.want)
			require.Equal(t, []sqlstore.FlowState{{ExecutionID: "x", Lease: lease, Status: record.FlowRunning, Run: 1, HistoryLen: 1}}, seen)
			ex, err := s.FlowGet(ctx, "x")
			require.NoError(t, err)
			require.Equal(t, 1, ex.HistoryLen, "nothing of the failed commit was written")
			require.Zero(t, s.pool.Stat().AcquiredConns(), "the connection went back (or was dropped)")
		})
	}

	// The next commit takes the same lock and goes through.
	errs := s.FlowCommitBatch(ctx, []store.FlowCommit{{ExecutionID: "x", Lease: lease, FromSeq: 1,
		Events: []record.FlowEvent{{Type: "marker", Step: 1, Time: now}}, LeaseUntil: now.Add(time.Minute)}}, now)
	require.NoError(t, errs[0])
	ex, err := s.FlowGet(ctx, "x")
	require.NoError(t, err)
	require.Equal(t, 2, ex.HistoryLen)
}
