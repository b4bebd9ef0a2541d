package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/stratahq/strata/internal/store/sqlite/internal/sqlitedb"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

// groupWriter is group commit on the single writer: concurrent Writes
// (queue sends, receives, acks and fails, usage records, ...) run one after
// another inside one IMMEDIATE transaction, each in its own savepoint, and
// share its commit, the one fsync of the WAL that synchronous=FULL makes.
// Nobody returns before that commit: a write reported done is as durable as
// one that committed alone. A write whose fn fails rolls back to its
// savepoint and leaves the others' work in place, so grouping changes
// neither what a write sees (the writer is serial either way) nor what
// survives it.
//
// The first Write to arrive while none runs leads: it runs every write
// queued by then as one group, and, if more queued meanwhile, hands the
// lead to the oldest of them and returns, so no caller serves others for
// long. A lone Write runs at once in its own transaction, with no savepoint
// and no added latency. A Write whose context ends while it waits for its
// group leaves the queue; once its group runs it is no longer cancelled
// (its statements run without cancellation, since SQLite interrupting a
// statement may roll back the whole shared transaction).
type groupWriter struct {
	w     *sql.DB
	stmts stmtCache

	mu      sync.Mutex
	pending []*groupCall
	busy    bool        // a leader is running groups
	shared  atomic.Bool // the last group had more than one write

	commits atomic.Int64 // transactions committed on w (all paths)
	writes  atomic.Int64 // writes (fns) those transactions committed
}

// maxGroup bounds the writes of one group, so one commit's latency stays
// bounded under a flood.
const maxGroup = 256

// callState is where a queued call stands; it changes under mu.
type callState int

const (
	callWaiting callState = iota
	callLeading           // promoted: the call runs the next group itself
	callDone
)

type groupCall struct {
	fn    func(sqlstore.Queries) error
	err   error
	state callState
	wake  chan struct{} // receives once: led or done
}

// write runs fn in a transaction of the writer, possibly shared with
// concurrent writes, and returns once that transaction has committed or
// fn has failed.
func (g *groupWriter) write(ctx context.Context, fn func(sqlstore.Queries) error) error {
	c := &groupCall{fn: fn, wake: make(chan struct{}, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, c)
	if !g.busy {
		g.busy = true
		c.state = callLeading
		g.mu.Unlock()
		return g.lead(c)
	}
	g.mu.Unlock()
	select {
	case <-c.wake:
	case <-ctx.Done():
		g.mu.Lock()
		if c.state == callWaiting {
			for i, p := range g.pending {
				if p == c {
					g.pending = append(g.pending[:i], g.pending[i+1:]...)
					break
				}
			}
			g.mu.Unlock()
			return ctx.Err()
		}
		g.mu.Unlock()
		<-c.wake // taken into a group already: its outcome is coming
	}
	if c.state == callLeading {
		return g.lead(c)
	}
	return c.err
}

// lead runs one group (c's, whose head c is), then hands the lead to the
// oldest write queued meanwhile, if any.
func (g *groupWriter) lead(c *groupCall) error {
	if g.shared.Load() {
		// The last group was shared: writers are busy. Let the callers
		// it released run first, so that those coming straight back
		// (a sender's next send) join this group rather than the next.
		runtime.Gosched()
	}
	g.mu.Lock()
	n := min(len(g.pending), maxGroup)
	group := g.pending[:n:n]
	g.pending = g.pending[n:]
	g.mu.Unlock()

	g.run(group)
	g.shared.Store(len(group) > 1)

	g.mu.Lock()
	for _, m := range group {
		m.state = callDone
		if m != c {
			m.wake <- struct{}{}
		}
	}
	if len(g.pending) > 0 {
		next := g.pending[0]
		next.state = callLeading
		next.wake <- struct{}{}
	} else {
		g.busy = false
	}
	g.mu.Unlock()
	return c.err
}

// run runs a group's fns in one transaction and sets each call's err.
func (g *groupWriter) run(group []*groupCall) {
	// The group outlives any one caller's context (see groupWriter).
	ctx := context.Background()
	fail := func(err error) {
		for _, m := range group {
			if m.err == nil {
				m.err = err
			}
		}
	}
	tx, err := g.w.BeginTx(ctx, nil)
	if err != nil {
		fail(err)
		return
	}
	db := noCancel{tx: tx, cache: &g.stmts}
	q := queries{Queries: sqlitedb.New(db), db: db}
	if len(group) == 1 {
		if err := group[0].fn(q); err != nil {
			_ = tx.Rollback()
			group[0].err = err
			return
		}
	} else {
		for i, m := range group {
			if _, err := db.ExecContext(ctx, "SAVEPOINT w"); err != nil {
				_ = tx.Rollback()
				fail(fmt.Errorf("group commit: savepoint: %w", err))
				return
			}
			if m.err = m.fn(q); m.err != nil {
				if _, err := db.ExecContext(ctx, "ROLLBACK TO w"); err != nil {
					// SQLite rolled the whole transaction back (an I/O
					// error, a full disk): nothing of the group is
					// written. The writes not run yet go untried.
					_ = tx.Rollback()
					fail(fmt.Errorf("group commit: a write sharing the transaction failed (%w), losing it", m.err))
					for _, rest := range group[i+1:] {
						rest.err = errors.New("group commit: not run: the shared transaction was lost")
					}
					return
				}
			}
			if _, err := db.ExecContext(ctx, "RELEASE w"); err != nil {
				_ = tx.Rollback()
				fail(fmt.Errorf("group commit: release savepoint: %w", err))
				return
			}
		}
	}
	if err := tx.Commit(); err != nil {
		fail(err)
		return
	}
	g.stmts.prepare(ctx)
	g.commits.Add(1)
	for _, m := range group {
		if m.err == nil {
			g.writes.Add(1)
		}
	}
}

// noCancel runs statements without their caller's cancellation: once a
// write is in a shared transaction, interrupting one of its statements
// could roll back the others' work too. It also runs them prepared (see
// stmtCache).
type noCancel struct {
	tx    *sql.Tx
	cache *stmtCache
}

var _ sqlitedb.DBTX = noCancel{}

func (n noCancel) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx = context.WithoutCancel(ctx)
	if st := n.cache.get(q); st != nil {
		return n.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return n.tx.ExecContext(ctx, q, args...)
}

func (n noCancel) PrepareContext(ctx context.Context, q string) (*sql.Stmt, error) {
	return n.tx.PrepareContext(context.WithoutCancel(ctx), q)
}

func (n noCancel) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	ctx = context.WithoutCancel(ctx)
	if st := n.cache.get(q); st != nil {
		return n.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return n.tx.QueryContext(ctx, q, args...)
}

func (n noCancel) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	ctx = context.WithoutCancel(ctx)
	if st := n.cache.get(q); st != nil {
		return n.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return n.tx.QueryRowContext(ctx, q, args...)
}

// stmtCache keeps the group writer's statements prepared: SQLite parses and
// plans a statement each time it is prepared, which costs as much as
// running the small statements of the queue path. Statements are kept by
// their text, up to maxCached of them, so the hand-written ones whose text
// grows with their rows (multi-row inserts, acks) take room only while
// there is some; past it they run unprepared, as before. A statement is
// prepared after the commit of the group that first ran it: the writer's
// one connection is busy with the group's transaction until then.
type stmtCache struct {
	w      *sql.DB
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	wanted map[string]bool // seen, to prepare after the commit
	closed bool
}

const maxCached = 512

// get returns q prepared on the writer, or nil to run it unprepared (and
// prepare it later).
func (c *stmtCache) get(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok {
		return st
	}
	if len(c.m)+len(c.wanted) < maxCached {
		if c.wanted == nil {
			c.wanted = map[string]bool{}
		}
		c.wanted[q] = true
	}
	return nil
}

// prepare prepares the statements seen since the last call; the writer's
// connection must be free.
func (c *stmtCache) prepare(ctx context.Context) {
	c.mu.Lock()
	wanted := c.wanted
	c.wanted = nil
	c.mu.Unlock()
	for q := range wanted {
		st, err := c.w.PrepareContext(ctx, q)
		if err != nil {
			continue // runs unprepared, which reports its errors
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			_ = st.Close()
			return
		}
		if c.m == nil {
			c.m = map[string]*sql.Stmt{}
		}
		c.m[q] = st
		c.mu.Unlock()
	}
}

// close releases the prepared statements.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		_ = st.Close()
	}
	c.m, c.closed = nil, true
}
