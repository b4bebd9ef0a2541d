// Command release-stock is the saga's compensation: when the charge fails,
// the workflow calls it to give back the stock that reserve-stock took.
//
// It releases every reservation of the execution that is not released yet
// and marks them released in the same transaction, so running it twice (a
// retried attempt) gives nothing back the second time.
package main

import (
	"context"
	"errors"
	"fmt"

	"order-fulfilment/shop"

	"github.com/stratahq/strata/sdk/go/db"
	"github.com/stratahq/strata/sdk/go/flow"
)

var database = db.Open("db")

func init() { flow.Activity(release) }

func release(ctx context.Context, r shop.Reservation) (shop.Reservation, error) {
	step, ok := flow.ActivityInfo(ctx)
	if !ok {
		return r, flow.NonRetryable(errors.New("release-stock runs as a workflow step, not on its own"))
	}
	tx, err := database.Begin(ctx)
	if err != nil {
		return r, err
	}
	defer tx.Rollback(ctx) // after Commit it only reports ErrTxDone

	rows, err := tx.Query(ctx, "select key, sku, qty from reservations where execution = $1 and released = 0 order by key", step.Execution)
	if err != nil {
		return r, err
	}
	type held struct {
		key, sku string
		qty      int
	}
	var all []held
	for rows.Next() {
		var h held
		if err := rows.Scan(&h.key, &h.sku, &h.qty); err != nil {
			return r, err
		}
		all = append(all, h)
	}
	if err := rows.Err(); err != nil {
		return r, err
	}
	for _, h := range all {
		if _, err := tx.Exec(ctx, "update stock set qty = qty + $1 where sku = $2", h.qty, h.sku); err != nil {
			return r, err
		}
		if _, err := tx.Exec(ctx, "update reservations set released = 1 where key = $1", h.key); err != nil {
			return r, err
		}
	}
	if err := tx.QueryRow(ctx, "select qty from stock where sku = $1", r.SKU).Scan(&r.Left); err != nil {
		return r, err
	}
	if err := tx.Commit(ctx); err != nil {
		return r, err
	}
	if len(all) == 0 {
		fmt.Printf("order %s: nothing to release (released before, or never reserved)\n", r.Order)
	}
	for _, h := range all {
		fmt.Printf("order %s: released %d %s (reservation %s)\n", r.Order, h.qty, h.sku, h.key)
	}
	return r, nil
}

func main() {}
