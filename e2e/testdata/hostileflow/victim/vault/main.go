// Command vault is project victim's one function: the workflow vhold
// waits (an hour at most) for the signal "go" and returns its value; the
// activity answers the env value SECRET, which only victim's own
// workflows may ever see.
package main

import (
	"context"
	"os"
	"time"

	"github.com/stratahq/strata/sdk/go/flow"
)

func init() {
	flow.Workflow("vhold", func(ctx flow.Context, _ any) (string, error) {
		return flow.WaitSignal[string](ctx, "go", time.Hour)
	})
	flow.Activity(func(ctx context.Context, _ any) (string, error) {
		return os.Getenv("SECRET"), nil
	})
}

func main() {}
