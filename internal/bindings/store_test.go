package bindings

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// memStore is an in-memory BindingsStore: the store backends are tested
// against store.Bindings by storetest; here we only need its behaviour.
type memStore struct {
	mu      sync.Mutex
	dbs     map[string]record.DatabaseConfig
	kv      map[string]map[string]record.KVEntry // namespace -> key -> entry
	secrets map[string][]byte
	dbGets  int
	now     func() time.Time
}

var _ BindingsStore = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{dbs: map[string]record.DatabaseConfig{}, kv: map[string]map[string]record.KVEntry{},
		secrets: map[string][]byte{}, now: time.Now}
}

func (m *memStore) addDatabase(c record.DatabaseConfig) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dbs[c.Name] = c
}

func (m *memStore) addNamespace(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.kv[name] = map[string]record.KVEntry{}
}

func (m *memStore) DatabaseGet(ctx context.Context, name string) (*record.DatabaseConfig, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dbGets++
	c, ok := m.dbs[name]
	if !ok {
		return nil, fmt.Errorf("database %s: %w", name, store.ErrNotFound)
	}
	return &c, nil
}

func (m *memStore) KVGet(ctx context.Context, ns, key string) (*record.KVEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.kv[ns][key]
	if !ok || !e.ExpiresAt.IsZero() && !m.now().Before(e.ExpiresAt) {
		return nil, store.ErrNotFound
	}
	return &e, nil
}

func (m *memStore) KVPut(ctx context.Context, ns, key string, value []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.kv[ns]
	if !ok {
		return fmt.Errorf("namespace %s: %w", ns, store.ErrNotFound)
	}
	e := record.KVEntry{Key: key, Value: slices.Clone(value), UpdatedAt: m.now()}
	if ttl > 0 {
		e.ExpiresAt = m.now().Add(ttl)
	}
	n[key] = e
	return nil
}

func (m *memStore) KVDelete(ctx context.Context, ns, key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.kv[ns][key]
	delete(m.kv[ns], key)
	return ok && (e.ExpiresAt.IsZero() || m.now().Before(e.ExpiresAt)), nil
}

func (m *memStore) KVList(ctx context.Context, p store.KVListParams) ([]record.KVEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []record.KVEntry
	for k, e := range m.kv[p.Namespace] {
		if strings.HasPrefix(k, p.Prefix) && k > p.After && (e.ExpiresAt.IsZero() || m.now().Before(e.ExpiresAt)) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b record.KVEntry) int { return strings.Compare(a.Key, b.Key) })
	if p.Limit > 0 && len(out) > p.Limit {
		out = out[:p.Limit]
	}
	return out, nil
}

func (m *memStore) SecretPut(ctx context.Context, project, name string, ct []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.secrets[project+"/"+name] = slices.Clone(ct)
	return nil
}

func (m *memStore) SecretGet(ctx context.Context, project, name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ct, ok := m.secrets[project+"/"+name]
	if !ok {
		return nil, fmt.Errorf("secret %s: %w", name, store.ErrNotFound)
	}
	return slices.Clone(ct), nil
}
