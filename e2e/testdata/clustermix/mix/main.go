// Command mix registers the workflow "mix": three calls of the activity
// "step" in a row, the output of one the input of the next.
package main

import (
	"time"

	"github.com/stratahq/strata/sdk/go/flow"
)

func init() {
	flow.Workflow("mix", func(ctx flow.Context, in string) (string, error) {
		// An attempt that died with its node is tried again.
		retry := flow.Retry{Max: 10, Backoff: 100 * time.Millisecond}
		out := in
		for _, name := range []string{"A", "B", "C"} {
			if err := flow.Call(ctx, "step", map[string]string{"name": name, "in": out}, &out, retry); err != nil {
				return "", err
			}
		}
		return out, nil
	})
}

func main() {}
