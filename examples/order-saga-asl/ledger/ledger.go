// Package ledger is what the saga's functions share: the record of what
// each step did to an order, in the SQLite database bound as "db" (one
// row per step run, never updated), and the Lambda-style answers of a
// Task.
package ledger

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/stratahq/strata/sdk/go/db"
)

// Entry is one row: a step (reserve, charge, confirm, release, refund)
// and the quantity or amount it moved.
type Entry struct {
	ID     int64  `json:"id"`
	Order  string `json:"order"`
	Step   string `json:"step"`
	Amount int    `json:"amount"`
}

var database = db.Open("db")

func ensure(ctx context.Context) error {
	_, err := database.Exec(ctx, `create table if not exists ledger (
		id integer primary key autoincrement,
		order_id text not null,
		step text not null,
		amount integer not null)`)
	return err
}

// Record appends a row for the step.
func Record(ctx context.Context, order, step string, amount int) error {
	if err := ensure(ctx); err != nil {
		return err
	}
	_, err := database.Exec(ctx, `insert into ledger (order_id, step, amount) values ($1, $2, $3)`, order, step, amount)
	return err
}

// Undo appends a row for the step undo that takes back what the step do
// moved for the order and was not taken back yet, and returns that
// amount: 0 when do never ran (or its effect was undone already), so
// running a compensation twice, or for a step that failed, gives nothing
// back twice. One statement, so it is atomic.
func Undo(ctx context.Context, order, do, undo string) (int, error) {
	if err := ensure(ctx); err != nil {
		return 0, err
	}
	res, err := database.Exec(ctx, `insert into ledger (order_id, step, amount)
		select $1, $3, coalesce(sum(case step when $2 then amount else -amount end), 0)
		from ledger where order_id = $1 and step in ($2, $3)`, order, do, undo)
	if err != nil {
		return 0, err
	}
	var amount int
	err = database.QueryRow(ctx, `select amount from ledger where id = $1`, res.LastInsertID).Scan(&amount)
	return amount, err
}

// List returns the order's rows in the order they were written.
func List(ctx context.Context, order string) ([]Entry, error) {
	if err := ensure(ctx); err != nil {
		return nil, err
	}
	rows, err := database.Query(ctx, `select id, order_id, step, amount from ledger where order_id = $1 order by id`, order)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.ID, &e.Order, &e.Step, &e.Amount); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Reply answers v as JSON with the status.
func Reply(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v) // plain structs and maps always encode
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// Fail fails the Task as a Lambda function does: a JSON body naming the
// errorType, which the state machine's Retry and Catch match.
func Fail(w http.ResponseWriter, errorType, message string) {
	Reply(w, http.StatusOK, map[string]string{"errorType": errorType, "errorMessage": message})
}
