// Command front acknowledges work through the balancer: POST /send/{id}
// sends {id} to the queue "jobs", POST /start/{id} starts the workflow
// "mix" with execution id {id}. A 200 means the send or the start is
// durable.
package main

import (
	"net/http"
	"strings"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/flow"
)

func init() {
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		var err error
		switch {
		case strings.HasPrefix(r.URL.Path, "/send/"):
			_, err = strata.Send(r.Context(), "jobs", []byte(id))
		case strings.HasPrefix(r.URL.Path, "/start/"):
			_, err = flow.Start(r.Context(), "mix", id, id)
		default:
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write([]byte("ok " + id))
	})
}

func main() {}
