// Command sender is a test guest that sends to a queue or publishes to a
// topic as its query says:
//
//	?kind=queue|topic&name=N&body=B[&json=1][&type=&subject=&group=&dedup=&delay_ms=&ct=]
//
// It answers 200 "id=<event id>" or 502 "error=<message>". ?init=1 reports
// what a send attempted during package init (outside an invocation) said.
package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	strata "github.com/stratahq/strata/sdk/go"
)

var initErr error

func init() {
	_, initErr = strata.Send(context.Background(), "early", []byte("x"))
	strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("init") == "1" {
			fmt.Fprintf(w, "init=%v", initErr)
			return
		}
		var opts []strata.SendOption
		if v := q.Get("type"); v != "" {
			opts = append(opts, strata.WithType(v))
		}
		if v := q.Get("subject"); v != "" {
			opts = append(opts, strata.WithSubject(v))
		}
		if v := q.Get("group"); v != "" {
			opts = append(opts, strata.WithGroup(v))
		}
		if v := q.Get("dedup"); v != "" {
			opts = append(opts, strata.WithDedupID(v))
		}
		if v := q.Get("ct"); v != "" {
			opts = append(opts, strata.WithContentType(v))
		}
		if v := q.Get("delay_ms"); v != "" {
			ms, _ := strconv.Atoi(v)
			opts = append(opts, strata.WithDelay(time.Duration(ms)*time.Millisecond))
		}
		ctx, name, body := r.Context(), q.Get("name"), q.Get("body")
		var id string
		var err error
		switch {
		case q.Get("kind") == "topic" && q.Get("json") == "1":
			id, err = strata.PublishJSON(ctx, name, map[string]string{"body": body}, opts...)
		case q.Get("kind") == "topic":
			id, err = strata.Publish(ctx, name, []byte(body), opts...)
		case q.Get("json") == "1":
			id, err = strata.SendJSON(ctx, name, map[string]string{"body": body}, opts...)
		default:
			id, err = strata.Send(ctx, name, []byte(body), opts...)
		}
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprintf(w, "error=%v", err)
			return
		}
		fmt.Fprintf(w, "id=%s", id)
	})
}

func main() {}
