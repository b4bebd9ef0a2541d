// Package kv is the guest side of KV bindings: a function reads and writes
// the key-value namespaces its manifest binds (bindings: [{name: cache,
// kind: kv, resource: ...}]). Entries live in Strata's store.
//
//	var cache = kv.Open("cache")
//
//	func handle(w http.ResponseWriter, r *http.Request) {
//		v, ok, err := cache.Get(r.Context(), "greeting")
//		...
//		err = cache.Put(r.Context(), "greeting", []byte("hi"), kv.TTL(time.Hour))
//	}
//
// Keys are 1..512 bytes of UTF-8, values at most 1 MiB. Errors (binding not
// declared, a limit) carry the host's message. The package uses only the
// standard library and works only inside a Strata function (GOOS=wasip1).
package kv

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stratahq/strata/sdk/go/internal/hostcall"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Namespace is a KV binding. It is safe for concurrent use.
type Namespace struct {
	binding string
}

// Open returns the namespace bound under name in the function's manifest.
// Nothing is checked until the first call.
func Open(binding string) *Namespace { return &Namespace{binding: binding} }

// Entry is one key of a List page.
type Entry struct {
	Key       string
	Value     []byte
	ExpiresAt time.Time // zero: never
}

// PutOption sets an option of Put.
type PutOption func(*wire.KVRequest) error

// TTL makes the entry expire after d (rounded up to whole milliseconds).
func TTL(d time.Duration) PutOption {
	return func(r *wire.KVRequest) error {
		if d <= 0 {
			return fmt.Errorf("TTL %v is not positive", d)
		}
		r.TTLMS = int64((d + time.Millisecond - 1) / time.Millisecond)
		return nil
	}
}

// ListOption sets an option of List.
type ListOption func(*wire.KVRequest) error

// After starts the page after this key: pass the next value a previous
// List returned.
func After(cursor string) ListOption {
	return func(r *wire.KVRequest) error { r.After = cursor; return nil }
}

// Limit caps the page at n entries (default and most 1000).
func Limit(n int) ListOption {
	return func(r *wire.KVRequest) error {
		if n <= 0 {
			return fmt.Errorf("limit %d is not positive", n)
		}
		r.Limit = n
		return nil
	}
}

// Get returns the key's value and whether it exists (a missing or expired
// key is not an error).
func (ns *Namespace) Get(ctx context.Context, key string) ([]byte, bool, error) {
	resp, err := ns.call(ctx, wire.KVRequest{Op: wire.KVGet, Key: key})
	if err != nil {
		return nil, false, err
	}
	if resp.Found && resp.Value == nil {
		resp.Value = []byte{} // an empty value, not a missing one
	}
	return resp.Value, resp.Found, nil
}

// Put stores value under key, replacing any previous value.
func (ns *Namespace) Put(ctx context.Context, key string, value []byte, opts ...PutOption) error {
	req := wire.KVRequest{Op: wire.KVPut, Key: key, Value: value}
	for _, o := range opts {
		if err := o(&req); err != nil {
			return fmt.Errorf("kv %s: put %q: %w", ns.binding, key, err)
		}
	}
	_, err := ns.call(ctx, req)
	return err
}

// Delete removes key and reports whether a live key was removed.
func (ns *Namespace) Delete(ctx context.Context, key string) (bool, error) {
	resp, err := ns.call(ctx, wire.KVRequest{Op: wire.KVDelete, Key: key})
	if err != nil {
		return false, err
	}
	return resp.Found, nil
}

// List returns the keys starting with prefix, in key order, one page at a
// time; next is the cursor of the following page (pass it with After), ""
// after the last.
func (ns *Namespace) List(ctx context.Context, prefix string, opts ...ListOption) (entries []Entry, next string, err error) {
	req := wire.KVRequest{Op: wire.KVList, Prefix: prefix}
	for _, o := range opts {
		if err := o(&req); err != nil {
			return nil, "", fmt.Errorf("kv %s: list %q: %w", ns.binding, prefix, err)
		}
	}
	resp, err := ns.call(ctx, req)
	if err != nil {
		return nil, "", err
	}
	entries = make([]Entry, len(resp.Entries))
	for i, e := range resp.Entries {
		entries[i] = Entry{Key: e.Key, Value: e.Value}
		if entries[i].Value == nil {
			entries[i].Value = []byte{}
		}
		if e.ExpiresAtMS != 0 {
			entries[i].ExpiresAt = time.UnixMilli(e.ExpiresAtMS)
		}
	}
	return entries, resp.Next, nil
}

func (ns *Namespace) call(ctx context.Context, req wire.KVRequest) (*wire.KVResponse, error) {
	what := req.Op + " " + fmt.Sprintf("%q", req.Key)
	if req.Op == wire.KVList {
		what = fmt.Sprintf("list %q", req.Prefix)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("kv %s: %s: %w", ns.binding, what, err)
	}
	req.Binding = ns.binding
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("kv %s: %s: encode request: %w", ns.binding, what, err)
	}
	var resp wire.KVResponse
	err = hostcall.Call(hostcall.KV, body, func(answer []byte) error { return json.Unmarshal(answer, &resp) })
	if err != nil {
		return nil, fmt.Errorf("kv %s: %s: %w", ns.binding, what, err)
	}
	return &resp, nil
}
