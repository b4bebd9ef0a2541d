package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// applyBindings replaces project's databases and KV namespaces inside the
// deploy transaction. b has passed BindingsApplyParams.Validate.
func applyBindings(ctx context.Context, tx *sql.Tx, project string, b *store.BindingsApplyParams) error {
	names := make([]string, 0, len(b.Databases))
	for _, d := range b.Databases {
		maxConns := d.MaxConnections
		if maxConns == 0 {
			maxConns = store.DefaultMaxConnections
		}
		// As with queues: the WHERE leaves another project's row alone,
		// and no row changed means the name is taken.
		res, err := tx.ExecContext(ctx, `INSERT INTO databases (name, project, engine, url, max_connections) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET engine = excluded.engine, url = excluded.url, max_connections = excluded.max_connections
			WHERE databases.project = excluded.project`,
			d.Name, project, d.Engine, d.URL, maxConns)
		if err != nil {
			return fmt.Errorf("put database %s: %w", d.Name, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("put database %s: %w", d.Name, err)
		} else if n == 0 {
			return fmt.Errorf("database %s belongs to project %s: %w", d.Name, ownerOf(ctx, tx, "databases", d.Name), store.ErrConflict)
		}
		names = append(names, d.Name)
	}
	if err := deleteUnlisted(ctx, tx, "databases", project, names); err != nil {
		return fmt.Errorf("remove databases: %w", err)
	}

	names = names[:0]
	for _, n := range b.KV {
		res, err := tx.ExecContext(ctx, `INSERT INTO kv_namespaces (name, project) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET project = excluded.project WHERE kv_namespaces.project = excluded.project`,
			n.Name, project)
		if err != nil {
			return fmt.Errorf("put kv namespace %s: %w", n.Name, err)
		}
		if c, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("put kv namespace %s: %w", n.Name, err)
		} else if c == 0 {
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

func scanDatabase(sc scanner) (*record.DatabaseConfig, error) {
	var d record.DatabaseConfig
	if err := sc.Scan(&d.Name, &d.Project, &d.Engine, &d.URL, &d.MaxConnections); err != nil {
		return nil, err
	}
	return &d, nil
}

// DatabaseGet returns one database's configuration.
func (s *Store) DatabaseGet(ctx context.Context, name string) (*record.DatabaseConfig, error) {
	d, err := scanDatabase(s.r.QueryRowContext(ctx, databaseSelect+` WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("database %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get database %s: %w", name, err)
	}
	return d, nil
}

// DatabaseList returns every database, sorted by name.
func (s *Store) DatabaseList(ctx context.Context) ([]record.DatabaseConfig, error) {
	rows, err := s.r.QueryContext(ctx, databaseSelect+` ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	defer rows.Close()
	var out []record.DatabaseConfig
	for rows.Next() {
		d, err := scanDatabase(rows)
		if err != nil {
			return nil, fmt.Errorf("list databases: %w", err)
		}
		out = append(out, *d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	return out, nil
}

// KVNamespaceList returns every KV namespace, sorted by name.
func (s *Store) KVNamespaceList(ctx context.Context) ([]record.KVNamespace, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT name, project FROM kv_namespaces ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list kv namespaces: %w", err)
	}
	defer rows.Close()
	var out []record.KVNamespace
	for rows.Next() {
		var n record.KVNamespace
		if err := rows.Scan(&n.Name, &n.Project); err != nil {
			return nil, fmt.Errorf("list kv namespaces: %w", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list kv namespaces: %w", err)
	}
	return out, nil
}

// namespaceExists tells a missing key from a missing namespace; q is the
// read pool or a transaction.
func namespaceExists(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, namespace string) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM kv_namespaces WHERE name = ?`, namespace).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// KVGet returns a live entry. Reads go to the read pool: WAL readers see
// every transaction committed before they start, so a put acknowledged by
// the writer is visible to the next get.
func (s *Store) KVGet(ctx context.Context, namespace, key string) (*record.KVEntry, error) {
	if err := store.CheckKVKey(key); err != nil {
		return nil, fmt.Errorf("kv get %s/%s: %w", namespace, key, err)
	}
	e := record.KVEntry{Key: key}
	var expires sql.NullInt64
	var updated int64
	err := s.r.QueryRowContext(ctx, `SELECT value, expires_at, updated_at FROM kv_entries
		WHERE namespace = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)`,
		namespace, key, micros(s.now())).Scan(&e.Value, &expires, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		ok, err := namespaceExists(ctx, s.r, namespace)
		if err != nil {
			return nil, fmt.Errorf("kv get %s/%s: %w", namespace, key, err)
		}
		if !ok {
			return nil, fmt.Errorf("kv namespace %s: %w", namespace, store.ErrNotFound)
		}
		return nil, fmt.Errorf("kv key %s in %s: %w", key, namespace, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("kv get %s/%s: %w", namespace, key, err)
	}
	if e.Value == nil {
		e.Value = []byte{} // an empty value is a value
	}
	if expires.Valid {
		e.ExpiresAt = fromMicros(expires.Int64)
	}
	e.UpdatedAt = fromMicros(updated)
	return &e, nil
}

// KVPut stores value under key, replacing any entry (expired or not) and
// its expiry.
func (s *Store) KVPut(ctx context.Context, namespace, key string, value []byte, ttl time.Duration) error {
	if err := checkPut(key, value, ttl); err != nil {
		return fmt.Errorf("kv put %s/%s: %w", namespace, key, err)
	}
	now := s.now()
	var expires sql.NullInt64
	if ttl > 0 {
		expires = sql.NullInt64{Int64: micros(now.Add(ttl)), Valid: true}
	}
	if value == nil {
		value = []byte{} // nil would bind as NULL
	}
	_, err := s.exec(ctx, `INSERT INTO kv_entries (namespace, key, value, expires_at, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at,
			updated_at = excluded.updated_at`,
		namespace, key, value, expires, micros(now))
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
// is removed too but counts as absent.
func (s *Store) KVDelete(ctx context.Context, namespace, key string) (bool, error) {
	if err := store.CheckKVKey(key); err != nil {
		return false, fmt.Errorf("kv delete %s/%s: %w", namespace, key, err)
	}
	now := micros(s.now())
	var live bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var expires sql.NullInt64
		err := tx.QueryRowContext(ctx, `DELETE FROM kv_entries WHERE namespace = ? AND key = ? RETURNING expires_at`,
			namespace, key).Scan(&expires)
		if err == nil {
			live = !expires.Valid || expires.Int64 > now
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		ok, err := namespaceExists(ctx, tx, namespace)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("namespace %s: %w", namespace, store.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("kv delete %s/%s: %w", namespace, key, err)
	}
	return live, nil
}

// KVList lists live entries with p.Prefix after p.After, in key order. The
// scan is a range of the primary key: [max(prefix, after), prefix end).
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
		WHERE namespace = ? AND key ` + op + ` ? AND (expires_at IS NULL OR expires_at > ?)`
	args := []any{p.Namespace, from, micros(s.now())}
	if end, ok := store.KVPrefixEnd(p.Prefix); ok {
		q += ` AND key < ?`
		args = append(args, end)
	}
	q += ` ORDER BY key LIMIT ?`
	args = append(args, limit)

	// One read transaction, so that "namespace exists" and the listing
	// see the same snapshot.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("kv list %s: %w", p.Namespace, err)
	}
	defer tx.Rollback()
	ok, err := namespaceExists(ctx, tx, p.Namespace)
	if err != nil {
		return nil, fmt.Errorf("kv list %s: %w", p.Namespace, err)
	}
	if !ok {
		return nil, fmt.Errorf("kv namespace %s: %w", p.Namespace, store.ErrNotFound)
	}
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("kv list %s: %w", p.Namespace, err)
	}
	defer rows.Close()
	var out []record.KVEntry
	for rows.Next() {
		var e record.KVEntry
		var expires sql.NullInt64
		var updated int64
		if err := rows.Scan(&e.Key, &e.Value, &expires, &updated); err != nil {
			return nil, fmt.Errorf("kv list %s: %w", p.Namespace, err)
		}
		if e.Value == nil {
			e.Value = []byte{}
		}
		if expires.Valid {
			e.ExpiresAt = fromMicros(expires.Int64)
		}
		e.UpdatedAt = fromMicros(updated)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("kv list %s: %w", p.Namespace, err)
	}
	return out, nil
}

// expiredBatch bounds the entries one housekeeping transaction deletes, so
// that puts (which wait for the single writer) are never held up by a
// large expiry for long.
const expiredBatch = 5000

// KVDeleteExpired removes every expired entry, found through the partial
// index on expires_at, in transactions of up to expiredBatch entries.
func (s *Store) KVDeleteExpired(ctx context.Context) (int64, error) {
	now := micros(s.now())
	var total int64
	for {
		res, err := s.exec(ctx, `DELETE FROM kv_entries WHERE rowid IN (
			SELECT rowid FROM kv_entries WHERE expires_at <= ? LIMIT ?)`, now, expiredBatch)
		if err != nil {
			return total, fmt.Errorf("delete expired kv entries: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("delete expired kv entries: %w", err)
		}
		total += n
		if n < expiredBatch {
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
	if _, err := s.exec(ctx, `INSERT INTO secrets (project, name, ciphertext, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (project, name) DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = excluded.updated_at`,
		project, name, ciphertext, micros(s.now())); err != nil {
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
	err := s.r.QueryRowContext(ctx, `SELECT ciphertext FROM secrets WHERE project = ? AND name = ?`, project, name).Scan(&ct)
	if errors.Is(err, sql.ErrNoRows) {
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
	rows, err := s.r.QueryContext(ctx, `SELECT project, name, updated_at FROM secrets ORDER BY project, name`)
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	defer rows.Close()
	var out []record.SecretInfo
	for rows.Next() {
		var si record.SecretInfo
		var updated int64
		if err := rows.Scan(&si.Project, &si.Name, &updated); err != nil {
			return nil, fmt.Errorf("list secrets: %w", err)
		}
		si.UpdatedAt = fromMicros(updated)
		out = append(out, si)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	return out, nil
}

// SecretDelete removes a secret and reports whether it existed.
func (s *Store) SecretDelete(ctx context.Context, project, name string) (bool, error) {
	if err := store.CheckSecretName(name); err != nil {
		return false, fmt.Errorf("delete secret: %w", err)
	}
	res, err := s.exec(ctx, `DELETE FROM secrets WHERE project = ? AND name = ?`, project, name)
	if err != nil {
		return false, fmt.Errorf("delete secret %s of project %s: %w", name, project, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("delete secret %s of project %s: %w", name, project, err)
	}
	return n > 0, nil
}
