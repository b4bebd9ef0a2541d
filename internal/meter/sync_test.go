package meter_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/meter"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
)

// TestSyncLogsHammer: many writers each record lines then sync; when
// SyncLogs returns, every line the writer recorded is in the (real
// SQLite) store, whatever the others are doing. It is what makes
// `curl; strata logs` show the last line.
func TestSyncLogsHammer(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	defer st.Close()
	m := meter.New(st, slog.New(slog.DiscardHandler), nil)
	defer m.Stop()

	const writers, rounds, perRound = 8, 20, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				inv := fmt.Sprintf("w%d-r%d", w, r)
				for i := range perRound {
					m.RecordLog(record.LogLine{InvocationID: inv, Function: "f", Version: 1, Time: time.Now().UTC(), Stream: "stdout", Line: fmt.Sprint(i)})
				}
				if err := m.SyncLogs(ctx); err != nil {
					errs <- err
					return
				}
				got, err := st.LogList(ctx, store.LogListParams{InvocationID: inv})
				if err != nil {
					errs <- err
					return
				}
				if len(got) != perRound {
					errs <- fmt.Errorf("%s: %d lines in the store after SyncLogs, want %d", inv, len(got), perRound)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestSyncLogsAfterStop returns at once: Stop wrote everything.
func TestSyncLogsAfterStop(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	defer st.Close()
	m := meter.New(st, slog.New(slog.DiscardHandler), nil)
	m.RecordLog(record.LogLine{InvocationID: "i", Function: "f", Time: time.Now().UTC(), Stream: "stdout", Line: "x"})
	m.Stop()
	require.NoError(t, m.SyncLogs(ctx))
	got, err := st.LogList(ctx, store.LogListParams{})
	require.NoError(t, err)
	require.Len(t, got, 1)
}
