package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// BindingQueries are the statements on databases, KV namespaces and
// entries, and secrets.
type BindingQueries interface {
	// DatabaseUpsert creates or updates a database of d.Project and
	// reports false, changing nothing, when the name is another
	// project's.
	DatabaseUpsert(ctx context.Context, d record.DatabaseConfig) (bool, error)
	// DatabaseOwner returns the project owning a database.
	DatabaseOwner(ctx context.Context, name string) (string, error)
	// DatabaseDeleteUnlisted deletes project's databases not in keep.
	DatabaseDeleteUnlisted(ctx context.Context, project string, keep []string) error
	DatabaseGet(ctx context.Context, name string) (*record.DatabaseConfig, error)
	// DatabaseList returns every database, by name in byte order.
	DatabaseList(ctx context.Context) ([]record.DatabaseConfig, error)

	// KVNamespaceUpsert is DatabaseUpsert for a KV namespace.
	KVNamespaceUpsert(ctx context.Context, n record.KVNamespace) (bool, error)
	KVNamespaceOwner(ctx context.Context, name string) (string, error)
	// KVNamespaceDeleteUnlisted deletes project's namespaces not in keep,
	// their entries with them.
	KVNamespaceDeleteUnlisted(ctx context.Context, project string, keep []string) error
	// KVNamespaceList returns every namespace, by name in byte order.
	KVNamespaceList(ctx context.Context) ([]record.KVNamespace, error)
	KVNamespaceExists(ctx context.Context, name string) (bool, error)

	// KVGet returns the entry of key live at now, nil when there is none,
	// or ErrNotFound when the namespace does not exist: one statement.
	KVGet(ctx context.Context, namespace, key string, now time.Time) (*record.KVEntry, error)
	// KVPut replaces the entry e.Key of namespace; a missing namespace
	// fails on the foreign key.
	KVPut(ctx context.Context, namespace string, e record.KVEntry) error
	// KVDelete deletes key and reports whether the namespace exists,
	// whether an entry was deleted and its expiry (zero: never). One
	// statement where the dialect allows, else in the Write's transaction.
	KVDelete(ctx context.Context, namespace, key string) (nsExists, deleted bool, expires time.Time, err error)
	// KVList returns the live entries of one key range, by key.
	KVList(ctx context.Context, r KVRange) ([]record.KVEntry, error)
	// KVDeleteExpired deletes up to limit entries expired at now.
	KVDeleteExpired(ctx context.Context, now time.Time, limit int) (int64, error)

	// SecretPut inserts or replaces a secret.
	SecretPut(ctx context.Context, project, name string, ciphertext []byte, at time.Time) error
	SecretGet(ctx context.Context, project, name string) ([]byte, error)
	// SecretList returns every secret, by project then name in byte order.
	SecretList(ctx context.Context) ([]record.SecretInfo, error)
	SecretDelete(ctx context.Context, project, name string) (bool, error)
}

// KVRange is one listing: the entries of Namespace live at Now with keys in
// [From, End), at most Limit. One range of the primary key, so that the
// planner has a single range to seek.
type KVRange struct {
	Namespace string
	From, End string
	Now       time.Time
	Limit     int
}

// kvKeysEnd is greater than every valid key: the largest code point
// repeated past the longest key, the least valid UTF-8 (PostgreSQL
// checks) above all of them. It is the end of a range without a prefix.
var kvKeysEnd = strings.Repeat(string(rune(0x10FFFF)), store.KVMaxKeyBytes/4+1)

// applyBindings replaces project's databases and KV namespaces inside the
// deploy transaction. b has passed BindingsApplyParams.Validate.
func applyBindings(ctx context.Context, q Queries, project string, b *store.BindingsApplyParams) error {
	names := make([]string, 0, max(len(b.Databases), len(b.KV)))
	for _, d := range b.Databases {
		d.Project = project
		if d.MaxConnections == 0 {
			d.MaxConnections = store.DefaultMaxConnections
		}
		ok, err := q.DatabaseUpsert(ctx, d)
		if err != nil {
			return fmt.Errorf("put database %s: %w", d.Name, err)
		}
		if !ok {
			return fmt.Errorf("database %s belongs to project %s: %w", d.Name, ownerOrUnknown(q.DatabaseOwner(ctx, d.Name)), store.ErrConflict)
		}
		names = append(names, d.Name)
	}
	if err := q.DatabaseDeleteUnlisted(ctx, project, names); err != nil {
		return fmt.Errorf("remove databases: %w", err)
	}

	names = names[:0]
	for _, n := range b.KV {
		n.Project = project
		ok, err := q.KVNamespaceUpsert(ctx, n)
		if err != nil {
			return fmt.Errorf("put kv namespace %s: %w", n.Name, err)
		}
		if !ok {
			return fmt.Errorf("kv namespace %s belongs to project %s: %w", n.Name, ownerOrUnknown(q.KVNamespaceOwner(ctx, n.Name)), store.ErrConflict)
		}
		names = append(names, n.Name)
	}
	// Entries of namespaces no longer listed go with them (ON DELETE
	// CASCADE); a namespace declared again later starts empty.
	if err := q.KVNamespaceDeleteUnlisted(ctx, project, names); err != nil {
		return fmt.Errorf("remove kv namespaces: %w", err)
	}
	return nil
}

// ownerOrUnknown names an owner for an error message, "?" when the lookup
// failed: the conflict matters more than its details.
func ownerOrUnknown(project string, err error) string {
	if err != nil {
		return "?"
	}
	return project
}

// DatabaseGet returns one database's configuration.
func (s *Store) DatabaseGet(ctx context.Context, name string) (*record.DatabaseConfig, error) {
	defer s.op("DatabaseGet", time.Now())
	d, err := s.d.Read().DatabaseGet(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, store.NotFound("database", name)
	}
	if err != nil {
		return nil, fmt.Errorf("get database %s: %w", name, err)
	}
	return d, nil
}

// DatabaseList returns every database, sorted by name in byte order.
func (s *Store) DatabaseList(ctx context.Context) ([]record.DatabaseConfig, error) {
	defer s.op("DatabaseList", time.Now())
	ds, err := s.d.Read().DatabaseList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	return ds, nil
}

// KVNamespaceList returns every KV namespace, sorted by name in byte order.
func (s *Store) KVNamespaceList(ctx context.Context) ([]record.KVNamespace, error) {
	defer s.op("KVNamespaceList", time.Now())
	ns, err := s.d.Read().KVNamespaceList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list kv namespaces: %w", err)
	}
	return ns, nil
}

// KVGet returns a live entry. Reads see every commit made before they
// start, so a put acknowledged is visible to the next get.
func (s *Store) KVGet(ctx context.Context, namespace, key string) (*record.KVEntry, error) {
	defer s.op("KVGet", time.Now())
	if err := store.CheckKVKey(key); err != nil {
		return nil, fmt.Errorf("kv get %s/%s: %w", namespace, key, err)
	}
	e, err := s.d.Read().KVGet(ctx, namespace, key, s.nowUTC())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, store.NotFound("kv namespace", namespace)
	case err != nil:
		return nil, fmt.Errorf("kv get %s/%s: %w", namespace, key, err)
	case e == nil:
		return nil, fmt.Errorf("kv key %s in %s: %w", key, namespace, store.ErrNotFound)
	}
	if e.Value == nil {
		e.Value = []byte{} // an empty value is a value
	}
	return e, nil
}

// KVPut stores value under key, replacing any entry (expired or not) and
// its expiry, in one write.
func (s *Store) KVPut(ctx context.Context, namespace, key string, value []byte, ttl time.Duration) error {
	defer s.op("KVPut", time.Now())
	if err := checkPut(key, value, ttl); err != nil {
		return fmt.Errorf("kv put %s/%s: %w", namespace, key, err)
	}
	now := s.nowUTC()
	e := record.KVEntry{Key: key, Value: value, UpdatedAt: now}
	if ttl > 0 {
		e.ExpiresAt = now.Add(ttl).Truncate(time.Microsecond)
	}
	if e.Value == nil {
		e.Value = []byte{} // nil would bind as NULL
	}
	err := s.d.Write(ctx, func(q Queries) error { return q.KVPut(ctx, namespace, e) })
	if s.d.IsForeignKey(err) {
		return store.NotFound("kv namespace", namespace)
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
	defer s.op("KVDelete", time.Now())
	if err := store.CheckKVKey(key); err != nil {
		return false, fmt.Errorf("kv delete %s/%s: %w", namespace, key, err)
	}
	now := s.nowUTC()
	var nsExists, deleted bool
	var expires time.Time
	err := s.d.Write(ctx, func(q Queries) (err error) {
		nsExists, deleted, expires, err = q.KVDelete(ctx, namespace, key)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("kv delete %s/%s: %w", namespace, key, err)
	}
	if !nsExists {
		return false, store.NotFound("kv namespace", namespace)
	}
	return deleted && (expires.IsZero() || expires.After(now)), nil
}

// KVList lists live entries with p.Prefix after p.After, in key order: one
// range of the primary key, [max(prefix, after+1), prefix end). Keys hold no
// NUL, so the least key above After is After followed by U+0001.
func (s *Store) KVList(ctx context.Context, p store.KVListParams) ([]record.KVEntry, error) {
	defer s.op("KVList", time.Now())
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("kv list %s: %w", p.Namespace, err)
	}
	r := KVRange{Namespace: p.Namespace, From: p.Prefix, End: kvKeysEnd, Now: s.nowUTC(), Limit: p.Limit}
	if r.Limit == 0 {
		r.Limit = store.KVDefaultListLimit
	}
	if p.After != "" && p.After >= p.Prefix {
		r.From = p.After + "\x01"
	}
	if end, ok := store.KVPrefixEnd(p.Prefix); ok {
		r.End = end
	}
	q := s.d.Read()
	es, err := q.KVList(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("kv list %s: %w", p.Namespace, err)
	}
	if len(es) == 0 {
		// Entries exist only in an existing namespace: only an empty
		// listing needs to ask.
		ok, err := q.KVNamespaceExists(ctx, p.Namespace)
		if err != nil {
			return nil, fmt.Errorf("kv list %s: %w", p.Namespace, err)
		}
		if !ok {
			return nil, store.NotFound("kv namespace", p.Namespace)
		}
		return nil, nil
	}
	for i := range es {
		if es[i].Value == nil {
			es[i].Value = []byte{}
		}
	}
	return es, nil
}

// KVExpiredBatch bounds the entries one housekeeping write deletes, so
// that puts are never held up by a large expiry for long, and no write
// holds many row locks.
const KVExpiredBatch = 5000

// KVDeleteExpired removes every expired entry, in writes of up to
// KVExpiredBatch entries.
func (s *Store) KVDeleteExpired(ctx context.Context) (int64, error) {
	defer s.op("KVDeleteExpired", time.Now())
	now := s.nowUTC()
	var total int64
	for {
		var n int64
		err := s.d.Write(ctx, func(q Queries) (err error) {
			n, err = q.KVDeleteExpired(ctx, now, KVExpiredBatch)
			return err
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("delete expired kv entries: %w", err)
		}
		if n < KVExpiredBatch {
			return total, nil
		}
	}
}

// SecretPut stores a secret's ciphertext, replacing any earlier value.
func (s *Store) SecretPut(ctx context.Context, project, name string, ciphertext []byte) error {
	defer s.op("SecretPut", time.Now())
	if err := store.CheckSecretProject(project); err != nil {
		return fmt.Errorf("put secret %s: %w", name, err)
	}
	if err := store.CheckSecretName(name); err != nil {
		return fmt.Errorf("put secret: %w", err)
	}
	if ciphertext == nil {
		ciphertext = []byte{}
	}
	if err := s.d.Write(ctx, func(q Queries) error { return q.SecretPut(ctx, project, name, ciphertext, s.nowUTC()) }); err != nil {
		return fmt.Errorf("put secret %s of project %s: %w", name, project, err)
	}
	return nil
}

// SecretGet returns a secret's ciphertext.
func (s *Store) SecretGet(ctx context.Context, project, name string) ([]byte, error) {
	defer s.op("SecretGet", time.Now())
	if err := store.CheckSecretName(name); err != nil {
		return nil, fmt.Errorf("get secret: %w", err)
	}
	ct, err := s.d.Read().SecretGet(ctx, project, name)
	if errors.Is(err, store.ErrNotFound) {
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
	defer s.op("SecretList", time.Now())
	ss, err := s.d.Read().SecretList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	return ss, nil
}

// SecretDelete removes a secret and reports whether it existed.
func (s *Store) SecretDelete(ctx context.Context, project, name string) (bool, error) {
	defer s.op("SecretDelete", time.Now())
	if err := store.CheckSecretName(name); err != nil {
		return false, fmt.Errorf("delete secret: %w", err)
	}
	var ok bool
	err := s.d.Write(ctx, func(q Queries) (err error) { ok, err = q.SecretDelete(ctx, project, name); return err })
	if err != nil {
		return false, fmt.Errorf("delete secret %s of project %s: %w", name, project, err)
	}
	return ok, nil
}
