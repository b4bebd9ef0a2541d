// Command nightly-cleanup runs at 03:00 Europe/Berlin every day
// (schedule "0 3 * * *", timezone Europe/Berlin in strata.yaml). Across
// daylight-saving changes it still runs once a day at 03:00 local time.
//
// The "cleanup" here only logs what it would do: a real job would delete
// rows older than a cut-off computed from the scheduled time, never from
// the wall clock, so that a late or retried run deletes the same rows.
package main

import (
	"context"
	"fmt"
	"time"

	strata "github.com/stratahq/strata/sdk/go"
)

// Fire is the data of a scheduled event.
type Fire struct {
	Schedule      string `json:"schedule"`
	ScheduledTime string `json:"scheduled_time"`
	Skipped       int    `json:"skipped"`
}

func init() {
	strata.HandleEvent(func(ctx context.Context, e strata.Event) error {
		var f Fire
		if err := e.DataAs(&f); err != nil {
			return err
		}
		at, err := time.Parse(time.RFC3339, f.ScheduledTime)
		if err != nil {
			return fmt.Errorf("scheduled_time %q: %w", f.ScheduledTime, err)
		}
		cutoff := at.Add(-30 * 24 * time.Hour)
		fmt.Printf("nightly cleanup for %s: would delete records older than %s\n",
			at.Format(time.RFC3339), cutoff.Format(time.DateOnly))
		return nil
	})
}

func main() {}
