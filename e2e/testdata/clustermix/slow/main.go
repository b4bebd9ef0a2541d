// Command slow defines the Slow durable object of the stalled-node test:
// POST /slow/{name}/incr?ms=N reads n, waits N ms, then writes n+1 and
// answers "n=<n+1>"; GET /slow/{name} answers "n=<n>". A node stopped
// during the wait and let go on after another node took the object must
// not commit its write.
package main

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	_ "github.com/stratahq/strata/sdk/go" // the entry point object events come in by
	"github.com/stratahq/strata/sdk/go/objects"
)

func init() {
	objects.Register("Slow", func(st *objects.State) objects.Object { return &Slow{st: st} })
}

func main() {}

type Slow struct{ st *objects.State }

func (s *Slow) Fetch(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, _, err := s.st.Storage.Get(ctx, "n")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	n, _ := strconv.Atoi(string(v))
	if r.Method == http.MethodPost {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		n++
		if err := s.st.Storage.Put(ctx, "n", []byte(strconv.Itoa(n))); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	fmt.Fprintf(w, "n=%d", n)
}
