// Command print-label prints the shipping label of one parcel. The
// workflow runs it once per parcel of an order, all at once (flow.Map).
// The tracking number is derived from the step's idempotency key, so a
// retried attempt prints the same label.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"order-fulfilment/shop"

	"github.com/stratahq/strata/sdk/go/flow"
)

func init() { flow.Activity(printLabel) }

func printLabel(ctx context.Context, req shop.LabelRequest) (shop.Label, error) {
	key := flow.IdempotencyKey(ctx)
	if key == "" {
		return shop.Label{}, flow.NonRetryable(errors.New("print-label runs as a workflow step, not on its own"))
	}
	if req.Parcel.WeightKg <= 0 || req.Parcel.WeightKg > 30 {
		return shop.Label{}, flow.NonRetryable(flow.NewError("BadParcel",
			fmt.Sprintf("parcel %d of order %s weighs %v kg; a label takes 0 to 30 kg", req.Index, req.Order, req.Parcel.WeightKg)))
	}
	ref := req.Parcel.Ref
	if ref == "" {
		ref = fmt.Sprintf("%s-%d", req.Order, req.Index+1)
	}
	sum := sha256.Sum256([]byte(key))
	l := shop.Label{Parcel: ref, Tracking: fmt.Sprintf("STR%010d", binary.BigEndian.Uint64(sum[:8])%1e10)}
	fmt.Printf("order %s: label %s for parcel %s (%.1f kg)\n", req.Order, l.Tracking, ref, req.Parcel.WeightKg)
	return l, nil
}

func main() {}
