// Command loop is a test guest that never returns unless asked with ?ok=1.
package main

import (
	"net/http"

	strata "github.com/stratahq/strata/sdk/go"
)

var sink int

func init() {
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("ok") != "" {
			w.Write([]byte("fine"))
			return
		}
		for {
			sink++
		}
	})
}

func main() {}
