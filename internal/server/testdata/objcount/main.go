// Command objcount is a test guest: the durable object class Counter
// answers every request with its count after adding one to it in storage
// ("<n>"), so a test can tell whether two nodes served one object or two;
// GET /stub?name=N reaches object N through a stub.
package main

import (
	"io"
	"net/http"
	"strconv"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/objects"
)

type counter struct{ st *objects.State }

func (c *counter) Fetch(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, _, err := c.st.Storage.Get(ctx, "n")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	n, _ := strconv.Atoi(string(v))
	b := strconv.AppendInt(nil, int64(n+1), 10)
	if err := c.st.Storage.Put(ctx, "n", b); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(b)
}

func init() {
	objects.Register("Counter", func(st *objects.State) objects.Object { return &counter{st: st} })
	// GET /stub?name=N counts on object N through a stub, as any
	// function of the project can.
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		if name == "" {
			_, _ = io.WriteString(w, "ok")
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, "/count", nil)
		resp, err := objects.Namespace("Counter").Get(name).Fetch(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})
}

func main() {}
