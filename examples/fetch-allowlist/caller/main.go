// Command caller calls an external HTTP API through Strata's outbound fetch
// and shows the allow-list at work:
//
//	GET /upstream   calls UPSTREAM_URL (a host on the function's fetch list)
//	                with the secret API_TOKEN as a bearer token, and reports
//	                the API's status and answer;
//	GET /blocked    tries BLOCKED_URL (or ?url=...), a host that is not on
//	                the list, and shows the platform's refusal.
//
// The function never holds a socket: fetch is a host call, and the platform
// checks each request's host against the manifest's `fetch:` list (and its
// addresses against `fetch_private`) before it connects. It also adds the
// invocation's traceparent header, so the API's own traces join Strata's.
//
// The token is read from the secret store on each call (rotating it needs
// no redeploy), sent in a header, and never printed: not in the answer,
// not in the logs.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/fetch"
	"github.com/stratahq/strata/sdk/go/secrets"
)

// maxAnswer bounds how much of the API's answer is reported.
const maxAnswer = 64 << 10

func init() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /upstream", callUpstream)
	mux.HandleFunc("GET /blocked", callBlocked)
	strata.HandleHTTP(mux)
}

func callUpstream(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	target := os.Getenv("UPSTREAM_URL")
	token, err := secrets.Get(ctx, "API_TOKEN")
	if err != nil {
		// The message says how to set it; it never holds a value.
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "UPSTREAM_URL: " + err.Error()})
		return
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	resp, err := fetch.Client().Do(req)
	if err != nil {
		fmt.Printf("call %s failed: %v\n", hostOf(target), err)
		writeJSON(w, http.StatusBadGateway, map[string]any{"url": target, "error": err.Error()})
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]any{"url": target, "error": "read answer: " + err.Error()})
		return
	}
	took := time.Since(start)
	// One line per call: where, what came back, how long. Never the token.
	fmt.Printf("called %s: %d in %dms\n", hostOf(target), resp.StatusCode, took.Milliseconds())

	out := map[string]any{"url": target, "status": resp.StatusCode, "took_ms": took.Milliseconds()}
	var answer any
	if json.Unmarshal(body, &answer) == nil {
		out["answer"] = answer
	} else {
		out["answer"] = string(body)
	}
	status := http.StatusOK
	if resp.StatusCode >= 300 {
		status = http.StatusBadGateway // the API said no; say so
	}
	writeJSON(w, status, out)
}

func callBlocked(w http.ResponseWriter, r *http.Request) {
	target := r.URL.Query().Get("url")
	if target == "" {
		target = os.Getenv("BLOCKED_URL")
	}
	resp, err := fetch.Get(r.Context(), target)
	if err != nil {
		fmt.Printf("refused %s: %v\n", hostOf(target), err)
		writeJSON(w, http.StatusForbidden, map[string]any{"url": target, "refused": true, "error": err.Error()})
		return
	}
	// Only if the manifest lists this host too.
	resp.Body.Close()
	writeJSON(w, http.StatusOK, map[string]any{"url": target, "refused": false, "status": resp.StatusCode})
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return raw
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func main() {}
