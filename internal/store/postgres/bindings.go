package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// applyBindings replaces project's databases and KV namespaces inside the
// deploy transaction (which holds the deploy lock). b has passed
// BindingsApplyParams.Validate.
func applyBindings(ctx context.Context, tx pgx.Tx, project string, b *store.BindingsApplyParams) error {
	names := make([]string, 0, len(b.Databases))
	for _, d := range b.Databases {
		maxConns := d.MaxConnections
		if maxConns == 0 {
			maxConns = store.DefaultMaxConnections
		}
		// As with queues: the WHERE leaves another project's row alone,
		// and no row changed means the name is taken.
		tag, err := tx.Exec(ctx, `INSERT INTO databases (name, project, engine, url, max_connections) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (name) DO UPDATE SET engine = excluded.engine, url = excluded.url, max_connections = excluded.max_connections
			WHERE databases.project = excluded.project`,
			d.Name, project, d.Engine, d.URL, maxConns)
		if err != nil {
			return fmt.Errorf("put database %s: %w", d.Name, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("database %s belongs to project %s: %w", d.Name, ownerOf(ctx, tx, "databases", d.Name), store.ErrConflict)
		}
		names = append(names, d.Name)
	}
	if err := deleteUnlisted(ctx, tx, "databases", project, names); err != nil {
		return fmt.Errorf("remove databases: %w", err)
	}

	names = names[:0]
	for _, n := range b.KV {
		tag, err := tx.Exec(ctx, `INSERT INTO kv_namespaces (name, project) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET project = excluded.project WHERE kv_namespaces.project = excluded.project`,
			n.Name, project)
		if err != nil {
			return fmt.Errorf("put kv namespace %s: %w", n.Name, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("kv namespace %s belongs to project %s: %w", n.Name, ownerOf(ctx, tx, "kv_namespaces", n.Name), store.ErrConflict)
		}
		names = append(names, n.Name)
	}
	// Entries of namespaces no longer listed go with them (ON DELETE
	// CASCADE); a namespace declared again later starts empty.
	if err := deleteUnlisted(ctx, tx, "kv_namespaces", project, names); err != nil {
		return fmt.Errorf("remove kv namespaces: %w", err)
	}
	return nil
}

const databaseSelect = `SELECT name, project, engine, url, max_connections FROM databases`

func scanDatabase(row pgx.Row) (record.DatabaseConfig, error) {
	var d record.DatabaseConfig
	err := row.Scan(&d.Name, &d.Project, &d.Engine, &d.URL, &d.MaxConnections)
	return d, err
}

// DatabaseGet returns one database's configuration.
func (s *Store) DatabaseGet(ctx context.Context, name string) (*record.DatabaseConfig, error) {
	d, err := scanDatabase(s.pool.QueryRow(ctx, databaseSelect+` WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("database %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get database %s: %w", name, err)
	}
	return &d, nil
}

// DatabaseList returns every database, sorted by name in byte order.
func (s *Store) DatabaseList(ctx context.Context) ([]record.DatabaseConfig, error) {
	rows, err := s.pool.Query(ctx, databaseSelect+` ORDER BY name COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (record.DatabaseConfig, error) { return scanDatabase(row) })
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	return nilIfEmpty(out), nil
}

// KVNamespaceList returns every KV namespace, sorted by name in byte order.
func (s *Store) KVNamespaceList(ctx context.Context) ([]record.KVNamespace, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, project FROM kv_namespaces ORDER BY name COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("list kv namespaces: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (record.KVNamespace, error) {
		var n record.KVNamespace
		err := row.Scan(&n.Name, &n.Project)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("list kv namespaces: %w", err)
	}
	return nilIfEmpty(out), nil
}

// KVGet returns a live entry. The namespace is joined in, so one round trip
// tells a missing key (a row of NULLs) from a missing namespace (no row).
func (s *Store) KVGet(ctx context.Context, namespace, key string) (*record.KVEntry, error) {
	if err := store.CheckKVKey(key); err != nil {
		return nil, fmt.Errorf("kv get %s/%s: %w", namespace, key, err)
	}
	e := record.KVEntry{Key: key}
	var expires, updated *time.Time
	err := s.pool.QueryRow(ctx, `SELECT e.value, e.expires_at, e.updated_at FROM kv_namespaces n
		LEFT JOIN kv_entries e ON e.namespace = n.name AND e.key = $2 AND (e.expires_at IS NULL OR e.expires_at > $3)
		WHERE n.name = $1`, namespace, key, s.now()).Scan(&e.Value, &expires, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("kv namespace %s: %w", namespace, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("kv get %s/%s: %w", namespace, key, err)
	}
	if updated == nil {
		return nil, fmt.Errorf("kv key %s in %s: %w", key, namespace, store.ErrNotFound)
	}
	if e.Value == nil {
		e.Value = []byte{} // an empty value is a value
	}
	if expires != nil {
		e.ExpiresAt = utc(*expires)
	}
	e.UpdatedAt = utc(*updated)
	return &e, nil
}

// KVPut upserts value under key, replacing any entry (expired or not) and
// its expiry, in one statement. Read-after-write holds because the
// statement commits before KVPut returns and every read is a new snapshot.
func (s *Store) KVPut(ctx context.Context, namespace, key string, value []byte, ttl time.Duration) error {
	if err := checkPut(key, value, ttl); err != nil {
		return fmt.Errorf("kv put %s/%s: %w", namespace, key, err)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	var expires *time.Time
	if ttl > 0 {
		t := now.Add(ttl).Truncate(time.Microsecond)
		expires = &t
	}
	if value == nil {
		value = []byte{} // nil would bind as NULL
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO kv_entries (namespace, key, value, expires_at, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at,
			updated_at = excluded.updated_at`,
		namespace, key, value, expires, now)
	if isForeignKey(err) {
		return fmt.Errorf("kv put %s/%s: namespace %s: %w", namespace, key, namespace, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("kv put %s/%s: %w", namespace, key, err)
	}
	return nil
}

// checkPut checks a put's arguments before any I/O.
func checkPut(key string, value []byte, ttl time.Duration) error {
	if err := store.CheckKVKey(key); err != nil {
		return err
	}
	if len(value) > store.KVMaxValueBytes {
		return fmt.Errorf("value of %d bytes is over the limit of %d: %w", len(value), store.KVMaxValueBytes, store.ErrTooLarge)
	}
	if ttl < 0 {
		return fmt.Errorf("negative ttl %s", ttl)
	}
	return nil
}

// KVDelete removes a key and reports whether it was live. An expired entry
// is removed too but counts as absent. One statement: the DELETE runs in a
// CTE and the outer SELECT also reports whether the namespace exists.
func (s *Store) KVDelete(ctx context.Context, namespace, key string) (bool, error) {
	if err := store.CheckKVKey(key); err != nil {
		return false, fmt.Errorf("kv delete %s/%s: %w", namespace, key, err)
	}
	var nsExists, live bool
	err := s.pool.QueryRow(ctx, `WITH d AS (
			DELETE FROM kv_entries WHERE namespace = $1 AND key = $2 RETURNING expires_at
		)
		SELECT EXISTS (SELECT 1 FROM kv_namespaces WHERE name = $1),
			EXISTS (SELECT 1 FROM d WHERE expires_at IS NULL OR expires_at > $3)`,
		namespace, key, s.now()).Scan(&nsExists, &live)
	if err != nil {
		return false, fmt.Errorf("kv delete %s/%s: %w", namespace, key, err)
	}
	if !nsExists {
		return false, fmt.Errorf("kv delete %s/%s: namespace %s: %w", namespace, key, namespace, store.ErrNotFound)
	}
	return live, nil
}

// KVList lists live entries with p.Prefix after p.After, in key order: a
// range scan of the primary key, [max(prefix, after), prefix end). The
// namespace check and the listing go in one pipelined round trip.
func (s *Store) KVList(ctx context.Context, p store.KVListParams) ([]record.KVEntry, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("kv list %s: %w", p.Namespace, err)
	}
	limit := p.Limit
	if limit == 0 {
		limit = store.KVDefaultListLimit
	}
	// One lower bound, so that the planner has a single range to seek.
	from, op := p.Prefix, ">="
	if p.After >= p.Prefix {
		from, op = p.After, ">"
	}
	q := `SELECT key, value, expires_at, updated_at FROM kv_entries
		WHERE namespace = $1 AND key ` + op + ` $2 AND (expires_at IS NULL OR expires_at > $3)`
	args := []any{p.Namespace, from, s.now()}
	if end, ok := store.KVPrefixEnd(p.Prefix); ok {
		q += ` AND key < $5`
		args = append(args, limit, end)
	} else {
		args = append(args, limit)
	}
	q += ` ORDER BY key LIMIT $4`

	b := &pgx.Batch{}
	b.Queue(`SELECT EXISTS (SELECT 1 FROM kv_namespaces WHERE name = $1)`, p.Namespace)
	b.Queue(q, args...)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	var exists bool
	if err := br.QueryRow().Scan(&exists); err != nil {
		return nil, fmt.Errorf("kv list %s: %w", p.Namespace, err)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("kv list %s: %w", p.Namespace, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (record.KVEntry, error) {
		var e record.KVEntry
		var expires *time.Time
		if err := row.Scan(&e.Key, &e.Value, &expires, &e.UpdatedAt); err != nil {
			return e, err
		}
		if e.Value == nil {
			e.Value = []byte{}
		}
		if expires != nil {
			e.ExpiresAt = utc(*expires)
		}
		e.UpdatedAt = utc(e.UpdatedAt)
		return e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("kv list %s: %w", p.Namespace, err)
	}
	if !exists {
		return nil, fmt.Errorf("kv namespace %s: %w", p.Namespace, store.ErrNotFound)
	}
	return nilIfEmpty(out), nil
}

// expiredBatch bounds the entries one housekeeping statement deletes, so
// that no transaction holds many row locks or grows large.
const expiredBatch = 5000

// KVDeleteExpired removes every expired entry, found through the partial
// index on expires_at, in statements of up to expiredBatch entries. SKIP
// LOCKED: an entry a put is rewriting right now is left to the next run.
func (s *Store) KVDeleteExpired(ctx context.Context) (int64, error) {
	now := s.now()
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM kv_entries WHERE ctid = ANY (ARRAY(
			SELECT ctid FROM kv_entries WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`, now, expiredBatch)
		if err != nil {
			return total, fmt.Errorf("delete expired kv entries: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < expiredBatch {
			return total, nil
		}
	}
}

// SecretPut stores a secret's ciphertext, replacing any earlier value.
func (s *Store) SecretPut(ctx context.Context, project, name string, ciphertext []byte) error {
	if err := store.CheckSecretProject(project); err != nil {
		return fmt.Errorf("put secret %s: %w", name, err)
	}
	if err := store.CheckSecretName(name); err != nil {
		return fmt.Errorf("put secret: %w", err)
	}
	if ciphertext == nil {
		ciphertext = []byte{}
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO secrets (project, name, ciphertext, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (project, name) DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = excluded.updated_at`,
		project, name, ciphertext, s.now()); err != nil {
		return fmt.Errorf("put secret %s of project %s: %w", name, project, err)
	}
	return nil
}

// SecretGet returns a secret's ciphertext.
func (s *Store) SecretGet(ctx context.Context, project, name string) ([]byte, error) {
	if err := store.CheckSecretName(name); err != nil {
		return nil, fmt.Errorf("get secret: %w", err)
	}
	var ct []byte
	err := s.pool.QueryRow(ctx, `SELECT ciphertext FROM secrets WHERE project = $1 AND name = $2`, project, name).Scan(&ct)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("secret %s of project %s: %w", name, project, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get secret %s of project %s: %w", name, project, err)
	}
	if ct == nil {
		ct = []byte{}
	}
	return ct, nil
}

// SecretList returns every secret's project, name and update time, sorted
// by project and name.
func (s *Store) SecretList(ctx context.Context) ([]record.SecretInfo, error) {
	rows, err := s.pool.Query(ctx, `SELECT project, name, updated_at FROM secrets ORDER BY project COLLATE "C", name COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (record.SecretInfo, error) {
		var si record.SecretInfo
		err := row.Scan(&si.Project, &si.Name, &si.UpdatedAt)
		si.UpdatedAt = utc(si.UpdatedAt)
		return si, err
	})
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	return nilIfEmpty(out), nil
}

// SecretDelete removes a secret and reports whether it existed.
func (s *Store) SecretDelete(ctx context.Context, project, name string) (bool, error) {
	if err := store.CheckSecretName(name); err != nil {
		return false, fmt.Errorf("delete secret: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM secrets WHERE project = $1 AND name = $2`, project, name)
	if err != nil {
		return false, fmt.Errorf("delete secret %s of project %s: %w", name, project, err)
	}
	return tag.RowsAffected() > 0, nil
}
