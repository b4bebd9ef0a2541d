// Command stock reserves an order's stock ({"action": "reserve", "order",
// "sku", "qty"}) and releases it ({"action": "release", "order"}), the
// compensation the state machine runs when the order fails. Both record
// what they did in the ledger.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"

	"order-saga-asl/ledger"

	strata "github.com/stratahq/strata/sdk/go"
)

type request struct {
	Action string `json:"action"`
	Order  string `json:"order"`
	SKU    string `json:"sku"`
	Qty    int    `json:"qty"`
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
	case "reserve":
		if req.Qty <= 0 {
			ledger.Fail(w, "BadRequest", fmt.Sprintf("order %s: qty %d is not positive", req.Order, req.Qty))
			return
		}
		if err := ledger.Record(ctx, req.Order, "reserve", req.Qty); err != nil {
			ledger.Fail(w, "LedgerError", err.Error())
			return
		}
		fmt.Printf("order %s: reserved %d %s\n", req.Order, req.Qty, req.SKU)
		ledger.Reply(w, http.StatusOK, map[string]any{"sku": req.SKU, "reserved": req.Qty})
	case "release":
		n, err := ledger.Undo(ctx, req.Order, "reserve", "release")
		if err != nil {
			ledger.Fail(w, "LedgerError", err.Error())
			return
		}
		fmt.Printf("order %s: released %d\n", req.Order, n)
		ledger.Reply(w, http.StatusOK, map[string]any{"released": n})
	default:
		ledger.Fail(w, "BadRequest", fmt.Sprintf("unknown action %q: reserve or release", req.Action))
	}
}

func main() {}
