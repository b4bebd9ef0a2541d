package store

import (
	"context"
	"time"
)

// Binding kinds.
const (
	BindingSQL = "sql"
	BindingKV  = "kv"
)

// Database engines of SQL bindings.
const (
	EngineSQLite   = "sqlite"
	EnginePostgres = "postgres"
)

// DatabaseConfig is a SQL database a project declares under databases:.
// Names are unique across projects.
type DatabaseConfig struct {
	Name    string `json:"name"`
	Project string `json:"project"`
	Engine  string `json:"engine"` // EngineSQLite (a file Strata manages) or EnginePostgres
	// URL of a PostgreSQL database; may reference secrets as
	// ${secret:NAME}, resolved by the platform when it connects and never
	// stored resolved.
	URL string `json:"url,omitempty"`
	// MaxConnections is a hard ceiling on connections Strata opens to this
	// database, whatever the number of instances (default 10).
	MaxConnections int `json:"max_connections"`
}

// KVNamespace is a key-value namespace a project declares under kv:.
// Names are unique across projects.
type KVNamespace struct {
	Name    string `json:"name"`
	Project string `json:"project"`
}

// Binding gives a function access to a resource under a name of its own
// (FunctionConfig.Bindings).
type Binding struct {
	Name     string `json:"name"`     // what the guest calls it: db.Open("db")
	Kind     string `json:"kind"`     // BindingSQL or BindingKV
	Resource string `json:"resource"` // the database or namespace name
}

// BindingsApplyParams are the binding resources of a project's deploy
// (carried in DeploymentApplyParams.Bindings, applied in the same
// transaction): the complete sets afterwards. Removing a KV namespace
// deletes its entries; removing a database forgets its configuration (a
// SQLite file is left on disk, data is never deleted by a deploy). A name
// owned by another project is ErrConflict.
type BindingsApplyParams struct {
	Databases []DatabaseConfig
	KV        []KVNamespace
}

// KVEntry is one key of a namespace.
type KVEntry struct {
	Key       string
	Value     []byte
	ExpiresAt time.Time // zero: never
	UpdatedAt time.Time
}

// KVListParams lists keys with a prefix, in key order, after a cursor.
type KVListParams struct {
	Namespace string
	Prefix    string
	After     string // list keys greater than this (the last key of the previous page)
	Limit     int    // 0: 1000
}

// SecretInfo describes a secret without its value.
type SecretInfo struct {
	Name      string
	UpdatedAt time.Time
}

// Bindings is the storage of databases, KV namespaces and their entries,
// and secrets. Part of Store; both backends implement it and storetest
// specifies it.
type Bindings interface {
	DatabaseGet(ctx context.Context, name string) (*DatabaseConfig, error)
	DatabaseList(ctx context.Context) ([]DatabaseConfig, error)
	KVNamespaceList(ctx context.Context) ([]KVNamespace, error)

	// KVGet returns a live entry; an expired or missing key is ErrNotFound.
	// A write is visible to the next read (read-after-write).
	KVGet(ctx context.Context, namespace, key string) (*KVEntry, error)
	// KVPut stores value under key; ttl > 0 makes it expire. Unknown
	// namespace: ErrNotFound.
	KVPut(ctx context.Context, namespace, key string, value []byte, ttl time.Duration) error
	// KVDelete removes a key and reports whether it existed (live).
	KVDelete(ctx context.Context, namespace, key string) (bool, error)
	// KVList lists live keys with values, in key order.
	KVList(ctx context.Context, p KVListParams) ([]KVEntry, error)
	// KVDeleteExpired removes expired entries (housekeeping).
	KVDeleteExpired(ctx context.Context) (int64, error)

	// SecretPut stores an encrypted secret value (the store never sees
	// the plaintext; package bindings encrypts).
	SecretPut(ctx context.Context, name string, ciphertext []byte) error
	// SecretGet returns the ciphertext; missing: ErrNotFound.
	SecretGet(ctx context.Context, name string) ([]byte, error)
	SecretList(ctx context.Context) ([]SecretInfo, error)
	SecretDelete(ctx context.Context, name string) (bool, error)
}
