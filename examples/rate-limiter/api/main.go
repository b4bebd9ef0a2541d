// Command api is a rate-limited API. Each request names its caller with
// the header X-Api-Key; the key's TokenBucket durable object decides
// whether the request may go on. Because one object serves one key and
// handles its requests one at a time, two requests of the same key never
// race for the last token, whichever instance of api received them.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"time"

	strata "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/objects"
)

func init() {
	objects.Register("TokenBucket", func(st *objects.State) objects.Object { return &TokenBucket{st: st} })
	strata.HandleFunc(serve)
}

func main() {}

// serve answers the API's own requests, after asking the caller's bucket.
func serve(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("X-Api-Key")
	if key == "" {
		http.Error(w, "missing X-Api-Key header", http.StatusUnauthorized)
		return
	}
	resp, err := objects.Namespace("buckets").Get(key).Call(r.Context(), http.MethodPost, "/take", nil)
	if err != nil {
		http.Error(w, "rate limiter unavailable: "+err.Error(), http.StatusBadGateway)
		return
	}
	var d decision
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || resp.StatusCode != http.StatusOK {
		http.Error(w, fmt.Sprintf("rate limiter answered %d", resp.StatusCode), http.StatusBadGateway)
		return
	}
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(d.Remaining))
	if !d.Allowed {
		w.Header().Set("Retry-After", strconv.Itoa(d.RetryAfter))
		http.Error(w, "rate limit exceeded, retry later", http.StatusTooManyRequests)
		return
	}
	fmt.Fprintf(w, "hello, %s\n", key)
}

// decision is the bucket's answer to /take.
type decision struct {
	Allowed    bool `json:"allowed"`
	Remaining  int  `json:"remaining"`   // whole tokens left
	RetryAfter int  `json:"retry_after"` // seconds until the next token, when refused
}

// TokenBucket holds up to size tokens, refilled at rate tokens a second;
// each allowed request takes one. Its storage keeps the tokens left and
// the time of the last refill, so the bucket survives eviction and
// restarts; the Go value keeps nothing.
type TokenBucket struct {
	st *objects.State
}

// bucket is the stored state, one JSON value under the key "bucket" so a
// read and a write are each one storage operation.
type bucket struct {
	Tokens float64   `json:"tokens"`
	Last   time.Time `json:"last"`
}

func (b *TokenBucket) Fetch(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/take" {
		http.Error(w, "the bucket serves POST /take", http.StatusNotFound)
		return
	}
	d, err := b.take(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(d)
}

// take refills the bucket for the time elapsed and takes a token if one
// is there. Events of one object run one at a time, so the read and the
// write below need no transaction to be safe from each other.
func (b *TokenBucket) take(ctx context.Context) (decision, error) {
	size, rate := setting("BUCKET_SIZE", 5), setting("REFILL_PER_SEC", 1)
	now := time.Now()
	s := bucket{Tokens: size, Last: now} // a new key starts full
	v, ok, err := b.st.Storage.Get(ctx, "bucket")
	if err != nil {
		return decision{}, err
	}
	if ok {
		if err := json.Unmarshal(v, &s); err != nil {
			return decision{}, fmt.Errorf("stored bucket: %w", err)
		}
		if elapsed := now.Sub(s.Last).Seconds(); elapsed > 0 {
			s.Tokens = math.Min(size, s.Tokens+elapsed*rate)
		}
		s.Last = now
	}
	d := decision{}
	if s.Tokens >= 1 {
		s.Tokens--
		d.Allowed = true
	} else {
		d.RetryAfter = int(math.Ceil((1 - s.Tokens) / rate))
	}
	d.Remaining = int(s.Tokens)
	v, err = json.Marshal(s)
	if err != nil {
		return decision{}, err
	}
	return d, b.st.Storage.Put(ctx, "bucket", v)
}

// setting reads a positive number from the function's environment, or
// returns def.
func setting(name string, def float64) float64 {
	if f, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil && f > 0 {
		return f
	}
	return def
}
