// Command greet is the benchmark guest: the handler of examples/hello
// (GET /hello/{name} answers "hello, <name>!"), built from this module so
// benchmarks need no project directory.
package main

import (
	"fmt"
	"net/http"
	"os"

	strata "github.com/stratahq/strata/sdk/go"
)

func init() {
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		greeting := os.Getenv("GREETING")
		if greeting == "" {
			greeting = "hello"
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "%s, %s!\n", greeting, r.PathValue("name"))
	})
}

func main() {}
