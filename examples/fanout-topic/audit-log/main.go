// Command audit-log subscribes to the topic user-signed-up and records
// every sign-up, whatever its content: it never fails, so it sees each event
// exactly once even when welcome-email keeps failing for the same event.
package main

import (
	"context"
	"fmt"

	strata "github.com/stratahq/strata/sdk/go"
)

func init() {
	strata.HandleEvent(func(ctx context.Context, e strata.Event) error {
		fmt.Printf("audit: %s from %s at %s: %s\n", e.Type, e.Source, e.Time.UTC().Format("2006-01-02T15:04:05Z"), e.Data)
		return nil
	})
}

func main() {}
