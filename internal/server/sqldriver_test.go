package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// TestSQLDriverInAGuest runs sqlc-shaped code (a Queries over DBTX,
// ExecContext, QueryRowContext, QueryContext, WithTx, NULLs, []byte,
// time.Time, sql.ErrNoRows) on db.OpenSQL's *sql.DB inside a real Wasm
// function bound to a real SQLite database.
func TestSQLDriverInAGuest(t *testing.T) {
	testSQLDriverInAGuest(t, apitype.DatabaseSpec{Name: "sqlcdb", Engine: record.EngineSQLite, MaxConnections: 4},
		`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, note TEXT, data BLOB, created DATETIME NOT NULL, qty INTEGER)`,
		"SQLITE_CONSTRAINT_UNIQUE")
}

// TestSQLDriverInAGuestOnPostgres is the same on a PostgreSQL database.
func TestSQLDriverInAGuestOnPostgres(t *testing.T) {
	pg := os.Getenv("STRATA_TEST_POSTGRES")
	if pg == "" {
		t.Skip("STRATA_TEST_POSTGRES not set")
	}
	testSQLDriverInAGuest(t, apitype.DatabaseSpec{Name: "sqlcdb", Engine: record.EnginePostgres, URL: withSearchPath(pg, testSchema(t, pg)), MaxConnections: 4},
		`CREATE TABLE items (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE, note TEXT, data BYTEA, created TIMESTAMPTZ NOT NULL, qty BIGINT)`,
		"23505")
}

func testSQLDriverInAGuest(t *testing.T, database apitype.DatabaseSpec, ddl, duplicateCode string) {
	n := startNode(t, "")
	ctx := context.Background()
	wasm := wasmtest.BuildGuest(t, "testdata/sqlcstyle")
	sum := sha256.Sum256(wasm)
	sha := hex.EncodeToString(sum[:])
	_, err := n.c.UploadBlob(ctx, sha, wasm)
	require.NoError(t, err)
	cfg := cfgOf(record.KindReactor)
	cfg.TimeoutMS = 20000
	cfg.Bindings = []record.Binding{{Name: "db", Kind: record.BindingSQL, Resource: "sqlcdb"}}
	_, err = n.c.Deploy(ctx, apitype.Spec{
		Project:   "sqlc",
		Databases: []apitype.DatabaseSpec{database},
		Functions: []apitype.FunctionSpec{{Name: "sqlc", ModuleSHA256: sha, Config: cfg, Routes: routes("POST /run")}},
	}, false)
	require.NoError(t, err)
	_, err = n.c.Migrate(ctx, "sqlcdb", []apitype.Migration{{Name: "0001_items.sql", SQL: ddl}})
	require.NoError(t, err)

	resp, err := http.Post(n.url+"/run", "application/json", nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.JSONEq(t, `{
		"id": 1,
		"widget": {"id": 1, "name": "widget", "noteValid": false, "data": "AAH/", "created": "2026-12-03T10:04:05.123456Z", "qty": 7, "qtyValid": true},
		"gadget": {"note": "fragile", "dataNil": true, "qtyValid": false},
		"noRows": true,
		"countInTx": 3,
		"names": ["widget", "gadget", "kept"],
		"duplicate": "`+duplicateCode+`",
		"renamed": 1,
		"isolationRefused": true,
		"namedRefused": true,
		"ping": true
	}`, string(body))
}
