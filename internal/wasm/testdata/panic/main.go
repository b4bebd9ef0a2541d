// Command panic is a test guest whose handler panics.
package main

import (
	"net/http"

	strata "github.com/stratahq/strata/sdk/go"
)

func init() {
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("ok") != "" {
			w.Write([]byte("fine"))
			return
		}
		panic("guest panicked on purpose")
	})
}

func main() {}
