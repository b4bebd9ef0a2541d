// Command worker takes 200 ms per message and then logs "done <event id>",
// the record TestEventsDurability checks every acknowledged send against.
package main

import (
	"context"
	"fmt"
	"time"

	strata "github.com/stratahq/strata/sdk/go"
)

func init() {
	strata.HandleEvent(func(ctx context.Context, e strata.Event) error {
		time.Sleep(200 * time.Millisecond)
		fmt.Printf("done %s attempt=%d\n", e.ID, e.ReceiveCount)
		return nil
	})
}

func main() {}
