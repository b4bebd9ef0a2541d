// Command nethttp is the bare Go net/http peer of Strata's warm HTTP
// benchmark: the smallest server that answers GET /hello/{name} with
// "hello, <name>!", the ceiling Strata's gateway is measured against.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8789", "listen address")
	flag.Parse()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello/{name}", hello)
	srv := &http.Server{Addr: *addr, Handler: mux}
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Printf("nethttp: %v", err)
		os.Exit(1)
	}
}

func hello(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "hello, %s!", r.PathValue("name"))
}
