// Command sqlcstyle is the test guest of db.OpenSQL: code shaped as sqlc
// generates it (a Queries over a DBTX interface, WithTx) runs on the
// *sql.DB the SDK gives, against the function's SQL binding "db" (table
// items: id INTEGER PRIMARY KEY, name TEXT UNIQUE, note TEXT, data BLOB,
// created DATETIME, qty INTEGER, or PostgreSQL's equivalents). POST /run runs a scenario and answers
// what it observed as JSON.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/db"
)

// DBTX is sqlc's interface over *sql.DB and *sql.Tx.
type DBTX interface {
	ExecContext(context.Context, string, ...interface{}) (sql.Result, error)
	PrepareContext(context.Context, string) (*sql.Stmt, error)
	QueryContext(context.Context, string, ...interface{}) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...interface{}) *sql.Row
}

type Queries struct{ db DBTX }

func New(db DBTX) *Queries                    { return &Queries{db: db} }
func (q *Queries) WithTx(tx *sql.Tx) *Queries { return &Queries{db: tx} }

type Item struct {
	ID      int64
	Name    string
	Note    sql.NullString
	Data    []byte
	Created time.Time
	Qty     sql.NullInt64
}

const createItem = `INSERT INTO items (name, note, data, created, qty) VALUES ($1, $2, $3, $4, $5) RETURNING id`

type CreateItemParams struct {
	Name    string
	Note    sql.NullString
	Data    []byte
	Created time.Time
	Qty     sql.NullInt64
}

func (q *Queries) CreateItem(ctx context.Context, arg CreateItemParams) (int64, error) {
	row := q.db.QueryRowContext(ctx, createItem, arg.Name, arg.Note, arg.Data, arg.Created, arg.Qty)
	var id int64
	err := row.Scan(&id)
	return id, err
}

const renameItem = `UPDATE items SET name = $2 WHERE name = $1`

func (q *Queries) RenameItem(ctx context.Context, from, to string) (int64, error) {
	res, err := q.db.ExecContext(ctx, renameItem, from, to)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

const getItem = `SELECT id, name, note, data, created, qty FROM items WHERE name = $1`

func (q *Queries) GetItem(ctx context.Context, name string) (Item, error) {
	row := q.db.QueryRowContext(ctx, getItem, name)
	var i Item
	err := row.Scan(&i.ID, &i.Name, &i.Note, &i.Data, &i.Created, &i.Qty)
	return i, err
}

const countItems = `SELECT count(*) FROM items`

func (q *Queries) CountItems(ctx context.Context) (int64, error) {
	var n int64
	err := q.db.QueryRowContext(ctx, countItems).Scan(&n)
	return n, err
}

const listNames = `SELECT name FROM items ORDER BY id`

func (q *Queries) ListNames(ctx context.Context) ([]string, error) {
	rows, err := q.db.QueryContext(ctx, listNames)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var items []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		items = append(items, s)
	}
	return items, rows.Err()
}

var conn = db.OpenSQL("db")

func init() {
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		out := map[string]any{}
		fail := func(step string, err error) {
			w.WriteHeader(http.StatusInternalServerError)
			_ = json.NewEncoder(w).Encode(map[string]string{"step": step, "error": err.Error()})
		}
		q := New(conn)
		created := time.Date(2026, 12, 3, 10, 4, 5, 123456000, time.UTC)
		id, err := q.CreateItem(ctx, CreateItemParams{Name: "widget", Data: []byte{0, 1, 255}, Created: created, Qty: sql.NullInt64{Int64: 7, Valid: true}})
		if err != nil {
			fail("create", err)
			return
		}
		out["id"] = id
		if _, err := q.CreateItem(ctx, CreateItemParams{Name: "gadjet", Note: sql.NullString{String: "fragile", Valid: true}, Created: created}); err != nil {
			fail("create gadget", err)
			return
		}
		renamed, err := q.RenameItem(ctx, "gadjet", "gadget")
		if err != nil {
			fail("rename", err)
			return
		}
		out["renamed"] = renamed
		it, err := q.GetItem(ctx, "widget")
		if err != nil {
			fail("get", err)
			return
		}
		out["widget"] = map[string]any{"id": it.ID, "name": it.Name, "noteValid": it.Note.Valid, "data": it.Data,
			"created": it.Created.UTC().Format(time.RFC3339Nano), "qty": it.Qty.Int64, "qtyValid": it.Qty.Valid}
		g, err := q.GetItem(ctx, "gadget")
		if err != nil {
			fail("get gadget", err)
			return
		}
		out["gadget"] = map[string]any{"note": g.Note.String, "dataNil": g.Data == nil, "qtyValid": g.Qty.Valid}
		_, err = q.GetItem(ctx, "nothing")
		out["noRows"] = errors.Is(err, sql.ErrNoRows)

		// A transaction rolled back leaves nothing; one committed stays.
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			fail("begin", err)
			return
		}
		if _, err := q.WithTx(tx).CreateItem(ctx, CreateItemParams{Name: "ghost", Created: created}); err != nil {
			fail("create ghost", err)
			return
		}
		inTx, _ := q.WithTx(tx).CountItems(ctx)
		out["countInTx"] = inTx
		if err := tx.Rollback(); err != nil {
			fail("rollback", err)
			return
		}
		tx, err = conn.BeginTx(ctx, nil)
		if err != nil {
			fail("begin 2", err)
			return
		}
		if _, err := q.WithTx(tx).CreateItem(ctx, CreateItemParams{Name: "kept", Created: created}); err != nil {
			fail("create kept", err)
			return
		}
		if err := tx.Commit(); err != nil {
			fail("commit", err)
			return
		}
		names, err := q.ListNames(ctx)
		if err != nil {
			fail("list", err)
			return
		}
		out["names"] = names

		// The database's errors come through as *db.Error.
		_, err = q.CreateItem(ctx, CreateItemParams{Name: "widget", Created: created})
		var dbErr *db.Error
		if errors.As(err, &dbErr) {
			out["duplicate"] = dbErr.Code
		}
		_, err = conn.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
		out["isolationRefused"] = err != nil
		_, err = conn.ExecContext(ctx, "SELECT $1", sql.Named("x", 1))
		out["namedRefused"] = err != nil
		out["ping"] = conn.PingContext(ctx) == nil
		_ = json.NewEncoder(w).Encode(out)
	})
}

func main() {}
