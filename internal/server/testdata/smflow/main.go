// Command smflow is a test guest that runs state machines from Go: POST
// /start?machine=M&name=N starts an execution of the project's machine M
// named N with the request body as input (flow.Start), and the workflow
// "callsm" runs the machine "child" as a child and returns its output
// (flow.Child).
package main

import (
	"encoding/json"
	"io"
	"net/http"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/flow"
	"github.com/stratahq/strata/sdk/go/states"
)

func init() {
	flow.Workflow("callsm", func(ctx flow.Context, in map[string]any) (map[string]any, error) {
		return flow.Child[map[string]any](ctx, states.Machine("child"), in)
	})
	strata.HandleHTTP(flow.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var in any
		if err := json.Unmarshal(body, &in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id, err := flow.Start(r.Context(), states.Machine(r.URL.Query().Get("machine")), r.URL.Query().Get("name"), in)
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		_, _ = io.WriteString(w, id)
	})))
}

func main() {}
