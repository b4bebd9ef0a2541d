package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The durable object examples (issue 13) on the real binary: each test
// runs `strata dev` in a copy of the example and talks to it over HTTP.

// objWait bounds every wait of these tests: the e2e tests run in
// parallel on two cores.
const objWait = time.Minute

// copyEdited copies an example and replaces text in its strata.yaml
// (pairs of old, new), failing the test if an old text is missing: the
// tests shrink sizes and timeouts so they run in seconds.
func copyEdited(t *testing.T, example string, pairs ...string) string {
	t.Helper()
	dir := copyProject(t, example)
	path := filepath.Join(dir, "strata.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("%s/strata.yaml has no %q", example, pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestExampleRateLimiter(t *testing.T) {
	t.Parallel()
	// A bucket of 3 refilled at one token per 5 s: a burst takes far
	// less than 5 s, and the refill bound below covers a slow one.
	const size, perToken = 3, 5 * time.Second
	d := startDevIn(t, copyEdited(t, "rate-limiter",
		`BUCKET_SIZE: "5"`, `BUCKET_SIZE: "3"`, `REFILL_PER_SEC: "1"`, `REFILL_PER_SEC: "0.2"`))
	hello := func(key string) response {
		return do(t, "GET", d.url+"/hello", nil, map[string]string{"X-Api-Key": key})
	}

	if r := do(t, "GET", d.url+"/hello", nil, nil); r.status != 401 {
		t.Fatalf("no key: %d %s", r.status, r.body)
	}
	// A burst of size+4 requests from one key: the first size pass, the
	// rest are refused with a Retry-After. A request may pass after the
	// first refusal only if a token had time to come back.
	start := time.Now()
	var statuses []int
	for i := 0; i < size+4; i++ {
		r := hello("alice")
		statuses = append(statuses, r.status)
		switch r.status {
		case 200:
			if string(r.body) != "hello, alice\n" {
				t.Fatalf("request %d: %q", i, r.body)
			}
		case 429:
			ra, err := strconv.Atoi(r.header.Get("Retry-After"))
			if err != nil || ra < 1 || ra > 5 {
				t.Fatalf("request %d: 429 with Retry-After %q, want 1..5", i, r.header.Get("Retry-After"))
			}
		default:
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	elapsed := time.Since(start)
	allowed := 0
	for i, s := range statuses {
		if s == 200 {
			allowed++
		} else if i < size {
			t.Fatalf("request %d refused within the bucket's size: %v", i, statuses)
		}
	}
	if refill := int(elapsed / perToken); allowed != size && allowed > size+refill {
		t.Fatalf("burst of %d: %d allowed in %v, want %d (+%d refilled): %v", len(statuses), allowed, elapsed, size, refill, statuses)
	}
	if statuses[size] != 429 && elapsed < perToken {
		t.Fatalf("request %d passed an empty bucket: %v", size, statuses)
	}

	// Another key has its own bucket.
	for i := 0; i < size; i++ {
		if r := hello("bob"); r.status != 200 {
			t.Fatalf("bob request %d: %d %s", i, r.status, r.body)
		}
	}
	// alice is allowed again once a token came back.
	eventually(t, objWait, "alice's bucket to refill", func() bool {
		r := hello("alice")
		if r.status != 200 && r.status != 429 {
			t.Fatalf("alice: %d %s", r.status, r.body)
		}
		return r.status == 200
	})
}

// cartView is a cart as the shopping-cart example answers it.
type cartView struct {
	Items     map[string]int `json:"items"`
	LastOrder *struct {
		Number int            `json:"number"`
		Items  map[string]int `json:"items"`
	} `json:"last_order"`
	ExpiresAt *time.Time `json:"expires_at"`
}

func getCart(t *testing.T, url, id string) cartView {
	t.Helper()
	r := do(t, "GET", url+"/carts/"+id, nil, nil)
	if r.status != 200 {
		t.Fatalf("GET cart %s: %d %s", id, r.status, r.body)
	}
	var v cartView
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("cart %s: %v: %s", id, err, r.body)
	}
	return v
}

func addItem(t *testing.T, url, id, sku string, qty int) cartView {
	t.Helper()
	r := do(t, "POST", url+"/carts/"+id+"/items", []byte(fmt.Sprintf(`{"sku":%q,"qty":%d}`, sku, qty)), nil)
	if r.status != 200 {
		t.Fatalf("add %d %s to %s: %d %s", qty, sku, id, r.status, r.body)
	}
	var v cartView
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func sameItems(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestExampleShoppingCart(t *testing.T) {
	t.Parallel()
	// A cart expires 8 s after its last change: long enough that c1's
	// steps, each a change that pushes its alarm back, finish first,
	// short enough for the ttl subtest to wait for it.
	d := startDevIn(t, copyEdited(t, "shopping-cart", `CART_TTL: "3600"`, `CART_TTL: "8"`))

	t.Run("checkout", func(t *testing.T) {
		addItem(t, d.url, "c1", "apple", 2)
		addItem(t, d.url, "c1", "apple", 1)
		v := addItem(t, d.url, "c1", "pear", 5) // 3 in stock
		want := map[string]int{"apple": 3, "pear": 5}
		if !sameItems(v.Items, want) || v.ExpiresAt == nil {
			t.Fatalf("cart after adds: %+v", v)
		}
		// The checkout removes apple, then finds pear short: the
		// transaction is rolled back and the cart keeps both.
		r := do(t, "POST", d.url+"/carts/c1/checkout", nil, nil)
		if r.status != 409 || !strings.Contains(string(r.body), "5 pear wanted, 3 in stock") {
			t.Fatalf("checkout out of stock: %d %s", r.status, r.body)
		}
		if v := getCart(t, d.url, "c1"); !sameItems(v.Items, want) || v.LastOrder != nil {
			t.Fatalf("cart after a failed checkout: %+v", v)
		}
		if r := do(t, "DELETE", d.url+"/carts/c1/items/pear", nil, nil); r.status != 200 {
			t.Fatalf("remove pear: %d %s", r.status, r.body)
		}
		r = do(t, "POST", d.url+"/carts/c1/checkout", nil, nil)
		if r.status != 200 || string(r.body) != `{"number":1,"items":{"apple":3}}`+"\n" {
			t.Fatalf("checkout: %d %s", r.status, r.body)
		}
		v = getCart(t, d.url, "c1")
		if len(v.Items) != 0 || v.LastOrder == nil || v.LastOrder.Number != 1 || v.ExpiresAt != nil {
			t.Fatalf("cart after checkout: %+v", v)
		}
		// An empty cart does not check out.
		if r := do(t, "POST", d.url+"/carts/c1/checkout", nil, nil); r.status != 409 {
			t.Fatalf("empty checkout: %d %s", r.status, r.body)
		}
	})

	t.Run("ttl", func(t *testing.T) {
		first := addItem(t, d.url, "c2", "plum", 1)
		second := addItem(t, d.url, "c2", "plum", 1)
		if first.ExpiresAt == nil || second.ExpiresAt == nil || !second.ExpiresAt.After(*first.ExpiresAt) {
			t.Fatalf("a change pushes the alarm back: %v then %v", first.ExpiresAt, second.ExpiresAt)
		}
		// Another cart is untouched by c2's alarm.
		addItem(t, d.url, "c3", "apple", 1)
		eventually(t, objWait, "cart c2's alarm to empty it", func() bool {
			v := getCart(t, d.url, "c2")
			return len(v.Items) == 0 && v.ExpiresAt == nil
		})
		eventually(t, objWait, "cart c3's alarm to empty it", func() bool {
			return len(getCart(t, d.url, "c3").Items) == 0
		})
	})
}
