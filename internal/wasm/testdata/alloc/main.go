// Command alloc is a test guest that allocates without bound unless asked
// with ?ok=1.
package main

import (
	"net/http"

	strata "github.com/stratahq/strata/sdk/go"
)

var keep [][]byte

func init() {
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("ok") != "" {
			w.Write([]byte("fine"))
			return
		}
		for {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = byte(i)
			}
			keep = append(keep, b)
		}
	})
}

func main() {}
