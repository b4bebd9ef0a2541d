package postgres

import (
	"context"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store/postgres/internal/pgdb"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

// The membership area of sqlstore.Queries.

func (q queries) NodeJoin(ctx context.Context, n record.Node, now, stale time.Time) (bool, error) {
	k, err := q.Queries.NodeJoinUpsert(ctx, pgdb.NodeJoinUpsertParams{ID: n.ID, Addr: n.Addr, Version: n.Version, Now: now, Stale: stale})
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
	k, err := q.Queries.NodeBeat(ctx, pgdb.NodeBeatParams{State: state, Load: int64(load), Now: now, ID: id, Addr: addr})
	return k > 0, err
}

func (q queries) NodesAll(ctx context.Context) ([]record.Node, error) {
	rows, err := q.Queries.NodeListAll(ctx)
	return sqlstore.Rows(rows, node), err
}

func (q queries) NodesExpire(ctx context.Context, stale, forget time.Time) ([]string, error) {
	gone, err := q.Queries.NodeMarkGone(ctx, stale)
	if err != nil {
		return nil, err
	}
	return gone, q.Queries.NodeForget(ctx, forget)
}

func (q queries) NodeReleaseAll(ctx context.Context, owner, prefix string, now time.Time) (int, int, []string, error) {
	tasks, err := q.Queries.NodeReleaseFlow(ctx, &now, prefix)
	if err != nil {
		return 0, 0, nil, err
	}
	objects, err := q.Queries.NodeReleaseObjects(ctx, now, owner)
	if err != nil {
		return 0, 0, nil, err
	}
	queues, err := q.Queries.NodeReleaseMessages(ctx, now, prefix)
	return int(tasks), int(objects), queues, err
}

func node(r pgdb.Node) record.Node {
	return record.Node{ID: r.ID, Addr: r.Addr, State: r.State, Version: r.Version, Load: int(r.Load),
		StartedAt: utc(r.StartedAt), Heartbeat: utc(r.HeartbeatAt)}
}
