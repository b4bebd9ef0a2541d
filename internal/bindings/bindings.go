package bindings

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// Sentinel errors; wrapped with context, so use errors.Is.
var (
	// ErrNoCaller: a guest-facing call was made for no invocation (a
	// nil *host.Call).
	ErrNoCaller = errors.New("no calling function")
	// ErrNotPermitted: the function did not declare the binding, secret
	// or host, or fetch refused the address.
	ErrNotPermitted = errors.New("not permitted")
	// ErrLimit: a result, body or value is over its size limit.
	ErrLimit = errors.New("limit exceeded")
	// ErrTimeout: no database connection became free before the deadline.
	ErrTimeout = errors.New("timed out")
	// ErrBadRequest: a malformed request (unknown op, unknown transaction).
	ErrBadRequest = errors.New("bad request")
)

// BindingsStore is the part of store.Bindings this package uses.
type BindingsStore interface {
	DatabaseGet(ctx context.Context, name string) (*record.DatabaseConfig, error)
	KVGet(ctx context.Context, namespace, key string) (*record.KVEntry, error)
	KVPut(ctx context.Context, namespace, key string, value []byte, ttl time.Duration) error
	KVDelete(ctx context.Context, namespace, key string) (bool, error)
	KVList(ctx context.Context, p store.KVListParams) ([]record.KVEntry, error)
	SecretPut(ctx context.Context, project, name string, ciphertext []byte) error
	SecretGet(ctx context.Context, project, name string) ([]byte, error)
}

var _ BindingsStore = store.Bindings(nil)

// Resolver looks up the addresses of a host name (*net.Resolver fits).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Dialer opens connections (*net.Dialer fits). Fetch only ever dials an
// IP address it has checked, never a name.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// bindingOf finds the calling function's binding name of the given kind.
func bindingOf(c *host.Call, name, kind string) (record.Binding, error) {
	for _, b := range c.Config.Bindings {
		if b.Name == name {
			if b.Kind != kind {
				return record.Binding{}, fmt.Errorf("function %s: binding %q is %s, not %s: %w", c, name, b.Kind, kind, ErrNotPermitted)
			}
			return b, nil
		}
	}
	return record.Binding{}, fmt.Errorf("function %s has no %s binding %q (declare it under bindings: in the manifest): %w", c, kind, name, ErrNotPermitted)
}

// checkCaller refuses a guest-facing call made for no invocation.
func checkCaller(c *host.Call, what string) error {
	if c == nil {
		return fmt.Errorf("%s: %w", what, ErrNoCaller)
	}
	return nil
}

// Default limits.
const (
	DefaultMaxRows        = 10_000
	DefaultMaxResultBytes = 4 << 20
	DefaultMaxFetchBody   = 6 << 20
	DefaultMaxConnections = 10
	maxFetchTimeout       = 30 * time.Second
)

// Config configures Bindings. Zero limits take the defaults above.
type Config struct {
	Store BindingsStore
	// DataDir holds SQLite databases (DataDir/databases/<name>.db) and, by
	// default, the secret key file.
	DataDir string
	// KeyFile is the secret key file (default DataDir/secret.key), created
	// with 32 random bytes on first start. Ignored when Key is set.
	KeyFile string
	// Key is the 32-byte AES-256 key of secrets (e.g. from
	// STRATA_SECRET_KEY, which the config package reads).
	Key      []byte
	Resolver Resolver // default net.DefaultResolver
	Dialer   Dialer   // default a net.Dialer with a 10 s timeout
	Logger   *slog.Logger

	MaxRows        int   // rows per SQL result
	MaxResultBytes int   // approximate bytes per SQL result
	MaxFetchBody   int64 // bytes of a fetch request or response body
}

// Bindings serves the binding host calls. It is safe for concurrent use.
type Bindings struct {
	cfg  Config
	log  *slog.Logger
	aead cipher.AEAD
	key  []byte // the secret key, for Derive; never leaves the package

	mu     sync.Mutex
	dbs    map[string]*database // by database name
	closed bool
	bg     sync.WaitGroup // closes of databases Refresh retired

	txMu  sync.Mutex
	txs   map[string]*openTx  // by tx id
	byInv map[string][]string // invocation id -> tx ids

	txGrace      time.Duration // see defaultTxGrace
	fetchPublic  *http.Client  // connections only to checked public addresses
	fetchPrivate *http.Client  // for FetchPrivate callers; never shares a connection with the above
}

// New checks cfg, loads or creates the secret key, and returns Bindings.
// Databases are opened on first use.
func New(ctx context.Context, cfg Config) (*Bindings, error) {
	if cfg.Store == nil {
		return nil, errors.New("new bindings: no store")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("new bindings: no data directory")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Dialer == nil {
		cfg.Dialer = &net.Dialer{Timeout: 10 * time.Second}
	}
	if cfg.MaxRows <= 0 {
		cfg.MaxRows = DefaultMaxRows
	}
	if cfg.MaxResultBytes <= 0 {
		cfg.MaxResultBytes = DefaultMaxResultBytes
	}
	if cfg.MaxFetchBody <= 0 {
		cfg.MaxFetchBody = DefaultMaxFetchBody
	}
	if cfg.KeyFile == "" {
		cfg.KeyFile = filepath.Join(cfg.DataDir, "secret.key")
	}
	key := cfg.Key
	if len(key) == 0 {
		var err error
		if key, err = loadOrCreateKey(cfg.KeyFile, cfg.Logger); err != nil {
			return nil, fmt.Errorf("new bindings: %w", err)
		}
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, fmt.Errorf("new bindings: %w", err)
	}
	b := &Bindings{
		cfg:   cfg,
		log:   cfg.Logger,
		aead:  aead,
		key:   key,
		dbs:   map[string]*database{},
		txs:   map[string]*openTx{},
		byInv: map[string][]string{},

		txGrace: defaultTxGrace,
	}
	b.fetchPublic = b.newFetchClient(false)
	b.fetchPrivate = b.newFetchClient(true)
	return b, nil
}

// Close rolls back open transactions and closes every pool. Idempotent.
func (b *Bindings) Close() error {
	b.txMu.Lock()
	var invs []string
	for inv := range b.byInv {
		invs = append(invs, inv)
	}
	b.txMu.Unlock()
	for _, inv := range invs {
		b.EndInvocation(inv)
	}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	dbs := b.dbs
	b.dbs = map[string]*database{}
	b.mu.Unlock()

	var errs []error
	names := make([]string, 0, len(dbs))
	for name := range dbs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		d := dbs[name]
		<-d.ready
		if d.eng != nil {
			if err := d.eng.close(); err != nil {
				errs = append(errs, fmt.Errorf("close database %s: %w", name, err))
			}
		}
	}
	b.bg.Wait()
	b.fetchPublic.CloseIdleConnections()
	b.fetchPrivate.CloseIdleConnections()
	return errors.Join(errs...)
}
