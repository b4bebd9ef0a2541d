// Command orders confirms an order once its stock is reserved and its
// card charged (the state machine's last Task, POST / with {"action":
// "confirm", "order", "reservation", "payment"}), and shows an order's
// ledger: GET /orders/{id} answers every step run for it, in order.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"

	"order-saga-asl/ledger"

	strata "github.com/stratahq/strata/sdk/go"
)

type confirmation struct {
	Order       string          `json:"order"`
	Status      string          `json:"status"`
	Reservation json.RawMessage `json:"reservation"`
	Payment     json.RawMessage `json:"payment"`
}

func init() {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{$}", confirm) // the Task
	mux.HandleFunc("GET /orders/{id}", show)
	strata.HandleHTTP(mux)
}

func confirm(w http.ResponseWriter, r *http.Request) {
	var c confirmation
	if err := json.NewDecoder(r.Body).Decode(&c); err != nil || c.Order == "" {
		ledger.Fail(w, "BadRequest", `want {"action": "confirm", "order", "reservation", "payment"}`)
		return
	}
	if err := ledger.Record(r.Context(), c.Order, "confirm", 0); err != nil {
		ledger.Fail(w, "LedgerError", err.Error())
		return
	}
	fmt.Printf("order %s: confirmed\n", c.Order)
	c.Status = "confirmed"
	ledger.Reply(w, http.StatusOK, c)
}

func show(w http.ResponseWriter, r *http.Request) {
	entries, err := ledger.List(r.Context(), r.PathValue("id"))
	if err != nil {
		ledger.Reply(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	ledger.Reply(w, http.StatusOK, map[string]any{"order": r.PathValue("id"), "ledger": entries})
}

func main() {}
