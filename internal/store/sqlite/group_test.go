package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

// insert is a write that adds x to table t.
func insert(x string) func(sqlstore.Queries) error {
	return func(q sqlstore.Queries) error {
		_, err := q.(queries).db.ExecContext(context.Background(), `INSERT INTO t (x) VALUES (?)`, x)
		return err
	}
}

// waitPending waits until n writes queue behind the running group.
func waitPending(t *testing.T, g *groupWriter, n int) {
	t.Helper()
	for {
		g.mu.Lock()
		got := len(g.pending)
		g.mu.Unlock()
		if got == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func rows(t *testing.T, s *Store) []string {
	t.Helper()
	r, err := s.r.Query(`SELECT x FROM t ORDER BY x`)
	require.NoError(t, err)
	defer r.Close()
	var out []string
	for r.Next() {
		var x string
		require.NoError(t, r.Scan(&x))
		out = append(out, x)
	}
	require.NoError(t, r.Err())
	return out
}

// Writes queued behind a running one share the next transaction: each in
// its own savepoint, so one that fails leaves no trace and the others
// commit; a write whose context ends while it waits leaves the queue
// without running.
func TestGroupWriterSharesCommitAndIsolatesFailures(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	_, err := s.exec(ctx, `CREATE TABLE t (x TEXT NOT NULL UNIQUE)`)
	require.NoError(t, err)
	c0, w0 := s.WriterStats()

	// Hold the writer with a first write until the others are queued.
	release := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- s.g.write(ctx, func(q sqlstore.Queries) error {
			<-release
			return insert("a")(q)
		})
	}()
	for {
		s.g.mu.Lock()
		busy := s.g.busy
		s.g.mu.Unlock()
		if busy {
			break
		}
		time.Sleep(time.Millisecond)
	}

	bad := errors.New("bad write")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	writes := []func(sqlstore.Queries) error{
		insert("b"),
		func(q sqlstore.Queries) error { // writes, then fails: rolled back alone
			if err := insert("c")(q); err != nil {
				return err
			}
			return bad
		},
		insert("a"), // a constraint violation, also alone
		insert("d"),
	}
	for i, w := range writes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.g.write(ctx, w)
		}()
		waitPending(t, s.g, i+1)
	}
	// One more whose caller gives up while it waits.
	cctx, cancel := context.WithCancel(ctx)
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- s.g.write(cctx, insert("never")) }()
	waitPending(t, s.g, len(writes)+1)
	cancel()
	require.ErrorIs(t, <-gaveUp, context.Canceled)
	waitPending(t, s.g, len(writes))

	close(release)
	require.NoError(t, <-first)
	wg.Wait()
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], bad)
	require.True(t, isUnique(errs[2]), "the duplicate fails: %v", errs[2])
	require.NoError(t, errs[3])
	require.Equal(t, []string{"a", "b", "d"}, rows(t, s))

	c1, w1 := s.WriterStats()
	require.Equal(t, int64(2), c1-c0, "the first write's commit, then one for the four queued")
	require.Equal(t, int64(3), w1-w0, "writes that committed: the first, b and d")
}

// Many concurrent writes through the store's API: every one that should
// commit does, the bad ones fail alone.
func TestGroupWriterConcurrentSends(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	_, err := s.DeploymentApply(ctx, store.DeploymentApplyParams{Project: "p",
		Events: &store.EventsApplyParams{Queues: []record.QueueConfig{{Name: "q", Project: "p", Kind: record.QueueUser}}}})
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make([]error, 300)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			queue := "q"
			if i%60 == 5 {
				queue = "ghost"
			}
			_, errs[i] = s.MessageSend(ctx, []store.MessageSendParams{{Queue: queue, Body: []byte(fmt.Sprint(i))}})
		}()
	}
	wg.Wait()
	good := 0
	for i, err := range errs {
		if i%60 == 5 {
			require.ErrorIs(t, err, store.ErrNotFound, "send %d", i)
			continue
		}
		require.NoError(t, err, "send %d", i)
		good++
	}
	st, err := s.QueueStats(ctx, "q")
	require.NoError(t, err)
	require.Equal(t, int64(good), st.Visible)
	commits, writes := s.WriterStats()
	t.Logf("%d sends: %d writes in %d commits", len(errs), writes, commits)
}
