// Command payments charges an order's card ({"action": "charge", "order",
// "card", "amount_cents"}) and refunds it ({"action": "refund", "order"}),
// the compensation the state machine runs when the order fails. A card
// ending in 0000 is declined: the Task fails with CardDeclined and nothing
// is charged. Both record what they did in the ledger.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"order-saga-asl/ledger"

	strata "github.com/stratahq/strata/sdk/go"
)

type request struct {
	Action      string `json:"action"`
	Order       string `json:"order"`
	Card        string `json:"card"`
	AmountCents int    `json:"amount_cents"`
}

func init() { strata.HandleFunc(handle) }

func handle(w http.ResponseWriter, r *http.Request) {
	var req request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Order == "" {
		ledger.Fail(w, "BadRequest", `want {"action", "order", ...}`)
		return
	}
	ctx := r.Context()
	switch req.Action {
	case "charge":
		if strings.HasSuffix(req.Card, "0000") {
			fmt.Printf("order %s: card declined\n", req.Order)
			ledger.Fail(w, "CardDeclined", fmt.Sprintf("order %s: the card ending in 0000 was declined", req.Order))
			return
		}
		if err := ledger.Record(ctx, req.Order, "charge", req.AmountCents); err != nil {
			ledger.Fail(w, "LedgerError", err.Error())
			return
		}
		fmt.Printf("order %s: charged %d cents\n", req.Order, req.AmountCents)
		ledger.Reply(w, http.StatusOK, map[string]any{"charge_id": "ch_" + req.Order, "amount_cents": req.AmountCents})
	case "refund":
		n, err := ledger.Undo(ctx, req.Order, "charge", "refund")
		if err != nil {
			ledger.Fail(w, "LedgerError", err.Error())
			return
		}
		fmt.Printf("order %s: refunded %d cents\n", req.Order, n)
		ledger.Reply(w, http.StatusOK, map[string]any{"refunded_cents": n})
	default:
		ledger.Fail(w, "BadRequest", fmt.Sprintf("unknown action %q: charge or refund", req.Action))
	}
}

func main() {}
