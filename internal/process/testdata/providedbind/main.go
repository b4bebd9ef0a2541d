// Command providedbind is a "provided" bootstrap for the tests: it speaks
// the Runtime API at AWS_LAMBDA_RUNTIME_API and, for each invocation,
// makes the binding call the event holds at STRATA_BINDINGS_API and
// answers with the call's status and body.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	api := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime"
	bind := "http://" + os.Getenv("STRATA_BINDINGS_API") + "/strata/v1"
	for {
		next, err := http.Get(api + "/invocation/next")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		id := next.Header.Get("Lambda-Runtime-Aws-Request-Id")
		var ev struct{ Path, Body string }
		err = json.NewDecoder(next.Body).Decode(&ev)
		next.Body.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		req, _ := http.NewRequest("POST", bind+ev.Path, bytes.NewReader([]byte(ev.Body)))
		req.Header.Set("Lambda-Runtime-Aws-Request-Id", id)
		answer := map[string]any{}
		if resp, err := http.DefaultClient.Do(req); err != nil {
			answer["error"] = err.Error()
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answer["status"], answer["body"] = resp.StatusCode, string(b)
		}
		out, _ := json.Marshal(answer)
		r, err := http.Post(api+"/invocation/"+id+"/response", "application/json", bytes.NewReader(out))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		r.Body.Close()
	}
}
