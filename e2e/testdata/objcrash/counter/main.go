// Command counter defines the Counter durable object of the objects crash
// test.
//
//	POST /counters/{name}/incr          a += 1 and b += 1 in one transaction; "a=<a>"
//	GET  /counters/{name}               "a=<a> b=<b> fired=<fired>"
//	POST /counters/{name}/alarm?in=MS   sets the alarm MS milliseconds ahead; its run sets fired += 1
package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	_ "github.com/stratahq/strata/sdk/go" // the entry point object events come in by
	"github.com/stratahq/strata/sdk/go/objects"
)

func init() {
	objects.Register("Counter", func(st *objects.State) objects.Object { return &Counter{st: st} })
}

func main() {}

type Counter struct{ st *objects.State }

func (c *Counter) Fetch(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/incr"):
		var a int
		err := c.st.Storage.Transaction(ctx, func(tx *objects.Txn) error {
			m, err := tx.GetMany(ctx, []string{"a", "b"})
			if err != nil {
				return err
			}
			a, _ = strconv.Atoi(string(m["a"]))
			b, _ := strconv.Atoi(string(m["b"]))
			a, b = a+1, b+1
			return tx.PutMany(ctx, map[string][]byte{"a": []byte(strconv.Itoa(a)), "b": []byte(strconv.Itoa(b))})
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "a=%d", a)
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/alarm"):
		ms, _ := strconv.Atoi(r.URL.Query().Get("in"))
		if err := c.st.SetAlarm(ctx, time.Now().Add(time.Duration(ms)*time.Millisecond)); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "set")
	case r.Method == http.MethodGet:
		m, err := c.st.Storage.GetMany(ctx, []string{"a", "b", "fired"})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		n := func(k string) int { v, _ := strconv.Atoi(string(m[k])); return v }
		fmt.Fprintf(w, "a=%d b=%d fired=%d", n("a"), n("b"), n("fired"))
	default:
		http.NotFound(w, r)
	}
}

func (c *Counter) Alarm(ctx context.Context, _ objects.AlarmInfo) error {
	v, _, err := c.st.Storage.Get(ctx, "fired")
	if err != nil {
		return err
	}
	n, _ := strconv.Atoi(string(v))
	return c.st.Storage.Put(ctx, "fired", []byte(strconv.Itoa(n+1)))
}
