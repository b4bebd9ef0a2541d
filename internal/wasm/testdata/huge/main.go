// Command huge is a test guest that answers with ?n= bytes (default 7 MiB,
// above the default 6 MiB response cap).
package main

import (
	"bytes"
	"net/http"
	"strconv"

	strata "github.com/stratahq/strata/sdk/go"
)

func init() {
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		n := 7 << 20
		if s := r.URL.Query().Get("n"); s != "" {
			n, _ = strconv.Atoi(s)
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(bytes.Repeat([]byte{'x'}, n))
	})
}

func main() {}
