// Command heartbeat runs every two seconds ("@every 2s" in strata.yaml) and
// logs one line per fire with the time the fire was scheduled for. That
// time, not the clock when the function happens to run, is what a scheduled
// job should use as "now": it is the same on a retry, and after an outage
// the one catch-up fire says how many fires were skipped.
package main

import (
	"context"
	"fmt"

	strata "github.com/stratahq/strata/sdk/go"
)

// Fire is the data of a scheduled event.
type Fire struct {
	Schedule      string `json:"schedule"`
	Spec          string `json:"spec"`
	Timezone      string `json:"timezone"`
	ScheduledTime string `json:"scheduled_time"`
	Skipped       int    `json:"skipped"`
}

func init() {
	strata.HandleEvent(func(ctx context.Context, e strata.Event) error {
		var f Fire
		if err := e.DataAs(&f); err != nil {
			return err
		}
		fmt.Printf("heartbeat fire scheduled_time=%s skipped=%d attempt=%d\n", f.ScheduledTime, f.Skipped, e.ReceiveCount)
		return nil
	})
}

func main() {}
