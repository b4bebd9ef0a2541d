package apitype

import (
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/sdk/go/wire"
)

// SecretEntry is a secret as listed: its project, its name and when it
// was set, never its value. Project "" is the legacy namespace (secrets
// from before they were per project that no project used; no function
// can read them).
type SecretEntry struct {
	Project   string    `json:"project"`
	Name      string    `json:"name"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Database is one entry of GET /databases: the record as the store keeps
// it (an alias of record.DatabaseConfig; its URL holds ${secret:…}
// references only).
type Database = record.DatabaseConfig

// SQLValue and SQLResponse are the SQL values and answers of the guest
// ABI (package wire), which a query through the API shares: aliases, so
// `strata db shell` reads the same JSON a function does.
type (
	SQLValue    = wire.SQLValue
	SQLResponse = wire.SQLResponse
)

// QueryRequest is the body of POST /databases/{name}/query; the answer is
// an SQLResponse.
type QueryRequest struct {
	SQL  string     `json:"sql"`
	Args []SQLValue `json:"args,omitempty"`
}

// Migration is one plain .sql file of a database's migrations. It has no
// JSON names: its fields travel as named in Go ("Name", "SQL").
type Migration struct {
	Name string // e.g. "0001_create_users.sql"; migrations run in name order
	SQL  string
}

// MigrateRequest is the body of POST /databases/{name}/migrate.
type MigrateRequest struct {
	Files []Migration `json:"files"`
}

// MigrateResult answers POST /databases/{name}/migrate: the files applied
// by this call, in order.
type MigrateResult struct {
	Applied []string `json:"applied"`
}
