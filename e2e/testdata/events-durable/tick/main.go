// Command tick logs each fire of its "@every 1s" schedule with the fire's
// scheduled time, how many fires it stands for beyond itself (skipped) and
// its event id, so a test can tell a redelivery (same id) from a double fire.
package main

import (
	"context"
	"fmt"

	strata "github.com/stratahq/strata/sdk/go"
)

func init() {
	strata.HandleEvent(func(ctx context.Context, e strata.Event) error {
		var f struct {
			ScheduledTime string `json:"scheduled_time"`
			Skipped       int    `json:"skipped"`
		}
		if err := e.DataAs(&f); err != nil {
			return err
		}
		fmt.Printf("tick scheduled_time=%s skipped=%d event=%s attempt=%d\n", f.ScheduledTime, f.Skipped, e.ID, e.ReceiveCount)
		return nil
	})
}

func main() {}
