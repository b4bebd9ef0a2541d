// Command lagrecv is the queue consumer of TestCrossNodeQueueWakeLatency:
// each delivery logs how long after its send (the event's time, stamped by
// the sending node) it started here, in microseconds.
package main

import (
	"context"
	"fmt"
	"time"

	strata "github.com/stratahq/strata/sdk/go"
)

func init() {
	strata.HandleEvent(func(ctx context.Context, e strata.Event) error {
		fmt.Printf("lag_us=%d id=%s\n", time.Since(e.Time).Microseconds(), e.ID)
		return nil
	})
}

func main() {}
