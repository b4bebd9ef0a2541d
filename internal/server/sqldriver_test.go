package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
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
		Databases: []apitype.DatabaseSpec{{Name: "sqlcdb", Engine: record.EngineSQLite, MaxConnections: 4}},
		Functions: []apitype.FunctionSpec{{Name: "sqlc", ModuleSHA256: sha, Config: cfg, Routes: routes("POST /run")}},
	}, false)
	require.NoError(t, err)
	_, err = n.c.Migrate(ctx, "sqlcdb", []apitype.Migration{{Name: "0001_items.sql", SQL: `CREATE TABLE items (
		id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, note TEXT, data BLOB, created DATETIME NOT NULL, qty INTEGER)`}})
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
		"duplicate": true,
		"isolationRefused": true,
		"namedRefused": true,
		"ping": true
	}`, string(body))
}
