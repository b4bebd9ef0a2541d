// Command hello is the smallest useful Strata function: GET /hello/{name}
// answers "hello, <name>!".
//
// It is compiled to a WebAssembly reactor, so main never runs; the handler
// is registered in init and the instance stays warm between requests.
package main

import (
	"fmt"
	"log"
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
	// Anything written to stdout or stderr is the invocation's log.
	log.Printf("greeting %q", name)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "%s, %s!\n", greeting, name)
}

func main() {}
