// Command thief attacks project victim through workflows:
//   - steal calls victim's function vault as an activity;
//   - steal-child starts victim's workflow as a child, and a child of its
//     own under victim's execution id;
//   - POST /thief/signal/{id} signals victim's execution;
//   - POST /thief/start/{id} starts tquick under victim's execution id.
//
// Each answers what it got, so the test sees what leaked: an error's
// message, or the stolen value.
package main

import (
	"encoding/json"
	"net/http"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/flow"
)

// Outcome is what an attack got: a value, or the error's message.
type Outcome struct {
	Value string `json:"value,omitempty"`
	Error string `json:"error,omitempty"`
}

func outcome(v string, err error) Outcome {
	if err != nil {
		return Outcome{Error: err.Error()}
	}
	return Outcome{Value: v}
}

func init() {
	flow.Workflow("steal", func(ctx flow.Context, _ any) (Outcome, error) {
		var secret string
		err := flow.Call(ctx, "vault", nil, &secret, flow.Retry{Max: 1})
		return outcome(secret, err), nil
	})
	flow.Workflow("tquick", func(ctx flow.Context, n int) (int, error) {
		return n + 1, nil
	})
	flow.Workflow("steal-child", func(ctx flow.Context, victimID string) ([]Outcome, error) {
		v, err := flow.Child[string](ctx, "vhold", nil)
		foreignWorkflow := outcome(v, err)
		n, err := flow.Child[int](ctx, "tquick", 1, flow.ID(victimID))
		var s string
		if err == nil {
			b, _ := json.Marshal(n)
			s = string(b)
		}
		return []Outcome{foreignWorkflow, outcome(s, err)}, nil
	})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /thief/signal/{id}", func(w http.ResponseWriter, r *http.Request) {
		err := flow.Signal(r.Context(), r.PathValue("id"), "go", "stolen")
		answer(w, outcome("signaled", err))
	})
	mux.HandleFunc("POST /thief/start/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := flow.Start(r.Context(), "tquick", r.PathValue("id"), 1)
		answer(w, outcome(id, err))
	})
	strata.HandleHTTP(flow.Handler(mux))
}

func answer(w http.ResponseWriter, o Outcome) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(o)
}

func main() {}
