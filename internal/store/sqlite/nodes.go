package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store/sqlite/internal/sqlitedb"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

// The membership area of sqlstore.Queries.

// NodeJoin takes over a row it may take, else creates a missing one: two
// statements in the write's transaction, which nothing else can write
// between.
func (q queries) NodeJoin(ctx context.Context, n record.Node, now, stale time.Time) (bool, error) {
	k, err := q.Queries.NodeTake(ctx, sqlitedb.NodeTakeParams{Addr: n.Addr, Version: n.Version, Now: micros(now),
		ID: n.ID, Stale: micros(stale)})
	if err != nil || k > 0 {
		return k > 0, err
	}
	k, err = q.Queries.NodeInsert(ctx, n.ID, n.Addr, n.Version, micros(now))
	return k > 0, err
}

func (q queries) NodeRow(ctx context.Context, id string) (record.Node, error) {
	r, err := q.Queries.NodeGet(ctx, id)
	if err != nil {
		return record.Node{}, notFound(err)
	}
	return node(r), nil
}

func (q queries) NodeBeatAt(ctx context.Context, id, addr, state string, load int, now time.Time) (bool, error) {
	k, err := q.Queries.NodeBeat(ctx, sqlitedb.NodeBeatParams{State: state, Load: int64(load), Now: micros(now), ID: id, Addr: addr})
	return k > 0, err
}

func (q queries) NodesAll(ctx context.Context) ([]record.Node, error) {
	rows, err := q.Queries.NodeListAll(ctx)
	return sqlstore.Rows(rows, node), err
}

func (q queries) NodesExpire(ctx context.Context, stale, forget time.Time) ([]string, error) {
	gone, err := q.Queries.NodeMarkGone(ctx, micros(stale))
	if err != nil {
		return nil, err
	}
	return gone, q.Queries.NodeForget(ctx, micros(forget))
}

func (q queries) NodeReleaseAll(ctx context.Context, owner, prefix string, now time.Time) (int, int, []string, error) {
	at := micros(now)
	tasks, err := q.Queries.NodeReleaseFlow(ctx, sql.NullInt64{Int64: at, Valid: true}, prefix)
	if err != nil {
		return 0, 0, nil, err
	}
	objects, err := q.Queries.NodeReleaseObjects(ctx, at, owner)
	if err != nil {
		return 0, 0, nil, err
	}
	queues, err := q.Queries.NodeReleaseMessages(ctx, at, prefix)
	return int(tasks), int(objects), queues, err
}

func node(r sqlitedb.Node) record.Node {
	return record.Node{ID: r.ID, Addr: r.Addr, State: r.State, Version: r.Version, Load: int(r.Load),
		StartedAt: fromMicros(r.StartedAt), Heartbeat: fromMicros(r.HeartbeatAt)}
}
