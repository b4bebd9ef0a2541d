package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// newPeerHarness is the part of a harness the workflow peers use.
func newPeerHarness(t *testing.T) *harness {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	repo, err := findRepo(wd)
	require.NoError(t, err)
	return &harness{log: slog.New(slog.NewTextHandler(io.Discard, nil)), repo: repo, work: t.TempDir()}
}

// requirePeerRun checks that a peer ran every workflow asked for and timed
// the lone ones; never how fast.
func requirePeerRun(t *testing.T, res workflowPeerResult, peer, db string, n, lone int) {
	t.Helper()
	require.Equal(t, peer, res.Peer)
	require.Equal(t, db, res.DB)
	require.Equal(t, 3, res.Steps)
	require.Equal(t, n, res.Workflows)
	require.Equal(t, lone, res.Lone)
	require.Positive(t, res.Seconds)
	require.Positive(t, res.WfPerSec)
	require.Positive(t, res.LoneP50ms)
	require.GreaterOrEqual(t, res.LoneP99ms, res.LoneP50ms)
	require.NotEmpty(t, res.Note)
}

// TestWorkflowPeers builds the peer programs from their own modules and runs
// each with tiny sizes, so they keep compiling and working.
func TestWorkflowPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the DBOS peer module; run without -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	h := newPeerHarness(t)

	t.Run("dbos sqlite", func(t *testing.T) {
		res, err := h.runDBOSPeer(ctx, workflowDBSQLite, "", 4, 20, 3)
		require.NoError(t, err)
		requirePeerRun(t, res, "dbos", workflowDBSQLite, 20, 3)
	})

	t.Run("dbos postgres", func(t *testing.T) {
		url := os.Getenv("STRATA_TEST_POSTGRES")
		if url == "" {
			t.Skip("STRATA_TEST_POSTGRES not set")
		}
		res, err := h.runDBOSPeer(ctx, workflowDBPostgres, url, 4, 20, 3)
		require.NoError(t, err)
		requirePeerRun(t, res, "dbos", workflowDBPostgres, 20, 3)
	})

	t.Run("temporal", func(t *testing.T) {
		// The Temporal CLI is optional (a long build): only "not installed"
		// may skip it.
		_, err := os.Stat(filepath.Join(h.repo, "bench", "peers", "temporal", "bin", "temporal"))
		if os.IsNotExist(err) {
			t.Skip("Temporal CLI not installed; bash bench/peers/temporal/install.sh")
		}
		res, err := h.runTemporalPeer(ctx, 4, 8, 2)
		require.NoError(t, err)
		requirePeerRun(t, res, "temporal", workflowDBSQLite, 8, 2)
	})
}

func TestWorkflowPeersBadInput(t *testing.T) {
	ctx := context.Background()
	h := newPeerHarness(t)

	_, err := h.runDBOSPeer(ctx, "mysql", "", 1, 1, 0)
	require.ErrorContains(t, err, `unknown database "mysql"`)

	_, err = h.runDBOSPeer(ctx, workflowDBPostgres, "", 1, 1, 0)
	require.ErrorContains(t, err, "no database URL")

	// A peer that prints something other than its JSON line.
	_, err = runWorkflowPeer(ctx, time.Minute, "/bin/echo", "ready")
	require.ErrorContains(t, err, "want a JSON result line")

	// A peer that fails: its stderr is in the error.
	_, err = runWorkflowPeer(ctx, time.Minute, "/bin/sh", "-c", "echo boom >&2; exit 3")
	require.ErrorContains(t, err, "boom")

	// A peer that reports no workflows did not run.
	_, err = runWorkflowPeer(ctx, time.Minute, "/bin/echo", `{"peer":"dbos","workflows":0}`)
	require.ErrorContains(t, err, "ran no workflow")
}
