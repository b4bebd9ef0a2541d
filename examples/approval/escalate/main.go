// Command escalate is the approval workflow's escalation step: it records
// the escalated request in the kv namespace "escalations" (where a real
// system would page someone or send a mail) and answers who it went to,
// $ESCALATE_TO from the manifest. GET /escalations lists what it recorded.
//
// The record's key is the execution's id, so a retried attempt writes the
// same entry again instead of adding a second one.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/flow"
	"github.com/stratahq/strata/sdk/go/kv"
)

// Escalation is the step's input and output.
type Escalation struct {
	Request  string `json:"request"`
	Approver string `json:"approver"`
	Waited   int    `json:"waited_seconds"`
	To       string `json:"to,omitempty"`
}

// record is what the kv namespace keeps per escalation.
type record struct {
	Execution string    `json:"execution"`
	Request   string    `json:"request"`
	Approver  string    `json:"approver"`
	To        string    `json:"to"`
	At        time.Time `json:"at"`
}

var escalations = kv.Open("escalations")

func init() {
	flow.Activity(escalate)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /escalations", list)
	// Step invocations go to the Activity, other requests to mux.
	strata.HandleHTTP(flow.Handler(mux))
}

func escalate(ctx context.Context, e Escalation) (Escalation, error) {
	step, ok := flow.ActivityInfo(ctx)
	if !ok {
		return e, flow.NonRetryable(errors.New("escalate runs as a workflow step, not on its own"))
	}
	e.To = os.Getenv("ESCALATE_TO")
	if e.To == "" {
		e.To = "the approvals team"
	}
	// An activity, unlike the workflow, may read the clock.
	b, err := json.Marshal(record{Execution: step.Execution, Request: e.Request, Approver: e.Approver, To: e.To, At: time.Now().UTC()})
	if err != nil {
		return e, err
	}
	if err := escalations.Put(ctx, step.Execution, b); err != nil {
		return e, err
	}
	fmt.Printf("escalated %q (execution %s) to %s: %s did not answer in %ds\n", e.Request, step.Execution, e.To, e.Approver, e.Waited)
	return e, nil
}

// list answers GET /escalations: the recorded escalations, by execution id.
func list(w http.ResponseWriter, r *http.Request) {
	out := []record{} // none is [], not null
	after := ""
	for {
		page, next, err := escalations.List(r.Context(), "", kv.After(after))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		for _, e := range page {
			var rec record
			if json.Unmarshal(e.Value, &rec) == nil {
				out = append(out, rec)
			}
		}
		if next == "" {
			break
		}
		after = next
	}
	b, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}

func main() {}
