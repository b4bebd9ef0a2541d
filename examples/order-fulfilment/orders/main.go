// Command orders runs the workflow "fulfil", a saga over four steps that
// are functions of their own:
//
//  1. reserve-stock takes the order's quantity off the SKU's stock;
//  2. charge-card charges the card (retried while the failure is
//     transient; a declined card is final);
//  3. if the charge failed: release-stock gives the stock back (the
//     compensation) and the workflow fails with the payment's error;
//  4. print-label prints a label for every parcel, all at once (flow.Map);
//
// and returns a receipt. The route POST /orders (manifest: workflow:
// fulfil) starts an execution per order; GET /stock/{sku}, served by this
// function too, shows what is left.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"order-fulfilment/shop"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/db"
	"github.com/stratahq/strata/sdk/go/flow"
)

func init() {
	flow.Workflow("fulfil", Fulfil)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /stock/{sku}", getStock)
	// Orchestrator invocations go to the workflow, other requests to mux.
	strata.HandleHTTP(flow.Handler(mux))
}

// Fulfil is the workflow. It is replayed from the top whenever something
// happens (a step finished, a retry is due), so it does no I/O of its own:
// every effect is a step, recorded in the execution's history.
func Fulfil(ctx flow.Context, o shop.Order) (shop.Receipt, error) {
	if err := check(o); err != nil {
		return shop.Receipt{}, flow.NewError("BadOrder", err.Error())
	}

	// Running out of stock is an answer, not a glitch: do not retry it.
	res := shop.Reservation{Order: o.ID, SKU: o.SKU, Qty: o.Qty}
	if err := flow.Call(ctx, "reserve-stock", res, &res,
		flow.Retry{Max: 5, Backoff: time.Second, NonRetryable: []string{"OutOfStock"}}); err != nil {
		return shop.Receipt{}, err
	}

	// A declined card is final; anything else (the provider timing out)
	// is tried again, up to four attempts in all.
	var pay shop.Payment
	charge := shop.Charge{Order: o.ID, Card: o.Card, AmountCents: o.Qty * shop.PriceCents}
	if err := flow.Call(ctx, "charge-card", charge, &pay,
		flow.Retry{Max: 4, Backoff: 500 * time.Millisecond, NonRetryable: []string{"CardDeclined"}}); err != nil {
		// Compensation. It must happen, so it gets a patient policy; the
		// execution then fails with the payment's error (its type, step
		// and function), which is what the caller wants to know.
		if rerr := flow.Call(ctx, "release-stock", res, nil,
			flow.Retry{Max: 10, Backoff: time.Second, MaxInterval: time.Minute}); rerr != nil {
			return shop.Receipt{}, fmt.Errorf("%w; and giving back the stock failed: %v", err, rerr)
		}
		return shop.Receipt{}, err
	}

	// Fan-out: one print-label step per parcel, all scheduled at once;
	// fan-in: Map returns when all are done, in parcel order.
	reqs := make([]shop.LabelRequest, len(o.Parcels))
	for i, p := range o.Parcels {
		reqs[i] = shop.LabelRequest{Order: o.ID, Index: i, Parcel: p}
	}
	labels, err := flow.Map[shop.LabelRequest, shop.Label](ctx, reqs, "print-label")
	if err != nil {
		return shop.Receipt{}, err
	}
	return shop.Receipt{Order: o.ID, ChargeID: pay.ChargeID, Labels: labels}, nil
}

// check validates an order before any step runs.
func check(o shop.Order) error {
	switch {
	case o.ID == "":
		return errors.New(`order has no "id"`)
	case o.SKU == "":
		return errors.New(`order has no "sku"`)
	case o.Qty < 1:
		return fmt.Errorf(`order %s: "qty" must be at least 1, got %d`, o.ID, o.Qty)
	case o.Card == "":
		return fmt.Errorf(`order %s has no "card"`, o.ID)
	case len(o.Parcels) == 0:
		return fmt.Errorf(`order %s has no "parcels"`, o.ID)
	}
	return nil
}

var database = db.Open("db")

// getStock answers GET /stock/{sku}: {"sku": "widget", "qty": 98}.
func getStock(w http.ResponseWriter, r *http.Request) {
	sku := r.PathValue("sku")
	var qty int
	err := database.QueryRow(r.Context(), "select qty from stock where sku = $1", sku).Scan(&qty)
	switch {
	case errors.Is(err, db.ErrNoRows):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no SKU " + sku})
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"sku": sku, "qty": qty})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v) // maps of strings and ints always encode
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func main() {}
