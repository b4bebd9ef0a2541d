package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratahq/strata/internal/store/sqlstore"
)

// querier is what both a pool and a transaction offer; for flow.go.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// receiptToken is for flow.go, until the flow area moves to sqlstore.
func receiptToken() (string, error) { return sqlstore.ReceiptToken() }

// ownerOf and deleteUnlisted are for bindings.go, until that area moves to
// sqlstore.

// ownerOf names the project owning a row of table, for error messages.
func ownerOf(ctx context.Context, tx pgx.Tx, table, name string) string {
	var owner string
	if err := tx.QueryRow(ctx, `SELECT project FROM `+table+` WHERE name = $1`, name).Scan(&owner); err != nil {
		return "?"
	}
	return owner
}

// deleteUnlisted deletes project's rows of table whose name is not in keep.
func deleteUnlisted(ctx context.Context, tx pgx.Tx, table, project string, keep []string) error {
	if keep == nil {
		keep = []string{}
	}
	_, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE project = $1 AND NOT (name = ANY($2::text[]))`, project, keep)
	return err
}
