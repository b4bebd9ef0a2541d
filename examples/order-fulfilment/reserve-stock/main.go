// Command reserve-stock is the saga's first step: it takes an order's
// quantity off the SKU's stock.
//
// A step runs at least once: an attempt whose answer was lost (a crash, a
// timeout) runs again. So the reservation is recorded under the step's
// idempotency key in the same transaction as the stock change, and an
// attempt that finds its key already there answers what the first one did
// instead of reserving a second time.
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

func init() { flow.Activity(reserve) }

func reserve(ctx context.Context, r shop.Reservation) (shop.Reservation, error) {
	step, ok := flow.ActivityInfo(ctx)
	if !ok {
		return r, flow.NonRetryable(errors.New("reserve-stock runs as a workflow step, not on its own"))
	}
	r.Key = flow.IdempotencyKey(ctx)

	tx, err := database.Begin(ctx)
	if err != nil {
		return r, err
	}
	defer tx.Rollback(ctx) // after Commit it only reports ErrTxDone

	// Done before, by an attempt whose answer was lost?
	var done int
	err = tx.QueryRow(ctx, "select qty from reservations where key = $1", r.Key).Scan(&done)
	switch {
	case err == nil:
		r.Left, err = left(ctx, tx, r.SKU)
		fmt.Printf("order %s: %d %s already reserved by an earlier attempt (%s)\n", r.Order, done, r.SKU, r.Key)
		return r, err
	case !errors.Is(err, db.ErrNoRows):
		return r, err
	}

	res, err := tx.Exec(ctx, "update stock set qty = qty - $1 where sku = $2 and qty >= $1", r.Qty, r.SKU)
	if err != nil {
		return r, err
	}
	if res.RowsAffected == 0 {
		have, err := left(ctx, tx, r.SKU)
		if errors.Is(err, db.ErrNoRows) {
			return r, flow.NonRetryable(flow.NewError("UnknownSKU", fmt.Sprintf("there is no SKU %q", r.SKU)))
		}
		if err != nil {
			return r, err
		}
		return r, flow.NonRetryable(flow.NewError("OutOfStock",
			fmt.Sprintf("order %s wants %d %s, %d in stock", r.Order, r.Qty, r.SKU, have)))
	}
	if _, err := tx.Exec(ctx, "insert into reservations (key, execution, sku, qty) values ($1, $2, $3, $4)",
		r.Key, step.Execution, r.SKU, r.Qty); err != nil {
		return r, err
	}
	if r.Left, err = left(ctx, tx, r.SKU); err != nil {
		return r, err
	}
	if err := tx.Commit(ctx); err != nil {
		return r, err
	}
	fmt.Printf("order %s: reserved %d %s, %d left (%s, attempt %d)\n", r.Order, r.Qty, r.SKU, r.Left, r.Key, step.Attempt)
	return r, nil
}

func left(ctx context.Context, tx *db.Tx, sku string) (int, error) {
	var qty int
	err := tx.QueryRow(ctx, "select qty from stock where sku = $1", sku).Scan(&qty)
	return qty, err
}

func main() {}
