// Command cart defines the Cart durable object: one object per cart id,
// which the manifest's routes forward to directly. Items are stored one
// key each ("item/<sku>" → quantity); checkout moves them into an order
// in one storage transaction, so a checkout that fails halfway leaves the
// cart exactly as it was. An alarm empties a cart nobody changed for
// CART_TTL seconds; every change pushes it back.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	// The SDK's root package exports the entry point every event,
	// object events included, comes in by; this function serves nothing
	// but its objects, so it registers no handler of its own.
	_ "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/objects"
)

func init() {
	objects.Register("Cart", func(st *objects.State) objects.Object { return &Cart{st: st} })
}

func main() {}

const itemPrefix = "item/"

// Cart is one shopping cart. It keeps nothing in memory: everything is in
// its storage, so it may be evicted between any two requests.
type Cart struct {
	st *objects.State
}

// view is a cart as the API returns it.
type view struct {
	Items     map[string]int `json:"items"`
	LastOrder *order         `json:"last_order,omitempty"`
	ExpiresAt *time.Time     `json:"expires_at,omitempty"`
}

type order struct {
	Number int            `json:"number"`
	Items  map[string]int `json:"items"`
}

// errStock is a checkout refused because the warehouse lacks an item.
var errStock = errors.New("out of stock")

func (c *Cart) Fetch(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// The route's full path reaches the object: /carts/{id}[/items[/{sku}]|/checkout].
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var err error
	switch {
	case r.Method == http.MethodGet && len(parts) == 2:
		// a read: falls through to the answer below
	case r.Method == http.MethodPost && len(parts) == 3 && parts[2] == "items":
		var in struct {
			SKU string `json:"sku"`
			Qty int    `json:"qty"`
		}
		if json.NewDecoder(r.Body).Decode(&in) != nil || in.SKU == "" || in.Qty <= 0 {
			http.Error(w, `want {"sku": "apple", "qty": 2}`, http.StatusBadRequest)
			return
		}
		err = c.add(ctx, in.SKU, in.Qty)
	case r.Method == http.MethodDelete && len(parts) == 4 && parts[2] == "items":
		err = c.remove(ctx, parts[3])
	case r.Method == http.MethodPost && len(parts) == 3 && parts[2] == "checkout":
		var o order
		o, err = c.checkout(ctx)
		if err == nil {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(o)
			return
		}
	default:
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	switch {
	case errors.Is(err, errStock):
		http.Error(w, err.Error(), http.StatusConflict)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	v, err := c.view(ctx)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// add puts qty more of sku in the cart. The read and the write are in one
// transaction so the quantity is never lost between them, and the alarm
// is pushed back after the change committed.
func (c *Cart) add(ctx context.Context, sku string, qty int) error {
	err := c.st.Storage.Transaction(ctx, func(tx *objects.Txn) error {
		v, _, err := tx.Get(ctx, itemPrefix+sku)
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(string(v))
		return tx.Put(ctx, itemPrefix+sku, []byte(strconv.Itoa(n+qty)))
	})
	if err != nil {
		return err
	}
	return c.touch(ctx)
}

// remove takes sku out of the cart.
func (c *Cart) remove(ctx context.Context, sku string) error {
	if _, err := c.st.Storage.Delete(ctx, itemPrefix+sku); err != nil {
		return err
	}
	return c.touch(ctx)
}

// checkout turns the cart's items into an order. Each item is removed
// from the cart and checked against the stock in turn, inside one
// transaction: an item out of stock fails the transaction after earlier
// items were already removed, and the rollback puts them all back.
func (c *Cart) checkout(ctx context.Context) (order, error) {
	stock := stockList()
	var o order
	err := c.st.Storage.Transaction(ctx, func(tx *objects.Txn) error {
		items, err := tx.List(ctx, objects.ListOptions{Prefix: itemPrefix})
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return fmt.Errorf("%w: the cart is empty", errStock)
		}
		o.Items = map[string]int{}
		for _, e := range items {
			sku := strings.TrimPrefix(e.Key, itemPrefix)
			qty, _ := strconv.Atoi(string(e.Value))
			if _, err := tx.Delete(ctx, e.Key); err != nil {
				return err
			}
			if qty > stock[sku] {
				return fmt.Errorf("%w: %d %s wanted, %d in stock", errStock, qty, sku, stock[sku])
			}
			o.Items[sku] = qty
		}
		v, _, err := tx.Get(ctx, "orders")
		if err != nil {
			return err
		}
		o.Number, _ = strconv.Atoi(string(v))
		o.Number++
		b, _ := json.Marshal(o)
		return tx.PutMany(ctx, map[string][]byte{"orders": []byte(strconv.Itoa(o.Number)), "last_order": b})
	})
	if err != nil {
		return order{}, err
	}
	// Nothing left to expire.
	return o, c.st.DeleteAlarm(ctx)
}

// touch sets the cart's alarm CART_TTL seconds from now, replacing the
// one an earlier change set.
func (c *Cart) touch(ctx context.Context) error {
	ttl, err := strconv.Atoi(os.Getenv("CART_TTL"))
	if err != nil || ttl <= 0 {
		ttl = 3600
	}
	return c.st.SetAlarm(ctx, time.Now().Add(time.Duration(ttl)*time.Second))
}

// Alarm empties an abandoned cart: its items go, its past orders stay.
func (c *Cart) Alarm(ctx context.Context, _ objects.AlarmInfo) error {
	items, err := c.st.Storage.List(ctx, objects.ListOptions{Prefix: itemPrefix})
	if err != nil {
		return err
	}
	keys := make([]string, len(items))
	for i, e := range items {
		keys[i] = e.Key
	}
	_, err = c.st.Storage.DeleteMany(ctx, keys)
	return err
}

// view reads the cart for an answer.
func (c *Cart) view(ctx context.Context) (view, error) {
	v := view{Items: map[string]int{}}
	items, err := c.st.Storage.List(ctx, objects.ListOptions{Prefix: itemPrefix})
	if err != nil {
		return v, err
	}
	for _, e := range items {
		v.Items[strings.TrimPrefix(e.Key, itemPrefix)], _ = strconv.Atoi(string(e.Value))
	}
	if b, ok, err := c.st.Storage.Get(ctx, "last_order"); err != nil {
		return v, err
	} else if ok {
		v.LastOrder = new(order)
		_ = json.Unmarshal(b, v.LastOrder)
	}
	if t, ok, err := c.st.Alarm(ctx); err != nil {
		return v, err
	} else if ok {
		v.ExpiresAt = &t
	}
	return v, nil
}

// stockList parses STOCK ("apple=10,pear=3").
func stockList() map[string]int {
	m := map[string]int{}
	for _, kv := range strings.Split(os.Getenv("STOCK"), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if n, err := strconv.Atoi(v); ok && err == nil {
			m[k] = n
		}
	}
	return m
}
