// Command hello is the smallest useful Strata function: GET /hello/{name}
// answers "hello, <name>!".
//
// It is compiled to a WebAssembly reactor, so main never runs; the handler
// is registered in init and the instance stays warm between requests.
package main

import (
	"fmt"
	"net/http"
	"os"

	strata "github.com/stratahq/strata/sdk/go"
)

func init() {
	strata.HandleFunc(hello)
}

func hello(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	greeting := os.Getenv("GREETING") // set in strata.yaml
	if greeting == "" {
		greeting = "hello"
	}
	// Anything written to stdout or stderr would be the invocation's log;
	// this hello stays silent because it is also the benchmark function,
	// compared with bare net/http and workerd hellos that log nothing.
	// (The project `strata new` scaffolds does log a line per request.)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "%s, %s!\n", greeting, name)
}

func main() {}
