package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite/internal/sqlitedb"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

// The bindings area of sqlstore.Queries: databases, KV and secrets.

func (q queries) DatabaseUpsert(ctx context.Context, d record.DatabaseConfig) (bool, error) {
	n, err := q.Queries.DatabaseUpsert(ctx, sqlitedb.DatabaseUpsertParams{Name: d.Name, Project: d.Project, Engine: d.Engine,
		Url: d.URL, MaxConnections: int64(d.MaxConnections)})
	return n > 0, err
}

func (q queries) DatabaseOwner(ctx context.Context, name string) (string, error) {
	p, err := q.Queries.DatabaseOwner(ctx, name)
	return p, notFound(err)
}

// DatabaseDeleteUnlisted passes keep as a JSON array (json_each): one
// statement whatever its length.
func (q queries) DatabaseDeleteUnlisted(ctx context.Context, project string, keep []string) error {
	return q.Queries.DatabaseDeleteUnlisted(ctx, project, jsonList(keep))
}

// jsonList is names as a JSON array, never null (json_each would yield a
// NULL row, and NOT IN a NULL would delete nothing).
func jsonList(names []string) string {
	if len(names) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(names) // strings always encode
	return string(b)
}

func (q queries) DatabaseGet(ctx context.Context, name string) (*record.DatabaseConfig, error) {
	r, err := q.Queries.DatabaseGet(ctx, name)
	return sqlstore.One(r, notFound(err), database)
}

func (q queries) DatabaseList(ctx context.Context) ([]record.DatabaseConfig, error) {
	rows, err := q.Queries.DatabaseList(ctx)
	return sqlstore.Rows(rows, database), err
}

func database(r sqlitedb.Database) record.DatabaseConfig {
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

func (q queries) KVNamespaceDeleteUnlisted(ctx context.Context, project string, keep []string) error {
	return q.Queries.KVNamespaceDeleteUnlisted(ctx, project, jsonList(keep))
}

func (q queries) KVNamespaceList(ctx context.Context) ([]record.KVNamespace, error) {
	rows, err := q.Queries.KVNamespaceList(ctx)
	return sqlstore.Rows(rows, func(r sqlitedb.KvNamespace) record.KVNamespace {
		return record.KVNamespace{Name: r.Name, Project: r.Project}
	}), err
}

// KVGet looks the entry up alone, and the namespace only on a miss: reads
// run in process, so a second statement on a miss costs less than joining
// the namespace in on every hit.
func (q queries) KVGet(ctx context.Context, namespace, key string, now time.Time) (*record.KVEntry, error) {
	r, err := q.Queries.KVGet(ctx, namespace, key, micros(now))
	if errors.Is(err, sql.ErrNoRows) {
		ok, err := q.Queries.KVNamespaceExists(ctx, namespace)
		if err != nil || ok {
			return nil, err
		}
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &record.KVEntry{Key: key, Value: r.Value, ExpiresAt: fromNullMicros(r.ExpiresAt), UpdatedAt: fromMicros(r.UpdatedAt)}, nil
}

func (q queries) KVPut(ctx context.Context, namespace string, e record.KVEntry) error {
	return q.Queries.KVPut(ctx, sqlitedb.KVPutParams{Namespace: namespace, Key: e.Key, Value: e.Value,
		ExpiresAt: nullMicros(e.ExpiresAt), UpdatedAt: micros(e.UpdatedAt)})
}

// KVDelete is two statements in the Write's transaction: SQLite has no
// DELETE inside a WITH.
func (q queries) KVDelete(ctx context.Context, namespace, key string) (bool, bool, time.Time, error) {
	expires, err := q.Queries.KVDelete(ctx, namespace, key)
	if err == nil {
		return true, true, fromNullMicros(expires), nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return false, false, time.Time{}, err
	}
	ok, err := q.Queries.KVNamespaceExists(ctx, namespace)
	return ok, false, time.Time{}, err
}

func (q queries) KVList(ctx context.Context, r sqlstore.KVRange) ([]record.KVEntry, error) {
	rows, err := q.Queries.KVList(ctx, sqlitedb.KVListParams{Namespace: r.Namespace, Key: r.From, Key_2: r.End,
		Column4: micros(r.Now), Limit: int64(r.Limit)})
	return sqlstore.Rows(rows, func(r sqlitedb.KVListRow) record.KVEntry {
		return record.KVEntry{Key: r.Key, Value: r.Value, ExpiresAt: fromNullMicros(r.ExpiresAt), UpdatedAt: fromMicros(r.UpdatedAt)}
	}), err
}

func (q queries) KVDeleteExpired(ctx context.Context, now time.Time, limit int) (int64, error) {
	return q.Queries.KVDeleteExpired(ctx, micros(now), int64(limit))
}

func (q queries) SecretPut(ctx context.Context, project, name string, ciphertext []byte, at time.Time) error {
	return q.Queries.SecretPut(ctx, project, name, ciphertext, micros(at))
}

func (q queries) SecretGet(ctx context.Context, project, name string) ([]byte, error) {
	ct, err := q.Queries.SecretGet(ctx, project, name)
	return ct, notFound(err)
}

func (q queries) SecretList(ctx context.Context) ([]record.SecretInfo, error) {
	rows, err := q.Queries.SecretList(ctx)
	return sqlstore.Rows(rows, func(r sqlitedb.SecretListRow) record.SecretInfo {
		return record.SecretInfo{Project: r.Project, Name: r.Name, UpdatedAt: fromMicros(r.UpdatedAt)}
	}), err
}

func (q queries) SecretDelete(ctx context.Context, project, name string) (bool, error) {
	n, err := q.Queries.SecretDelete(ctx, project, name)
	return n > 0, err
}

// expiredBatch is sqlstore's, for the tests that fill more than one batch.
const expiredBatch = sqlstore.KVExpiredBatch
