package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/stratahq/strata/internal/store/sqlstore"
)

// receiptToken is for flow.go, until the flow area moves to sqlstore.
func receiptToken() (string, error) { return sqlstore.ReceiptToken() }

// ownerOf and deleteUnlisted are for bindings.go, until that area moves to
// sqlstore.

// ownerOf names the project owning a row of table, for error messages.
func ownerOf(ctx context.Context, tx *sql.Tx, table, name string) string {
	var owner string
	if err := tx.QueryRowContext(ctx, `SELECT project FROM `+table+` WHERE name = ?`, name).Scan(&owner); err != nil {
		return "?"
	}
	return owner
}

// deleteUnlisted deletes project's rows of table whose name is not in keep.
func deleteUnlisted(ctx context.Context, tx *sql.Tx, table, project string, keep []string) error {
	list, err := json.Marshal(keep)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE project = ? AND name NOT IN (SELECT value FROM json_each(?))`,
		project, string(list))
	return err
}
