package postgres

import (
	"context"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store/postgres/internal/pgdb"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

// The deploy area of sqlstore.Queries: functions, versions and routes.

// DeployLock takes a transaction-scoped advisory lock: deploys are rare, so
// they are serialised outright across nodes.
func (q queries) DeployLock(ctx context.Context) error {
	return q.Queries.DeployLock(ctx, q.s.lockKey("deploy"))
}

func (q queries) FunctionProject(ctx context.Context, name string) (string, error) {
	p, err := q.Queries.FunctionProject(ctx, name)
	return p, notFound(err)
}

func (q queries) FunctionGet(ctx context.Context, name string) (*record.Function, error) {
	r, err := q.Queries.FunctionGet(ctx, name)
	return sqlstore.One(r, notFound(err), function)
}

func (q queries) FunctionList(ctx context.Context) ([]record.Function, error) {
	rows, err := q.Queries.FunctionList(ctx)
	return sqlstore.Rows(rows, function), err
}

func function(r pgdb.Function) record.Function {
	return record.Function{Name: r.Name, Project: r.Project, ActiveVersion: int(r.ActiveVersion),
		CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt)}
}

func (q queries) FunctionActivate(ctx context.Context, name string, number int, at time.Time) (bool, error) {
	n, err := q.Queries.FunctionActivate(ctx, int32(number), at, name)
	return n == 1, err
}

func (q queries) VersionNext(ctx context.Context, function string) (int, error) {
	n, err := q.Queries.VersionNext(ctx, function)
	return int(n), err
}

func (q queries) VersionInsert(ctx context.Context, v *record.Version, config []byte) error {
	return q.Queries.VersionInsert(ctx, pgdb.VersionInsertParams{Function: v.Function, Number: int32(v.Number),
		ModuleSha256: v.ModuleSHA256, Config: config, CreatedAt: v.CreatedAt})
}

func (q queries) VersionGet(ctx context.Context, function string, number int) (*record.Version, error) {
	r, err := q.Queries.VersionGet(ctx, function, int32(number))
	return sqlstore.OneErr(r, notFound(err), version)
}

func (q queries) VersionList(ctx context.Context, function string) ([]record.Version, error) {
	rows, err := q.Queries.VersionList(ctx, function)
	if err != nil {
		return nil, err
	}
	return sqlstore.RowsErr(rows, version)
}

func version(r pgdb.Version) (record.Version, error) {
	return sqlstore.DecodeVersion(r.Function, int(r.Number), r.ModuleSha256, r.Config, r.CreatedAt)
}

func (q queries) RouteOwner(ctx context.Context, method, path string) (string, error) {
	p, err := q.Queries.RouteOwner(ctx, method, path)
	return p, notFound(err)
}

func (q queries) RouteInsert(ctx context.Context, project string, r record.Route) error {
	return q.Queries.RouteInsert(ctx, pgdb.RouteInsertParams{Method: r.Method, Path: r.Path, Project: project, Function: r.Function,
		Workflow: r.Workflow, Async: r.Async, RateLimit: r.RateLimit, RateBurst: int32(r.RateBurst),
		Object: r.Object, ObjectParam: r.ObjectParam, Websocket: r.WebSocket})
}

func (q queries) RouteList(ctx context.Context) ([]record.Route, error) {
	rows, err := q.Queries.RouteList(ctx)
	return sqlstore.Rows(rows, func(r pgdb.Route) record.Route {
		return record.Route{Project: r.Project, Method: r.Method, Path: r.Path, Function: r.Function,
			Workflow: r.Workflow, Async: r.Async, RateLimit: r.RateLimit, RateBurst: int(r.RateBurst),
			Object: r.Object, ObjectParam: r.ObjectParam, WebSocket: r.Websocket}
	}), err
}
