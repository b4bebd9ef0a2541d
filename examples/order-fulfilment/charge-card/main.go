// Command charge-card is the saga's payment step, against a pretend card
// processor whose test cards behave like a real provider's:
//
//	4000 0000 0000 0002  declined: a CardDeclined error, marked
//	                     non-retryable (retrying a decline does not help)
//	4000 0000 0000 0119  a processing error on the first two attempts of
//	                     the step, then success: the workflow's retry
//	                     policy carries it through
//	any other number     charged
//
// The charge id is derived from the step's idempotency key, the way a real
// provider answers a repeated request with the same key: however often the
// step runs, the order is charged once.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"order-fulfilment/shop"

	"github.com/stratahq/strata/sdk/go/flow"
)

func init() { flow.Activity(charge) }

func charge(ctx context.Context, c shop.Charge) (shop.Payment, error) {
	step, ok := flow.ActivityInfo(ctx)
	if !ok {
		return shop.Payment{}, flow.NonRetryable(errors.New("charge-card runs as a workflow step, not on its own"))
	}
	card := strings.ReplaceAll(c.Card, " ", "")
	if len(card) < 12 || strings.Trim(card, "0123456789") != "" {
		return shop.Payment{}, flow.NonRetryable(flow.NewError("InvalidCard", "a card number is 12 to 19 digits"))
	}
	last4 := card[len(card)-4:]
	switch {
	case strings.HasSuffix(card, "0002"):
		fmt.Printf("order %s: card ending %s declined\n", c.Order, last4)
		return shop.Payment{}, flow.NonRetryable(flow.NewError("CardDeclined",
			fmt.Sprintf("card ending %s was declined", last4)))
	case strings.HasSuffix(card, "0119") && step.Attempt <= 2:
		fmt.Printf("order %s: processor error on attempt %d\n", c.Order, step.Attempt)
		return shop.Payment{}, flow.NewError("ProcessingError",
			fmt.Sprintf("the card processor did not answer (attempt %d)", step.Attempt))
	}
	sum := sha256.Sum256([]byte(flow.IdempotencyKey(ctx)))
	p := shop.Payment{ChargeID: "ch_" + hex.EncodeToString(sum[:8]), AmountCents: c.AmountCents, Attempt: step.Attempt}
	fmt.Printf("order %s: charged %d cents to the card ending %s: %s (attempt %d)\n", c.Order, c.AmountCents, last4, p.ChargeID, step.Attempt)
	return p, nil
}

func main() {}
