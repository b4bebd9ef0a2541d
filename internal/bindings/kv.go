package bindings

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/sdk/go/wire"
)

// KV limits.
const (
	MaxKVKey   = 512
	MaxKVValue = 1 << 20
	maxKVList  = 1000
)

// KV serves the KV host calls of a guest. A missing key is not an error
// (Found false).
func (b *Bindings) KV(ctx context.Context, req wire.KVRequest) (*wire.KVResponse, error) {
	c, err := callerFrom(ctx, "kv "+req.Binding)
	if err != nil {
		return nil, err
	}
	bd, err := c.binding(req.Binding, record.BindingKV)
	if err != nil {
		return nil, err
	}
	ns := bd.Resource
	checkKey := func() error {
		if req.Key == "" || len(req.Key) > MaxKVKey {
			return fmt.Errorf("kv %s: %s: key must be 1 to %d bytes, got %d: %w", req.Binding, req.Op, MaxKVKey, len(req.Key), ErrBadRequest)
		}
		return nil
	}
	switch req.Op {
	case wire.KVGet:
		if err := checkKey(); err != nil {
			return nil, err
		}
		e, err := b.cfg.Store.KVGet(ctx, ns, req.Key)
		if errors.Is(err, store.ErrNotFound) {
			return &wire.KVResponse{}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("kv %s: get %q: %w", req.Binding, req.Key, err)
		}
		return &wire.KVResponse{Found: true, Value: e.Value, ExpiresAtMS: unixMS(e.ExpiresAt)}, nil
	case wire.KVPut:
		if err := checkKey(); err != nil {
			return nil, err
		}
		if len(req.Value) > MaxKVValue {
			return nil, fmt.Errorf("kv %s: put %q: value is %d bytes, limit %d: %w", req.Binding, req.Key, len(req.Value), MaxKVValue, ErrLimit)
		}
		if req.TTLMS < 0 {
			return nil, fmt.Errorf("kv %s: put %q: negative ttl: %w", req.Binding, req.Key, ErrBadRequest)
		}
		if err := b.cfg.Store.KVPut(ctx, ns, req.Key, req.Value, time.Duration(req.TTLMS)*time.Millisecond); err != nil {
			return nil, fmt.Errorf("kv %s: put %q: %w", req.Binding, req.Key, err)
		}
		return &wire.KVResponse{}, nil
	case wire.KVDelete:
		if err := checkKey(); err != nil {
			return nil, err
		}
		found, err := b.cfg.Store.KVDelete(ctx, ns, req.Key)
		if err != nil {
			return nil, fmt.Errorf("kv %s: delete %q: %w", req.Binding, req.Key, err)
		}
		return &wire.KVResponse{Found: found}, nil
	case wire.KVList:
		limit := req.Limit
		if limit <= 0 || limit > maxKVList {
			limit = maxKVList
		}
		es, err := b.cfg.Store.KVList(ctx, store.KVListParams{Namespace: ns, Prefix: req.Prefix, After: req.After, Limit: limit})
		if err != nil {
			return nil, fmt.Errorf("kv %s: list %q: %w", req.Binding, req.Prefix, err)
		}
		resp := &wire.KVResponse{Entries: make([]wire.KVEntry, len(es))}
		for i, e := range es {
			resp.Entries[i] = wire.KVEntry{Key: e.Key, Value: e.Value, ExpiresAtMS: unixMS(e.ExpiresAt)}
		}
		if len(es) == limit {
			resp.Next = es[len(es)-1].Key
		}
		return resp, nil
	}
	return nil, fmt.Errorf("kv %s: unknown op %q: %w", req.Binding, req.Op, ErrBadRequest)
}

func unixMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
