package flow_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/flow"
)

type Order struct {
	ID      string   `json:"id"`
	Card    string   `json:"card"`
	Parcels []string `json:"parcels"`
}

type Payment struct {
	Charge string `json:"charge"`
}

type Receipt struct {
	Payment Payment  `json:"payment"`
	Labels  []string `json:"labels"`
}

// A saga: each step is another function; a failure after the charge runs
// the compensations before the workflow fails.
func Fulfil(ctx flow.Context, o Order) (Receipt, error) {
	if err := flow.Call(ctx, "reserve-stock", o, nil, flow.Retry{Max: 5, Backoff: time.Second}); err != nil {
		return Receipt{}, err
	}
	var pay Payment
	if err := flow.Call(ctx, "charge-card", o, &pay, flow.Retry{NonRetryable: []string{"CardDeclined"}}); err != nil {
		_ = flow.Call(ctx, "release-stock", o, nil)
		return Receipt{}, err
	}
	approved, err := flow.WaitSignal[bool](ctx, "approval", 72*time.Hour)
	if errors.Is(err, flow.ErrTimeout) || (err == nil && !approved) {
		_ = flow.Call(ctx, "refund", pay, nil)
		_ = flow.Call(ctx, "release-stock", o, nil)
		return Receipt{}, flow.NewError("NotApproved", "order "+o.ID+" was not approved in time")
	}
	if err != nil {
		return Receipt{}, err
	}
	labels, err := flow.Map[string, string](ctx, o.Parcels, "print-label")
	if err != nil {
		return Receipt{}, err
	}
	if err := flow.Sleep(ctx, 24*time.Hour); err != nil {
		return Receipt{}, err
	}
	return Receipt{Payment: pay, Labels: labels}, nil
}

func Example_workflow() {
	// In the orchestrator function's init:
	flow.Workflow("fulfil", Fulfil)
}

func ExampleActivity() {
	// In the charge-card function's init. IdempotencyKey makes a retried
	// attempt charge once.
	flow.Activity(func(ctx context.Context, o Order) (Payment, error) {
		if o.Card == "" {
			return Payment{}, flow.NonRetryable(flow.NewError("CardDeclined", "no card"))
		}
		return Payment{Charge: "ch_" + flow.IdempotencyKey(ctx)}, nil
	})
}

func ExampleVersion() {
	flow.Workflow("ship", func(ctx flow.Context, o Order) (string, error) {
		// Executions that passed here before the fraud check was added
		// replay with version 0 and skip it.
		if flow.Version(ctx, "fraud-check", 0, 1) >= 1 {
			if err := flow.Call(ctx, "fraud-check", o, nil); err != nil {
				return "", err
			}
		}
		var tracking string
		err := flow.Call(ctx, "ship", o, &tracking, flow.Timeouts{StartToClose: time.Minute})
		return tracking, err
	})
}

func ExampleStart() {
	// An HTTP function that starts a workflow and lets a person approve it.
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := flow.Start(r.Context(), "fulfil", "order-"+r.PathValue("id"), Order{ID: r.PathValue("id")})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintln(w, id)
	})
	mux.HandleFunc("POST /orders/{id}/approve", func(w http.ResponseWriter, r *http.Request) {
		if err := flow.Signal(r.Context(), "order-"+r.PathValue("id"), "approval", true); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
		}
	})
	strata.HandleHTTP(mux)
}

func ExampleContinueAsNew() {
	// A poller that runs forever with a history that stays small.
	flow.Workflow("poll", func(ctx flow.Context, round int) (int, error) {
		if err := flow.Call(ctx, "check-feed", round, nil); err != nil {
			return round, err
		}
		if err := flow.Sleep(ctx, time.Hour); err != nil {
			return round, err
		}
		return 0, flow.ContinueAsNew(round + 1)
	})
}
