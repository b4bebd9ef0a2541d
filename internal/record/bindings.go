package record

import "time"

// Binding kinds.
const (
	BindingSQL = "sql"
	BindingKV  = "kv"
	// BindingObject binds a durable object class (Resource is the class
	// name): the function may reach that class's objects through stubs.
	BindingObject = "object"
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

// KVEntry is one key of a namespace.
type KVEntry struct {
	Key       string
	Value     []byte
	ExpiresAt time.Time // zero: never
	UpdatedAt time.Time
}

// SecretInfo describes a secret without its value.
type SecretInfo struct {
	Project   string
	Name      string
	UpdatedAt time.Time
}
