// Command sleep is a test guest that sleeps ?ms= milliseconds (default 20)
// before answering, to hold an instance busy.
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
		ms := 20
		if s := r.URL.Query().Get("ms"); s != "" {
			ms, _ = strconv.Atoi(s)
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		fmt.Fprintf(w, "slept %dms", ms)
	})
}

func main() {}
