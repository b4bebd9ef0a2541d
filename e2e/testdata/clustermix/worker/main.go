// Command worker consumes the queue "jobs": each delivery inserts a row
// (message body, receive count) into the shared trace database, then takes
// 300 ms, so that a node killed under load holds messages in flight.
package main

import (
	"context"
	"time"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/db"
)

var trace = db.Open("db")

func init() {
	strata.HandleEvent(func(ctx context.Context, e strata.Event) error {
		if _, err := trace.Exec(ctx, `insert into processed (id, receive_count, at) values ($1, $2, now())`,
			string(e.Data), e.ReceiveCount); err != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
		return nil
	})
}

func main() {}
