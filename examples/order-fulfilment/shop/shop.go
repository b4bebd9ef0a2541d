// Package shop holds the types the workflow "fulfil" and its steps exchange:
// each step is its own function (its own Wasm module), and they all agree
// on these JSON shapes.
package shop

// Order is the workflow's input, as POST /orders or `strata workflow start
// fulfil` sends it.
type Order struct {
	ID      string   `json:"id"`
	SKU     string   `json:"sku"`
	Qty     int      `json:"qty"`
	Card    string   `json:"card"`
	Parcels []Parcel `json:"parcels"`
}

// Parcel is one box of an order; each gets a shipping label.
type Parcel struct {
	Ref      string  `json:"ref,omitempty"`
	WeightKg float64 `json:"weight_kg"`
}

// Reservation is what reserve-stock and release-stock take and answer.
type Reservation struct {
	Order string `json:"order"`
	SKU   string `json:"sku"`
	Qty   int    `json:"qty"`
	// Key is the reservation's idempotency key (reserve-stock's answer).
	Key string `json:"key,omitempty"`
	// Left is the stock of the SKU after the step.
	Left int `json:"left"`
}

// Charge is charge-card's input; Payment its answer.
type Charge struct {
	Order       string `json:"order"`
	Card        string `json:"card"`
	AmountCents int    `json:"amount_cents"`
}

// Payment is a successful charge.
type Payment struct {
	ChargeID    string `json:"charge_id"`
	AmountCents int    `json:"amount_cents"`
	Attempt     int    `json:"attempt"` // the attempt that succeeded
}

// LabelRequest is print-label's input: one parcel of one order.
type LabelRequest struct {
	Order  string `json:"order"`
	Index  int    `json:"index"` // the parcel's position in the order, from 0
	Parcel Parcel `json:"parcel"`
}

// Label is a printed shipping label.
type Label struct {
	Parcel   string `json:"parcel"`
	Tracking string `json:"tracking"`
}

// Receipt is the workflow's output.
type Receipt struct {
	Order    string  `json:"order"`
	ChargeID string  `json:"charge_id"`
	Labels   []Label `json:"labels"`
}

// PriceCents is what one unit costs: the demo has one price for all.
const PriceCents = 1250
