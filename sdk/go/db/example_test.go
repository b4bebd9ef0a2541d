package db_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/stratahq/strata/sdk/go/db"
)

// A handler that reads one row and writes one in a transaction. It runs
// inside a Strata function whose manifest binds a database as "db".
func Example() {
	users := db.Open("db")
	_ = func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var name string
		var email db.NullString
		err := users.QueryRow(ctx, "SELECT name, email FROM users WHERE id = $1", r.PathValue("id")).Scan(&name, &email)
		var dbErr *db.Error
		switch {
		case errors.Is(err, db.ErrNoRows):
			http.NotFound(w, r)
			return
		case errors.As(err, &dbErr):
			http.Error(w, dbErr.Code, http.StatusInternalServerError)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintln(w, name, email.V)
	}
}

func ExampleDB_Begin() {
	accounts := db.Open("db")
	transfer := func(ctx context.Context, from, to, cents int64) error {
		tx, err := accounts.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx) // after Commit: ErrTxDone, ignored
		if _, err := tx.Exec(ctx, "UPDATE accounts SET cents = cents - $1 WHERE id = $2", cents, from); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE accounts SET cents = cents + $1 WHERE id = $2", cents, to); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}
	// Outside a Strata function there is no host to run it.
	err := transfer(context.Background(), 1, 2, 500)
	fmt.Println(err != nil)
	// Output: true
}
