package sqlite

import (
	"context"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store/sqlite/internal/sqlitedb"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

// The deploy area of sqlstore.Queries: functions, versions and routes.

// DeployLock does nothing: the single writer connection already serialises
// deploys.
func (q queries) DeployLock(context.Context) error { return nil }

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

func function(r sqlitedb.Function) record.Function {
	return record.Function{Name: r.Name, Project: r.Project, ActiveVersion: int(r.ActiveVersion),
		CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt)}
}

func (q queries) FunctionInsert(ctx context.Context, name, project string, at time.Time) error {
	return q.Queries.FunctionInsert(ctx, name, project, micros(at))
}

func (q queries) FunctionActivate(ctx context.Context, name string, number int, at time.Time) (bool, error) {
	n, err := q.Queries.FunctionActivate(ctx, int64(number), micros(at), name)
	return n == 1, err
}

func (q queries) VersionNext(ctx context.Context, function string) (int, error) {
	n, err := q.Queries.VersionNext(ctx, function)
	return int(n), err
}

func (q queries) VersionInsert(ctx context.Context, v *record.Version, config []byte) error {
	return q.Queries.VersionInsert(ctx, sqlitedb.VersionInsertParams{Function: v.Function, Number: int64(v.Number),
		ModuleSha256: v.ModuleSHA256, Config: string(config), CreatedAt: micros(v.CreatedAt)})
}

func (q queries) VersionGet(ctx context.Context, function string, number int) (*record.Version, error) {
	r, err := q.Queries.VersionGet(ctx, function, int64(number))
	return sqlstore.OneErr(r, notFound(err), version)
}

func (q queries) VersionList(ctx context.Context, function string) ([]record.Version, error) {
	rows, err := q.Queries.VersionList(ctx, function)
	if err != nil {
		return nil, err
	}
	return sqlstore.RowsErr(rows, version)
}

func version(r sqlitedb.Version) (record.Version, error) {
	return sqlstore.DecodeVersion(r.Function, int(r.Number), r.ModuleSha256, []byte(r.Config), fromMicros(r.CreatedAt))
}

func (q queries) RouteOwner(ctx context.Context, method, path string) (string, error) {
	p, err := q.Queries.RouteOwner(ctx, method, path)
	return p, notFound(err)
}

func (q queries) RouteInsert(ctx context.Context, project string, r record.Route) error {
	return q.Queries.RouteInsert(ctx, sqlitedb.RouteInsertParams{Method: r.Method, Path: r.Path, Project: project, Function: r.Function,
		Workflow: r.Workflow, Async: r.Async, RateLimit: r.RateLimit, RateBurst: int64(r.RateBurst),
		Object: r.Object, ObjectParam: r.ObjectParam, Websocket: r.WebSocket})
}

func (q queries) RouteList(ctx context.Context) ([]record.Route, error) {
	rows, err := q.Queries.RouteList(ctx)
	return sqlstore.Rows(rows, func(r sqlitedb.Route) record.Route {
		return record.Route{Project: r.Project, Method: r.Method, Path: r.Path, Function: r.Function,
			Workflow: r.Workflow, Async: r.Async, RateLimit: r.RateLimit, RateBurst: int(r.RateBurst),
			Object: r.Object, ObjectParam: r.ObjectParam, WebSocket: r.Websocket}
	}), err
}
