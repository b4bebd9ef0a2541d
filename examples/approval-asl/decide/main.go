// Command decide completes the waiting approval of a request: POST
// /requests/{id}/approve ({"by": "ann"}) or /reject ({"by": "ann",
// "reason": "…"}) finds the request's task token in kv and sends it back
// to the execution with states.SendTaskSuccess or SendTaskFailure. GET
// /requests lists the requests that wait.
package main

import (
	"encoding/json"
	"errors"
	"net/http"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/kv"
	"github.com/stratahq/strata/sdk/go/states"
)

var pending = kv.Open("pending")

func init() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /requests", list)
	mux.HandleFunc("POST /requests/{id}/approve", func(w http.ResponseWriter, r *http.Request) { decide(w, r, true) })
	mux.HandleFunc("POST /requests/{id}/reject", func(w http.ResponseWriter, r *http.Request) { decide(w, r, false) })
	strata.HandleHTTP(mux)
}

func decide(w http.ResponseWriter, r *http.Request, approve bool) {
	id := r.PathValue("id")
	var in struct {
		By     string `json:"by"`
		Reason string `json:"reason"`
	}
	_ = json.NewDecoder(r.Body).Decode(&in)
	if in.By == "" {
		http.Error(w, `say who decides: {"by": "ann"}`, http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	tok, ok, err := pending.Get(ctx, id)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if !ok {
		http.Error(w, "no request "+id+" waits for a decision", http.StatusNotFound)
		return
	}
	if approve {
		err = states.SendTaskSuccess(ctx, string(tok), map[string]string{"by": in.By})
	} else {
		err = states.SendTaskFailure(ctx, string(tok), "Rejected", in.By+": "+in.Reason)
	}
	if errors.Is(err, states.ErrInvalidToken) {
		http.Error(w, "the stored token is not a task token", http.StatusInternalServerError)
		return
	}
	if err != nil {
		// The execution ended (it expired, or was stopped): the request
		// no longer waits.
		_, _ = pending.Delete(ctx, id)
		http.Error(w, "request "+id+" no longer waits: "+err.Error(), http.StatusConflict)
		return
	}
	_, _ = pending.Delete(ctx, id)
	w.WriteHeader(http.StatusAccepted)
}

func list(w http.ResponseWriter, r *http.Request) {
	entries, _, err := pending.List(r.Context(), "")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	ids := []string{}
	for _, e := range entries {
		ids = append(ids, e.Key)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string][]string{"waiting": ids})
}

func main() {}
