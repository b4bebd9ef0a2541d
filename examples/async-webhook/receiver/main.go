// Command receiver records webhook deliveries. It is an ordinary
// net/http handler: the route POST /webhooks/{source} is async in
// strata.yaml, so the gateway answers the sender 202 at once and this
// handler runs later with the original request, path parameter included.
// Its answer goes nowhere (the sender is long gone); a status of 500 or more
// makes the platform retry the delivery.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"

	strata "github.com/stratahq/strata/sdk/go"
)

func init() {
	strata.HandleFunc(receive)
}

func receive(w http.ResponseWriter, r *http.Request) {
	source := r.PathValue("source")
	if source == "" {
		source = "direct" // strata invoke --async: no route, no parameter
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusInternalServerError)
		return
	}
	sum := sha256.Sum256(body)
	// X-Strata-Event-Id is the id the sender got in the 202 answer.
	fmt.Printf("delivery %s from %s: %d bytes, sha256 %s, body %s\n",
		r.Header.Get("X-Strata-Event-Id"), source, len(body), hex.EncodeToString(sum[:8]), body)
	w.WriteHeader(http.StatusNoContent)
}

func main() {}
