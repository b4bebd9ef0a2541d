// Command slow answers GET /slow/{ms} after sleeping ms milliseconds: a
// request that is still in flight when its node is told to stop.
package main

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	strata "github.com/stratahq/strata/sdk/go"
)

func init() {
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.Atoi(r.PathValue("ms"))
		if err != nil || ms < 0 {
			http.Error(w, "want /slow/{milliseconds}", http.StatusBadRequest)
			return
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		fmt.Fprintf(w, "slept %d ms\n", ms)
	})
}

func main() {}
