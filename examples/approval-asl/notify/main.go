// Command notify is the callback Task of the state machine "approval": it
// receives the request and its task token, keeps the token in kv under
// the request id until someone decides, and logs how to decide.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/kv"
)

var pending = kv.Open("pending")

func init() {
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ID     string  `json:"id"`
			Amount float64 `json:"amount"`
			Token  string  `json:"token"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.ID == "" || in.Token == "" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"errorType":"BadRequest","errorMessage":"want {id, amount, token}"}`)
			return
		}
		if err := pending.Put(r.Context(), in.ID, []byte(in.Token)); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Printf("request %s for %.2f waits: POST /requests/%s/approve or /reject\n", in.ID, in.Amount, in.ID)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"notified":true}`)
	})
}

func main() {}
