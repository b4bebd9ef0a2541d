package objects

import (
	"context"
	"errors"
	"fmt"

	"github.com/stratahq/strata/sdk/go/wire"
)

// Limits of one storage key, checked before the host is called so a
// too-large write fails with the key's name and the limit.
var (
	// ErrKeyTooLong: a key is longer than wire.ObjectMaxKeyBytes.
	ErrKeyTooLong = errors.New("key too long")
	// ErrValueTooLarge: a value is larger than wire.ObjectMaxValueBytes.
	ErrValueTooLarge = errors.New("value too large")
	// ErrTxDone: the transaction was rolled back with Txn.Rollback, or
	// its function returned; it takes no more operations.
	ErrTxDone = errors.New("transaction already rolled back or finished")
)

// Storage is the object's own transactional key-value storage. Every
// operation acts on the object whose event is running; outside an object
// event the host refuses it. Values are bytes of at most 128 KiB
// (wire.ObjectMaxValueBytes), keys at most 2 KiB (wire.ObjectMaxKeyBytes).
//
// Each operation is atomic on its own; Transaction groups several.
type Storage struct {
	tx string // the explicit transaction (Txn), "" outside one
}

// Entry is one key and its value, as List returns them.
type Entry struct {
	Key   string
	Value []byte
}

// ListOptions selects the keys List returns: those starting with Prefix,
// from Start (inclusive) to End (exclusive), in key order (Reverse:
// descending), at most Limit of them (0: no limit). Empty fields do not
// constrain.
type ListOptions struct {
	Prefix  string
	Start   string
	End     string
	Limit   int
	Reverse bool
}

func checkKey(op, key string) error {
	if len(key) > wire.ObjectMaxKeyBytes {
		return fmt.Errorf("objects: %s: key %.40q... is %d bytes, more than %d: %w", op, key, len(key), wire.ObjectMaxKeyBytes, ErrKeyTooLong)
	}
	return nil
}

func checkKeys(op string, keys []string) error {
	for _, k := range keys {
		if err := checkKey(op, k); err != nil {
			return err
		}
	}
	return nil
}

func checkEntry(key string, value []byte) error {
	if err := checkKey("put", key); err != nil {
		return err
	}
	if len(value) > wire.ObjectMaxValueBytes {
		return fmt.Errorf("objects: put %q: value is %d bytes, more than %d (128 KiB; store large data in pieces under several keys): %w",
			key, len(value), wire.ObjectMaxValueBytes, ErrValueTooLarge)
	}
	return nil
}

// Get returns the value of key and whether it exists. An empty value is
// a non-nil empty slice.
func (s *Storage) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := checkKey("get", key); err != nil {
		return nil, false, err
	}
	resp, err := callf(ctx, &wire.ObjectRequest{Op: wire.ObjectOpGet, TxID: s.tx, Keys: []string{key}}, "get %q", key)
	if err != nil {
		return nil, false, err
	}
	for _, e := range resp.Entries {
		if e.Key == key {
			return nonNil(e.Value), true, nil
		}
	}
	return nil, false, nil
}

// GetMany returns the values of the keys that exist, in one host call.
func (s *Storage) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	if err := checkKeys("get", keys); err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	resp, err := callf(ctx, &wire.ObjectRequest{Op: wire.ObjectOpGet, TxID: s.tx, Keys: keys}, "get %d keys", len(keys))
	if err != nil {
		return nil, err
	}
	for _, e := range resp.Entries {
		out[e.Key] = nonNil(e.Value)
	}
	return out, nil
}

// Put stores value under key, replacing any previous value.
func (s *Storage) Put(ctx context.Context, key string, value []byte) error {
	if err := checkEntry(key, value); err != nil {
		return err
	}
	_, err := callf(ctx, &wire.ObjectRequest{Op: wire.ObjectOpPut, TxID: s.tx,
		Entries: []wire.ObjectEntry{{Key: key, Value: value}}}, "put %q", key)
	return err
}

// PutMany stores every entry of m in one host call, atomically.
func (s *Storage) PutMany(ctx context.Context, m map[string][]byte) error {
	if len(m) == 0 {
		return nil
	}
	entries := make([]wire.ObjectEntry, 0, len(m))
	for k, v := range m {
		if err := checkEntry(k, v); err != nil {
			return err
		}
		entries = append(entries, wire.ObjectEntry{Key: k, Value: v})
	}
	_, err := callf(ctx, &wire.ObjectRequest{Op: wire.ObjectOpPut, TxID: s.tx, Entries: entries}, "put %d keys", len(m))
	return err
}

// Delete removes key and reports whether it existed.
func (s *Storage) Delete(ctx context.Context, key string) (bool, error) {
	n, err := s.deleteKeys(ctx, fmt.Sprintf("delete %q", key), []string{key})
	return n > 0, err
}

// DeleteMany removes keys in one host call and returns how many existed.
func (s *Storage) DeleteMany(ctx context.Context, keys []string) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	return s.deleteKeys(ctx, fmt.Sprintf("delete %d keys", len(keys)), keys)
}

func (s *Storage) deleteKeys(ctx context.Context, what string, keys []string) (int, error) {
	if err := checkKeys("delete", keys); err != nil {
		return 0, err
	}
	resp, err := call(ctx, what, &wire.ObjectRequest{Op: wire.ObjectOpDelete, TxID: s.tx, Keys: keys})
	if err != nil {
		return 0, err
	}
	return resp.Count, nil
}

// List returns the entries opts selects, in key order.
func (s *Storage) List(ctx context.Context, opts ListOptions) ([]Entry, error) {
	if opts.Limit < 0 {
		return nil, fmt.Errorf("objects: list: limit %d is negative", opts.Limit)
	}
	if err := checkKeys("list", []string{opts.Prefix, opts.Start, opts.End}); err != nil {
		return nil, err
	}
	resp, err := callf(ctx, &wire.ObjectRequest{Op: wire.ObjectOpList, TxID: s.tx,
		Prefix: opts.Prefix, Start: opts.Start, End: opts.End, Limit: opts.Limit, Reverse: opts.Reverse}, "list %q", opts.Prefix)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, len(resp.Entries))
	for i, e := range resp.Entries {
		out[i] = Entry{Key: e.Key, Value: nonNil(e.Value)}
	}
	return out, nil
}

// DeleteAll removes every key of the object (its alarm stays).
func (s *Storage) DeleteAll(ctx context.Context) error {
	_, err := call(ctx, "delete all", &wire.ObjectRequest{Op: wire.ObjectOpDeleteAll})
	return err
}

// Transaction runs fn in one storage transaction: fn's reads and writes
// through tx see each other and commit together when fn returns nil. When
// fn returns an error or panics, or called tx.Rollback, nothing it wrote
// is kept; the error (or the panic) is passed on. fn should do nothing
// but storage work through tx: other host calls are not part of the
// transaction, and writes through the Storage itself are not either.
func (s *Storage) Transaction(ctx context.Context, fn func(tx *Txn) error) (err error) {
	if s.tx != "" {
		return errors.New("objects: transaction: transactions do not nest")
	}
	resp, err := call(ctx, "begin transaction", &wire.ObjectRequest{Op: wire.ObjectOpTxBegin})
	if err != nil {
		return err
	}
	if resp.TxID == "" {
		return errors.New("objects: begin transaction: the host returned no transaction id")
	}
	tx := &Txn{s: Storage{tx: resp.TxID}}
	committed := false
	defer func() {
		// Runs on error, on Rollback and on a panic (which goes on after).
		if committed {
			return
		}
		tx.done = true
		_, rerr := call(context.WithoutCancel(ctx), "roll back transaction", &wire.ObjectRequest{Op: wire.ObjectOpTxRollback, TxID: resp.TxID})
		if err == nil && rerr != nil {
			err = rerr
		}
	}()
	if err := fn(tx); err != nil || tx.rolledBack {
		return err
	}
	tx.done = true
	committed = true // a failed commit is the host's to undo
	_, err = call(ctx, "commit transaction", &wire.ObjectRequest{Op: wire.ObjectOpTxCommit, TxID: resp.TxID})
	return err
}

// Txn is a storage transaction in progress (Storage.Transaction). It is
// valid only while the transaction's function runs.
type Txn struct {
	s          Storage
	rolledBack bool
	done       bool
}

func (t *Txn) check() error {
	if t.done || t.rolledBack {
		return fmt.Errorf("objects: %w", ErrTxDone)
	}
	return nil
}

// Get is Storage.Get inside the transaction.
func (t *Txn) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := t.check(); err != nil {
		return nil, false, err
	}
	return t.s.Get(ctx, key)
}

// GetMany is Storage.GetMany inside the transaction.
func (t *Txn) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	return t.s.GetMany(ctx, keys)
}

// Put is Storage.Put inside the transaction.
func (t *Txn) Put(ctx context.Context, key string, value []byte) error {
	if err := t.check(); err != nil {
		return err
	}
	return t.s.Put(ctx, key, value)
}

// PutMany is Storage.PutMany inside the transaction.
func (t *Txn) PutMany(ctx context.Context, m map[string][]byte) error {
	if err := t.check(); err != nil {
		return err
	}
	return t.s.PutMany(ctx, m)
}

// Delete is Storage.Delete inside the transaction.
func (t *Txn) Delete(ctx context.Context, key string) (bool, error) {
	if err := t.check(); err != nil {
		return false, err
	}
	return t.s.Delete(ctx, key)
}

// DeleteMany is Storage.DeleteMany inside the transaction.
func (t *Txn) DeleteMany(ctx context.Context, keys []string) (int, error) {
	if err := t.check(); err != nil {
		return 0, err
	}
	return t.s.DeleteMany(ctx, keys)
}

// List is Storage.List inside the transaction.
func (t *Txn) List(ctx context.Context, opts ListOptions) ([]Entry, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	return t.s.List(ctx, opts)
}

// Rollback discards every write of the transaction when its function
// returns, even if it returns nil; later operations through t fail with
// ErrTxDone.
func (t *Txn) Rollback() { t.rolledBack = true }

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
