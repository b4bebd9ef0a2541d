// Command hello is a test guest that echoes what it received, one fact per
// line, so tests can check every part of the request crossed the ABI.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"

	strata "github.com/stratahq/strata/sdk/go"
)

// remembered is set by ?remember= and shown by every later request of the
// instance: state a request leaves in the instance's memory (tests of
// instance isolation read it).
var remembered string

func init() {
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("hello guest handling", r.Method, r.URL.Path)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Hello", "world")
		if r.URL.Query().Get("status") == "201" {
			w.WriteHeader(http.StatusCreated)
		}
		fmt.Fprintf(w, "method=%s\n", r.Method)
		fmt.Fprintf(w, "path=%s\n", r.URL.Path)
		fmt.Fprintf(w, "query=%s\n", r.URL.RawQuery)
		fmt.Fprintf(w, "host=%s\n", r.Host)
		fmt.Fprintf(w, "remote=%s\n", r.RemoteAddr)
		fmt.Fprintf(w, "param.name=%s\n", r.PathValue("name"))
		names := make([]string, 0, len(r.Header))
		for k := range r.Header {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(w, "header.%s=%s\n", k, r.Header[k])
		}
		fmt.Fprintf(w, "body=%s\n", body)
		fmt.Fprintf(w, "env.GREETING=%s\n", os.Getenv("GREETING"))
		fmt.Fprintf(w, "invocation=%s\n", strata.InvocationID(r.Context()))
		fmt.Fprintf(w, "traceparent=%s\n", strata.TraceParent(r.Context()))
		if dl, ok := strata.Deadline(r.Context()); ok {
			fmt.Fprintf(w, "deadline=%d\n", dl.UnixMilli())
		}
		if v := r.URL.Query().Get("remember"); v != "" {
			remembered = v
		}
		if remembered != "" {
			fmt.Fprintf(w, "remembered=%s\n", remembered)
		}
	})
}

func main() {}
