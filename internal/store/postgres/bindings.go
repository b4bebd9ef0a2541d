package postgres

import (
	"context"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store/postgres/internal/pgdb"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

// The bindings area of sqlstore.Queries: databases, KV and secrets.

func (q queries) DatabaseUpsert(ctx context.Context, d record.DatabaseConfig) (bool, error) {
	n, err := q.Queries.DatabaseUpsert(ctx, pgdb.DatabaseUpsertParams{Name: d.Name, Project: d.Project, Engine: d.Engine,
		Url: d.URL, MaxConnections: int32(d.MaxConnections)})
	return n > 0, err
}

func (q queries) DatabaseOwner(ctx context.Context, name string) (string, error) {
	p, err := q.Queries.DatabaseOwner(ctx, name)
	return p, notFound(err)
}

func (q queries) DatabaseGet(ctx context.Context, name string) (*record.DatabaseConfig, error) {
	r, err := q.Queries.DatabaseGet(ctx, name)
	return sqlstore.One(r, notFound(err), database)
}

func (q queries) DatabaseList(ctx context.Context) ([]record.DatabaseConfig, error) {
	rows, err := q.Queries.DatabaseList(ctx)
	return sqlstore.Rows(rows, database), err
}

func database(r pgdb.Database) record.DatabaseConfig {
	return record.DatabaseConfig{Name: r.Name, Project: r.Project, Engine: r.Engine, URL: r.Url, MaxConnections: int(r.MaxConnections)}
}

func (q queries) KVNamespaceUpsert(ctx context.Context, n record.KVNamespace) (bool, error) {
	c, err := q.Queries.KVNamespaceUpsert(ctx, n.Name, n.Project)
	return c > 0, err
}

func (q queries) KVNamespaceOwner(ctx context.Context, name string) (string, error) {
	p, err := q.Queries.KVNamespaceOwner(ctx, name)
	return p, notFound(err)
}

func (q queries) KVNamespaceList(ctx context.Context) ([]record.KVNamespace, error) {
	rows, err := q.Queries.KVNamespaceList(ctx)
	return sqlstore.Rows(rows, func(r pgdb.KvNamespace) record.KVNamespace {
		return record.KVNamespace{Name: r.Name, Project: r.Project}
	}), err
}

func (q queries) KVGet(ctx context.Context, namespace, key string, now time.Time) (*record.KVEntry, error) {
	r, err := q.Queries.KVGet(ctx, key, now, namespace)
	if err != nil || r.UpdatedAt == nil {
		return nil, notFound(err)
	}
	return &record.KVEntry{Key: key, Value: r.Value, ExpiresAt: fromNullTime(r.ExpiresAt), UpdatedAt: utc(*r.UpdatedAt)}, nil
}

func (q queries) KVPut(ctx context.Context, namespace string, e record.KVEntry) error {
	return q.Queries.KVPut(ctx, pgdb.KVPutParams{Namespace: namespace, Key: e.Key, Value: e.Value,
		ExpiresAt: nullTime(e.ExpiresAt), UpdatedAt: e.UpdatedAt})
}

func (q queries) KVDelete(ctx context.Context, namespace, key string) (bool, bool, time.Time, error) {
	r, err := q.Queries.KVDelete(ctx, namespace, key)
	return r.NamespaceExists, r.Deleted, fromNullTime(r.ExpiresAt), err
}

func (q queries) KVList(ctx context.Context, r sqlstore.KVRange) ([]record.KVEntry, error) {
	rows, err := q.Queries.KVList(ctx, pgdb.KVListParams{Namespace: r.Namespace, FromKey: r.From, EndKey: r.End,
		Now: r.Now, Lim: int32(r.Limit)})
	return sqlstore.Rows(rows, func(r pgdb.KVListRow) record.KVEntry {
		return record.KVEntry{Key: r.Key, Value: r.Value, ExpiresAt: fromNullTime(r.ExpiresAt), UpdatedAt: utc(r.UpdatedAt)}
	}), err
}

func (q queries) KVDeleteExpired(ctx context.Context, now time.Time, limit int) (int64, error) {
	return q.Queries.KVDeleteExpired(ctx, now, int32(limit))
}

func (q queries) SecretGet(ctx context.Context, project, name string) ([]byte, error) {
	ct, err := q.Queries.SecretGet(ctx, project, name)
	return ct, notFound(err)
}

func (q queries) SecretList(ctx context.Context) ([]record.SecretInfo, error) {
	rows, err := q.Queries.SecretList(ctx)
	return sqlstore.Rows(rows, func(r pgdb.SecretListRow) record.SecretInfo {
		return record.SecretInfo{Project: r.Project, Name: r.Name, UpdatedAt: utc(r.UpdatedAt)}
	}), err
}

func (q queries) SecretDelete(ctx context.Context, project, name string) (bool, error) {
	n, err := q.Queries.SecretDelete(ctx, project, name)
	return n > 0, err
}

// expiredBatch is sqlstore's, for the tests that fill more than one batch.
const expiredBatch = sqlstore.KVExpiredBatch
