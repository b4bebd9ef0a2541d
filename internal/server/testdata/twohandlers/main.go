// Command twohandlers registers two handlers, which the SDK refuses: its
// init panics, so the deploy fails with the reason.
package main

import (
	"context"
	"net/http"

	strata "github.com/stratahq/strata/sdk/go"
)

func init() {
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {})
	strata.HandleEvent(func(ctx context.Context, e strata.Event) error { return nil })
}

func main() {}
