// Command process-order consumes the queue "orders" in batches of up to 10
// and reports the orders it could not process as partial batch failures:
// only those come back (after the queue's visibility timeout), the rest of
// the batch is acknowledged.
//
// An order fails, every time, when it is not JSON with a positive "id", when
// it says "fail": true, or when its id is divisible by 7. So the demo
// always has some orders that end in the dead-letter queue orders-dlq
// after their third attempt.
package main

import (
	"context"
	"errors"
	"fmt"

	strata "github.com/stratahq/strata/sdk/go"
)

// Order is what a message on the queue carries.
type Order struct {
	ID   int    `json:"id"`
	Item string `json:"item,omitempty"`
	Fail bool   `json:"fail,omitempty"`
}

func init() {
	strata.HandleBatch(processBatch)
}

// processBatch handles every event of the batch on its own, so one bad order
// never holds back the others, and returns the ids of those that failed.
func processBatch(ctx context.Context, events []strata.Event) ([]string, error) {
	var failed []string
	for _, e := range events {
		o, err := process(e)
		if err != nil {
			// A line per failure: the log is where an operator looks first.
			fmt.Printf("order %d failed (event %s, attempt %d): %v\n", o.ID, e.ID, e.ReceiveCount, err)
			failed = append(failed, e.ID)
			continue
		}
		fmt.Printf("processed order %d (event %s, attempt %d)\n", o.ID, e.ID, e.ReceiveCount)
	}
	return failed, nil
}

// process validates and "processes" one order.
func process(e strata.Event) (Order, error) {
	var o Order
	if err := e.DataAs(&o); err != nil {
		return o, err
	}
	switch {
	case o.ID <= 0:
		return o, errors.New("order has no positive id")
	case o.Fail:
		return o, errors.New("order asks to fail")
	case o.ID%7 == 0:
		return o, fmt.Errorf("order id %d is divisible by 7 (the demo's deterministic failure)", o.ID)
	}
	return o, nil
}

func main() {}
