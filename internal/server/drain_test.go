package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
)

// TestDrainStoreHandsOutNoNewWork: once the node drains, the engines'
// view of a real store claims no queue message (but still acknowledges
// the ones it carries), lists no schedule to fire and claims no flow
// task; the messages stay for other nodes.
func TestDrainStoreHandsOutNoNewWork(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	mod := []byte("module f")
	sum := sha256.Sum256(mod)
	digest := hex.EncodeToString(sum[:])
	require.NoError(t, st.BlobPut(ctx, digest, mod))
	_, err = st.DeploymentApply(ctx, store.DeploymentApplyParams{Project: "p",
		NewVersions: []store.NewVersionParams{{Function: "f", ModuleSHA256: digest, Config: record.FunctionConfig{Kind: record.KindReactor}}},
		Events: &store.EventsApplyParams{
			Queues:    []record.QueueConfig{{Name: "jobs", Kind: record.QueueUser, VisibilityTimeout: time.Minute, MaxReceives: 3}},
			Schedules: []record.Schedule{{Name: "nightly", Function: "f", Spec: "0 3 * * *", NextFire: time.Now()}},
		}})
	require.NoError(t, err)
	_, err = st.MessageSend(ctx, []store.MessageSendParams{{Queue: "jobs", Body: []byte("1")}, {Queue: "jobs", Body: []byte("2")}})
	require.NoError(t, err)

	now := time.Now()
	_, _, err = st.FlowStart(ctx, store.FlowStartParams{
		Execution: record.FlowExecution{ID: "order-1", Project: "p", Workflow: "wf", Function: "f", Input: []byte(`{}`)},
		Events:    []record.FlowEvent{{Type: "started", Name: "wf", Time: now, Data: []byte(`{}`)}},
		DueAt:     now,
	}, now)
	require.NoError(t, err)

	var draining atomic.Bool
	d := drainStore{Store: st, draining: &draining}
	got, err := d.MessageReceive(ctx, store.MessageReceiveParams{Queue: "jobs", Max: 1})
	require.NoError(t, err)
	require.Len(t, got, 1, "not draining: work is handed out")
	scheds, err := d.ScheduleList(ctx)
	require.NoError(t, err)
	require.Len(t, scheds, 1)
	_, due, err := d.FlowNextDue(ctx)
	require.NoError(t, err)
	require.True(t, due, "not draining: the workflow task is due")

	draining.Store(true)
	none, err := d.MessageReceive(ctx, store.MessageReceiveParams{Queue: "jobs", Max: 10,
		AckIDs: []int64{got[0].ID}, AckReceipts: []string{got[0].Receipt}})
	require.NoError(t, err)
	require.Empty(t, none, "draining: no message is claimed")
	stats, err := st.QueueStats(ctx, "jobs")
	require.NoError(t, err)
	require.EqualValues(t, 1, stats.Visible, "the other message stays for other nodes")
	require.EqualValues(t, 0, stats.InFlight, "the carried ack was applied")
	next, err := d.QueueNextVisible(ctx, "jobs")
	require.NoError(t, err)
	require.True(t, next.IsZero(), "draining: no message is coming, so consumers sleep rather than spin on the backlog")
	scheds, err = d.ScheduleList(ctx)
	require.NoError(t, err)
	require.Empty(t, scheds, "draining: no schedule fires here")
	tasks, err := d.FlowClaim(ctx, "node-a", time.Now(), time.Minute, 10)
	require.NoError(t, err)
	require.Empty(t, tasks, "draining: no workflow task is claimed")
	_, due, err = d.FlowNextDue(ctx)
	require.NoError(t, err)
	require.False(t, due, "draining: no task is due here, so the claim loop sleeps")
	alarms, err := d.ObjectAlarmsDue(ctx, time.Now(), 10)
	require.NoError(t, err)
	require.Empty(t, alarms)

	// The task is still there for other nodes.
	tasks, err = st.FlowClaim(ctx, "node-b", time.Now(), time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, tasks, 1)
}
