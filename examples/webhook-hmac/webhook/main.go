// Command webhook is a Strata function that accepts signed webhooks.
//
// POST /webhook must carry X-Signature: sha256=<hex HMAC-SHA256 of the raw
// body> keyed with the WEBHOOK_SECRET environment variable, the scheme
// GitHub and many other senders use. Unsigned or wrongly signed requests
// get 401; accepted ones get {"ok":true,...}.
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"os"
	"strings"

	strata "github.com/stratahq/strata/sdk/go"
)

const signatureHeader = "X-Signature"

func init() {
	strata.HandleFunc(handle)
}

// accepted is the answer to a verified delivery.
type accepted struct {
	OK     bool   `json:"ok"`
	Bytes  int    `json:"bytes"`
	SHA256 string `json:"sha256"`          // of the body, for the sender's records
	Event  string `json:"event,omitempty"` // the body's "type" field, if it is JSON with one
}

func handle(w http.ResponseWriter, r *http.Request) {
	secret := os.Getenv("WEBHOOK_SECRET")
	if secret == "" {
		// A missing secret is the operator's mistake, not the sender's:
		// never accept unsigned data because configuration is incomplete.
		log.Print("WEBHOOK_SECRET is not set; rejecting every delivery")
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "webhook secret is not configured"})
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "read body: " + err.Error()})
		return
	}
	if err := verify(secret, r.Header.Get(signatureHeader), body); err != nil {
		log.Printf("rejected delivery: %v", err)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": err.Error()})
		return
	}

	sum := sha256.Sum256(body)
	resp := accepted{OK: true, Bytes: len(body), SHA256: hex.EncodeToString(sum[:])}
	var event struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(body, &event) == nil {
		resp.Event = event.Type
	}
	log.Printf("accepted delivery: %d bytes, event %q", len(body), resp.Event)
	writeJSON(w, http.StatusOK, resp)
}

// verify checks header against the HMAC-SHA256 of body. The comparison is
// constant-time (hmac.Equal) so the signature cannot be guessed byte by byte
// from response timings.
func verify(secret, header string, body []byte) error {
	if header == "" {
		return errors.New("missing " + signatureHeader + " header")
	}
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return errors.New("malformed " + signatureHeader + " header: want sha256=<hex digest>")
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return errors.New("malformed " + signatureHeader + " header: want sha256=<hex digest>")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return errors.New("signature does not match the body")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // keep "<hex digest>" readable in messages
	enc.Encode(v)
}

func main() {}
