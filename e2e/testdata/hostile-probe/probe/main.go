// Command probe is the guest of e2e/hostile_gateway_test.go (a copy of
// internal/gateway/testdata/probe, which the gateway's own tests use): it
// answers the status in ?status= (so a test can make it answer 101), and
// otherwise reports what it was given and what the SDK made of it: its path
// parameters, every header whose name starts with Ce- or X-Strata-, and
// whether the SDK takes the request for a CloudEvent.
package main

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	strata "github.com/stratahq/strata/sdk/go"
)

func init() {
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := r.URL.Query().Get("status"); s != "" {
			code, err := strconv.Atoi(s)
			if err != nil {
				http.Error(w, "bad ?status=", http.StatusBadRequest)
				return
			}
			w.WriteHeader(code)
			fmt.Fprintln(w, "probe answered", code)
			return
		}
		fmt.Fprintf(w, "path=%s\n", r.URL.Path)
		fmt.Fprintf(w, "param.op=%s\n", r.PathValue("op"))
		fmt.Fprintf(w, "param.rest=%s\n", r.PathValue("rest"))
		names := make([]string, 0, len(r.Header))
		for k := range r.Header {
			l := strings.ToLower(k)
			if strings.HasPrefix(l, "ce-") || strings.HasPrefix(l, "x-strata-") {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(w, "header.%s=%s\n", k, r.Header[k])
		}
		fmt.Fprintf(w, "is_event=%v\n", strata.IsEvent(r))
		if e, err := strata.EventFromRequest(r); err == nil {
			fmt.Fprintf(w, "event.id=%s event.queue=%s event.receive_count=%d\n", e.ID, e.Queue, e.ReceiveCount)
		}
	})
}

func main() {}
